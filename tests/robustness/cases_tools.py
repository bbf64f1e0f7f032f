"""Corpus cases for the other commands: translate, explain, data prepare/download, compare, show,
report and merge."""

from __future__ import annotations

import csv
from pathlib import Path

from tests.robustness.case import Case, copy, folder, write

TRANSLATE = ("translate", "-q", "--checkpoint", "{w}/model", "--source", "DMSO")
PREPARE = ("data", "prepare", "bbbc021", "--root", "{w}/raw", "-q", "--crop-size", "48")


def manifest_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def translated(count: int):
    def check(case: Path, world: Path) -> None:
        rows = manifest_rows(case / "out" / "manifest.csv")
        assert len(rows) == count and all((case / "out" / r["output"]).is_file() for r in rows)

    return check


def kept_earlier_rows(case: Path, world: Path) -> None:
    before = manifest_rows(world / "translated" / "manifest.csv")
    after = manifest_rows(case / "translated" / "manifest.csv")
    assert after[: len(before)] == before  # the earlier target's rows, unchanged and first
    assert sorted(r["target"] for r in after) == ["DMSO"] * 6 + ["drug"] * 6


def prepared(case: Path, world: Path) -> None:
    import h5py

    with h5py.File(case / "new.h5", "r") as f:
        assert f.attrs["format"] == "phenbench-crops-2" and f["images"].shape[0] > 0


def merged(case: Path, world: Path) -> None:
    from phenbench.core.store import ResultsStore

    assert ResultsStore(case / "merged.h5").run_ids() == ResultsStore(world / "store.h5").run_ids()


def _images_inside(name: str):
    def setup(case: Path, world: Path) -> None:
        import shutil

        shutil.copytree(world / "images16" / "DMSO", case / name)

    return setup


def _truncated_stargan(case: Path, world: Path) -> None:
    from tests.apply.helpers import save_stargan

    save_stargan(case / "stargan", steps=1)
    weights = case / "stargan" / "stargan-generator.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])


TRANSLATE_CASES = [
    Case("translate-good", TRANSLATE + ("--images", "{w}/images16/DMSO", "--target", "drug", "--out", "out"), exit=0,
         check=translated(6)),
    Case("translate-second-target-keeps-rows", TRANSLATE + ("--images", "{w}/images16/DMSO", "--target", "DMSO",
         "--out", "translated"), exit=0, setup=(copy("translated"),), may_change=("translated/manifest.csv",),
         check=kept_earlier_rows),
    Case("translate-8-bit-into-16-bit-model", TRANSLATE + ("--images", "{w}/images8/DMSO", "--target", "drug",
         "--out", "out"), says=("0.png", "uint8", "--normalization")),
    Case("translate-8-bit-said-explicitly", TRANSLATE + ("--images", "{w}/images8/DMSO", "--target", "drug",
         "--out", "out", "--normalization", "dtype"), exit=0, check=translated(6)),
    Case("translate-out-is-images", TRANSLATE + ("--images", "cells", "--target", "drug", "--out", "cells"),
         says=("cells", "overlap"), setup=(_images_inside("cells"),)),
    Case("translate-out-inside-images", TRANSLATE + ("--images", "cells", "--target", "drug", "--out", "cells/out"),
         says=("cells/out", "overlap"), setup=(_images_inside("cells"),)),
    Case("translate-images-inside-out", TRANSLATE + ("--images", "all/cells", "--target", "drug", "--out", "all"),
         says=("all/cells", "overlap"), setup=(_images_inside("all/cells"),)),
    Case("translate-truncated-json", ("translate", "-q", "--checkpoint", "model", "--images", "{w}/images16/DMSO",
         "--target", "drug", "--out", "out"), says=("translator.json",),
         setup=(copy("model"), write("model/translator.json", '{"translator": "identity", "con'))),
    Case("translate-json-without-keys", ("translate", "-q", "--checkpoint", "model", "--images", "{w}/images16/DMSO",
         "--target", "drug", "--out", "out"), says=("translator.json", "spec"),
         setup=(copy("model"), write("model/translator.json", '{"translator": "identity", "config": {}}'))),
    Case("translate-truncated-weights", ("translate", "-q", "--checkpoint", "stargan", "--images", "{w}/images16/DMSO",
         "--target", "drug@1", "--out", "out"), says=("stargan", "weights", "SafetensorError"),
         setup=(_truncated_stargan,)),
    Case("translate-checkpoint-missing", ("translate", "-q", "--checkpoint", "nope", "--images", "{w}/images16/DMSO",
         "--target", "drug", "--out", "out"), says=("nope",)),
    Case("translate-unknown-target", TRANSLATE + ("--images", "{w}/images16/DMSO", "--target", "drgu", "--out", "out"),
         says=("drgu", "drug")),
    Case("translate-out-is-a-file", TRANSLATE + ("--images", "{w}/images16/DMSO", "--target", "drug", "--out",
         "out.txt"), says=("out.txt",), setup=(write("out.txt", "mine"),)),
    Case("translate-batch-size-zero", TRANSLATE + ("--images", "{w}/images16/DMSO", "--target", "drug", "--out", "out",
         "--batch-size", "0"), says=("--batch-size",)),
    Case("translate-corrupt-image", TRANSLATE + ("--images", "cells", "--target", "drug", "--out", "out"),
         says=("9.png",), setup=(_images_inside("cells"), write("cells/9.png", b"\x89PNG broken"))),
    Case("translate-wrong-channels", TRANSLATE + ("--images", "{w}/rgb/DMSO", "--target", "drug", "--out", "out"),
         says=("0.png", "channel")),
    Case("translate-another-job-in-out", TRANSLATE + ("--images", "{w}/images16/DMSO", "--target", "drug", "--out",
         "translated", "--seed", "5"), says=("translated", "seed"), setup=(copy("translated"),)),
    Case("translate-bad-normalization-file", TRANSLATE + ("--images", "{w}/images16/DMSO", "--target", "drug",
         "--out", "out", "--normalization", "norm.json"), says=("norm.json",), setup=(write("norm.json", "{"),)),
    Case("translate-damaged-manifest-in-out", TRANSLATE + ("--images", "{w}/images16/DMSO", "--target", "DMSO",
         "--out", "translated"), says=("manifest.csv",),
         setup=(copy("translated"), write("translated/manifest.csv", b"\xff\xfe\x00\x01 not a csv"))),
    Case("translate-damaged-job-file", TRANSLATE + ("--images", "{w}/images16/DMSO", "--target", "DMSO",
         "--out", "translated"), says=(".phenbench-job.json", "--out"),
         setup=(copy("translated"), write("translated/.phenbench-job.json", '{"checkpoint": '))),
    Case("translate-images-missing", TRANSLATE + ("--images", "nowhere", "--target", "drug", "--out", "out"),
         says=("nowhere",)),
    Case("explain-truncated-json", ("explain", "--checkpoint", "model", "--out", "walks"), says=("translator.json",),
         setup=(copy("model"), write("model/translator.json", "{"))),
    Case("explain-identity-model", ("explain", "--checkpoint", "{w}/model", "--out", "walks"), says=("identity", "phenex")),
]

