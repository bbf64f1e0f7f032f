"""A translation job slow enough to be killed mid-way: an identity translator that sleeps per batch.

Run as `python -m tests.apply.slow_translate CHECKPOINT IMAGES OUT` (the resume test kills it).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from phenbench.core.registry import Registration
from phenbench.hookspecs import hookimpl
from phenbench.translators.identity.translator import IdentityTranslator

SECONDS_PER_BATCH = 0.3


class SlowIdentity(IdentityTranslator):
    name = "slow-identity"

    def translate(self, images, source, target):
        time.sleep(SECONDS_PER_BATCH)
        return super().translate(images, source, target)


class SlowPlugin:
    @hookimpl
    def register_translators(self) -> list[Registration]:
        return [Registration("slow-identity", "tests.apply.slow_translate:SlowIdentity", "sleeps, for tests")]


def registries():
    from phenbench.core.plugins import load_registries

    return load_registries(entry_points=False, extra=(SlowPlugin(),))


def job(checkpoint: Path, images: Path, out: Path):
    from phenbench.apply.runner import TranslateOptions

    return TranslateOptions(checkpoint=checkpoint, images=images, out=out, source="DMSO",
                            targets=("drug@1",), batch_size=1, progress=False)


if __name__ == "__main__":
    from phenbench.apply.runner import translate_folder

    translate_folder(job(*map(Path, sys.argv[1:4])), registries=registries())
