"""PhenDiff against the shared translator contract, on a tiny model (seconds on a CPU)."""

from __future__ import annotations

from phenbench.translators.phendiff.config import PhenDiffConfig
from phenbench.translators.phendiff.translator import PhenDiffTranslator
from tests.translators.contract import TranslatorContract


def tiny_config(steps: int, **changes) -> PhenDiffConfig:
    """Channels (8, 16), 4 sampling steps. Warm-up longer than the run: the LR schedule of a
    shortened run is then the same as the full run's, as with a real kill (see the resume test)."""
    settings = dict(
        block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=4, num_train_timesteps=100,
        learning_rate=1e-3, lr_warmup_steps=10, steps=steps, batch_size=4,
        inversion_steps=4, inference_steps=4, translate_batch_size=8,
    )
    settings.update(changes)
    return PhenDiffConfig(**settings)


class TestPhenDiffContract(TranslatorContract):
    translator_class = PhenDiffTranslator
    supports_resume = True

    def tiny_config(self, steps: int) -> PhenDiffConfig:
        return tiny_config(steps)


class TestPhenDiffEdictContract(TestPhenDiffContract):
    def tiny_config(self, steps: int) -> PhenDiffConfig:
        return tiny_config(steps, sampler="edict")
