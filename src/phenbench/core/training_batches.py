"""Reading and flipping a training batch, as the translators trained from seeded steps do it."""

from __future__ import annotations

import numpy as np
import torch

from phenbench.core.dataset import PreparedDataset


def read_in_row_order(dataset: PreparedDataset, split: str, rows: np.ndarray) -> torch.Tensor:
    """The images of `rows`, in the order given, read in increasing row order (kinder to on-disk caches)."""
    order = np.argsort(rows, kind="stable")
    return dataset.read(split, rows[order])[torch.as_tensor(np.argsort(order))]


def random_flips(images: torch.Tensor, probability: float, generator: torch.Generator,
                 vertical: bool = True) -> torch.Tensor:
    """Flip each image horizontally and (when `vertical`) vertically, each with `probability` (no
    draw when it is 0)."""
    if probability == 0:
        return images
    flip_h, flip_v = torch.rand(2, len(images), generator=generator) < probability
    images = torch.where(flip_h[:, None, None, None], images.flip(-1), images)
    return torch.where(flip_v[:, None, None, None], images.flip(-2), images) if vertical else images
