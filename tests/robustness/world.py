"""The files the robustness corpus runs against, built once per test session with the library.

A store with one run, a saved identity model trained on a 16-bit image folder (with its
normalization.json), a translate output folder with its manifest, a crop table, a miniature raw
BBBC021 release and a cache prepared from it, and a store whose root attribute heap is damaged.
Cases copy what they change into their own folder; the world itself must never change.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

TINY_RUN = "dataset_config: {image_size: 32, train_per_condition: 2, test_per_condition: 2}\nmetrics: [counterfactual]\n"


def build_world(root: Path) -> Path:
    """Build every shared input under `root` (conversion caches beside it); returns `root`."""
    root.mkdir(parents=True, exist_ok=True)
    before = os.environ.get("PHENBENCH_CACHE_DIR")
    os.environ["PHENBENCH_CACHE_DIR"] = str(root.parent / "cache")
    try:
        _build(root)
    finally:
        if before is None:
            os.environ.pop("PHENBENCH_CACHE_DIR")
        else:
            os.environ["PHENBENCH_CACHE_DIR"] = before
    return root


def _build(root: Path) -> None:
    from phenbench.apply.runner import TranslateOptions, translate_folder
    from phenbench.core.run_config import RunConfig
    from phenbench.core.runner import run_benchmark
    from phenbench.datasets.bbbc021.prepare import PrepareOptions, prepare_bbbc021
    from tests.datasets.bbbc021.mini_release import make_release

    (root / "tiny.yaml").write_text(TINY_RUN)
    run_benchmark(RunConfig(dataset_config={"image_size": 32, "train_per_condition": 2, "test_per_condition": 2},
                            metrics=("counterfactual",), store=str(root / "store.h5"),
                            work_dir=str(root.parent / "world-runs"), progress=False))
    write_pngs(root / "images16", ("DMSO", "drug"), np.uint16)
    write_pngs(root / "images8", ("DMSO",), np.uint8)
    write_pngs(root / "rgb", ("DMSO",), np.uint8, channels=3)
    trained = run_benchmark(RunConfig(dataset="imagefolder", data=str(root / "images16"), metrics=(),
                                      store=str(root.parent / "world-models.h5"),
                                      work_dir=str(root.parent / "world-runs"), progress=False))
    shutil.copytree(trained.model_dir / "model", root / "model")
    translate_folder(TranslateOptions(checkpoint=root / "model", images=root / "images16" / "DMSO",
                                      out=root / "translated", source="DMSO", targets=("drug",), progress=False))
    write_crop_table(root / "crops")
    make_release(root / "raw")
    prepare_bbbc021(PrepareOptions(root=str(root / "raw"), out=str(root / "prepared.h5"), crop_size=48,
                                   work_dir=str(root.parent / "world-prepare")), progress=False)
    damage_root_attributes(root / "store.h5", root / "damaged.h5")
    (root / "notes.h5").write_text("a user's notes, not a results store\n")


def write_pngs(root: Path, classes: tuple[str, ...], dtype, count: int = 6, channels: int = 1) -> None:
    """Grey (or RGB) PNGs, 16 x 16, one folder per class."""
    rng = np.random.default_rng(len(classes))
    top = 250 if dtype == np.uint8 else 60000
    for name in classes:
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            shape = (16, 16) if channels == 1 else (16, 16, channels)
            Image.fromarray(rng.integers(10, top, shape).astype(dtype)).save(root / name / f"{i}.png")


def write_crop_table(root: Path, conditions=("DMSO", "taxol@1"), per_file: int = 8, dtype=np.uint16) -> Path:
    """A crop table: one npz per condition (N x 12 x 12 x 3), wells and fields enough to split."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in conditions:
        compound, _, dose = name.partition("@")
        file = f"{compound}{dose}.npz"
        np.savez(root / file, crops=rng.integers(0, 4000, (per_file, 12, 12, 3)).astype(dtype))
        rows += [{"file": file, "row_in_file": i, "plate": "P1", "well": f"{compound[0]}{i % 2}",
                  "compound": compound, "concentration": float(dose or 0), "TableNumber": 1, "ImageNumber": i % 4}
                 for i in range(per_file)]
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    return root


def damage_root_attributes(store: Path, damaged: Path) -> None:
    """A copy of `store` whose root attribute heap is overwritten: the file opens, its attributes do not read."""
    import h5py

    data = bytearray(store.read_bytes())
    at = data.find(b"phenbench-results")
    data[at - 16 : at] = b"\xff" * 16
    damaged.write_bytes(bytes(data))
    try:
        with h5py.File(damaged, "r") as f:
            dict(f.attrs)
    except OSError:
        return
    raise AssertionError("the damage did not reach the root attributes: the case would test nothing")