DATA_TOOL_CASES = [
    Case("prepare-good", PREPARE + ("--out", "new.h5"), exit=0, check=prepared),
    Case("prepare-crop-size-zero", PREPARE + ("--out", "new.h5", "--crop-size", "0"), says=("--crop-size", "0")),
    Case("prepare-crop-size-negative", PREPARE + ("--out", "new.h5", "--crop-size", "-5"), says=("--crop-size", "-5")),
    Case("prepare-out-is-a-folder", PREPARE + ("--out", "sub"), says=("sub", "folder"), setup=(folder("sub"),)),
    Case("prepare-out-is-a-store", PREPARE + ("--out", "store.h5"), says=("store.h5", "--overwrite"),
         setup=(copy("store.h5"),)),
    Case("prepare-out-is-a-text-file", PREPARE + ("--out", "notes.h5"), says=("notes.h5", "--overwrite"),
         setup=(copy("notes.h5"),)),
    Case("prepare-out-is-a-prepared-cache", PREPARE + ("--out", "prepared.h5"), exit=0, setup=(copy("prepared.h5"),),
         may_change=("prepared.h5",)),
    Case("prepare-overwrite-said-explicitly", PREPARE + ("--out", "notes.h5", "--overwrite"), exit=0,
         setup=(copy("notes.h5"),), may_change=("notes.h5",)),
    Case("prepare-root-missing", ("data", "prepare", "bbbc021", "--root", "nowhere", "--out", "new.h5", "-q"),
         says=("nowhere",)),
    Case("download-dest-is-a-file", ("data", "download", "bbbc021", "--dest", "notes.h5", "--plates", "Week1_22123"),
         says=("notes.h5", "--dest"), setup=(copy("notes.h5"),)),
    Case("download-unknown-plate", ("data", "download", "bbbc021", "--dest", "bbbc", "--plates", "Week1_2212"),
         says=("Week1_2212",)),
    Case("download-list", ("data", "download", "bbbc021", "--list", "--plates", "Week1_22123"), exit=0),
]

STORE_TOOL_CASES = [
    Case("compare-good", ("compare", "--store", "{w}/store.h5"), exit=0),
    Case("compare-damaged-heap", ("compare", "--store", "{w}/damaged.h5"), says=("damaged.h5",)),
    Case("compare-missing", ("compare", "--store", "absent.h5"), says=("absent.h5",)),
    Case("compare-text-file", ("compare", "--store", "{w}/notes.h5"), says=("notes.h5",)),
    Case("compare-folder", ("compare", "--store", "{w}"), says=("folder",)),
    Case("show-unknown-run", ("show", "nope", "--store", "{w}/store.h5"), says=("nope",)),
    Case("show-damaged-heap", ("show", "x", "--store", "{w}/damaged.h5"), says=("damaged.h5",)),
    Case("report-good", ("report", "--store", "{w}/store.h5", "--out", "report"), exit=0),
    Case("report-out-in-proc", ("report", "--store", "{w}/store.h5", "--out", "/proc/1/phenbench"),
         says=("/proc/1/phenbench",)),
    Case("report-out-is-a-file", ("report", "--store", "{w}/store.h5", "--out", "notes.h5"), says=("notes.h5",),
         setup=(copy("notes.h5"),)),
    Case("report-damaged-heap", ("report", "--store", "{w}/damaged.h5", "--out", "report"), says=("damaged.h5",)),
    Case("merge-good", ("merge", "{w}/store.h5", "--store", "merged.h5"), exit=0, check=merged),
    Case("merge-into-a-text-file", ("merge", "{w}/store.h5", "--store", "notes.h5"), says=("notes.h5",),
         setup=(copy("notes.h5"),)),
    Case("merge-from-a-text-file", ("merge", "{w}/notes.h5", "--store", "merged.h5"), says=("notes.h5",)),
    Case("merge-into-itself", ("merge", "store.h5", "--store", "store.h5"), says=("store.h5", "itself"),
         setup=(copy("store.h5"),)),
]

CASES = TRANSLATE_CASES + DATA_TOOL_CASES + STORE_TOOL_CASES
