"""Real BBBC021 single-cell crops for acceptance tests, read directly with numpy.

`../shared/data/bbbc021/crops`: uint16 68 x 68 x 3 crops in `<plate>_<well>.npz` with a
manifest. Each channel is mapped to [-1, 1] by its 0.5 and 99.5 percentiles over all crops of the
plate used (one fixed normalisation for every condition, so intensity differences between
conditions survive).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

CROPS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "bbbc021" / "crops"
PLATE = "Week4_27801"
CONDITIONS = {"DMSO": 0.0, "cyclohexamide@5": 5.0, "cyclohexamide@15": 15.0, "cyclohexamide@50": 50.0}


def crops_available() -> bool:
    return (CROPS / "manifest.csv").is_file()


needs_crops = pytest.mark.skipif(not crops_available(), reason=f"BBBC021 crops not found at {CROPS}")


def _raw(condition: str) -> np.ndarray:
    import pandas as pd

    manifest = pd.read_csv(CROPS / "manifest.csv")
    concentration = CONDITIONS[condition]
    rows = manifest[(manifest.plate == PLATE) & (manifest.concentration == concentration)]
    [file] = rows.file.unique()
    with np.load(CROPS / file) as stored:
        return stored["crops"][rows.row_in_file.to_numpy()]


def load_crops(per_condition: int | None = None, seed: int = 0) -> dict[str, torch.Tensor]:
    """condition -> N x 3 x 68 x 68 float32 in [-1, 1] (a seeded random subset when capped)."""
    raw = {c: _raw(c) for c in CONDITIONS}
    stacked = np.concatenate(list(raw.values())).astype(np.float64)
    low, high = np.percentile(stacked, [0.5, 99.5], axis=(0, 1, 2))
    rng = np.random.default_rng(seed)
    out = {}
    for condition, crops in raw.items():
        if per_condition is not None and len(crops) > per_condition:
            crops = crops[np.sort(rng.choice(len(crops), per_condition, replace=False))]
        unit = np.clip((crops.astype(np.float64) - low) / (high - low), 0.0, 1.0)
        out[condition] = torch.from_numpy(unit * 2 - 1).float().permute(0, 3, 1, 2).contiguous()
    return out


def load_split(per_condition: int, seed: int = 0) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Disjoint (train, test) sets of `per_condition` crops each, drawn from the same wells."""
    everything = load_crops(None)
    rng = np.random.default_rng(seed)
    train, test = {}, {}
    for condition, images in everything.items():
        order = torch.from_numpy(rng.permutation(len(images)))
        train[condition] = images[order[:per_condition]]
        test[condition] = images[order[per_condition : 2 * per_condition]]
    return train, test


def raw_channel_means(channel: int) -> dict[str, float]:
    """Mean raw intensity of one channel per condition (all crops), as the data README states them."""
    return {c: float(_raw(c)[..., channel].mean()) for c in CONDITIONS}
