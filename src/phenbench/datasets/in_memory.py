"""A PreparedDataset over tensors already in memory: for tests, notebooks and small user sets."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import torch

from phenbench.core.dataset import DataSpec, PreparedDataset
from phenbench.core.errors import DataError


class InMemoryDataset(PreparedDataset):
    """Splits of images (N x C x H x W in [-1, 1]) with condition indices, held in memory."""

    name = "in-memory"

    def __init__(self, spec: DataSpec, images: dict[str, torch.Tensor], labels: dict[str, Sequence[int]]):
        if set(images) != set(labels):
            raise DataError(f"images and labels name different splits: {sorted(images)} vs {sorted(labels)}")
        self._spec = spec
        self._images = {k: v.float().contiguous() for k, v in images.items()}
        self._labels = {k: np.asarray(v, dtype=np.int64) for k, v in labels.items()}
        for split, tensor in self._images.items():
            if len(tensor) != len(self._labels[split]):
                raise DataError(f"split '{split}' has {len(tensor)} images but {len(self._labels[split])} labels")

    @property
    def spec(self) -> DataSpec:
        return self._spec

    def splits(self) -> list[str]:
        return list(self._images)

    def labels(self, split: str) -> np.ndarray:
        return self._labels[self._check_split(split)]

    def read(self, split: str, rows) -> torch.Tensor:
        return self._images[self._check_split(split)][torch.as_tensor(np.asarray(rows), dtype=torch.long)]

    def content_hash(self) -> str:
        digest = hashlib.sha256()
        for split in sorted(self._images):
            digest.update(split.encode())
            digest.update(self._images[split].numpy().tobytes())
            digest.update(self._labels[split].tobytes())
        return digest.hexdigest()[:16]


def random_dataset(
    channels: int = 3,
    image_size: int = 8,
    conditions: Sequence[str] = ("DMSO", "drug@1", "drug@10"),
    per_condition: int = 4,
    seed: int = 0,
) -> InMemoryDataset:
    """A tiny dataset whose conditions differ in mean brightness: enough for contract tests."""
    from phenbench.core.conditions import ConditionSet

    generator = torch.Generator().manual_seed(seed)
    spec = DataSpec(
        channels=tuple(f"ch{i}" for i in range(channels)),
        image_size=image_size,
        conditions=ConditionSet(list(conditions)),
    )
    images, labels = {}, {}
    for split in ("train", "test"):
        parts, split_labels = [], []
        for index in range(len(conditions)):
            base = -0.6 + 1.2 * index / max(1, len(conditions) - 1)
            noise = 0.2 * torch.randn(per_condition, channels, image_size, image_size, generator=generator)
            parts.append((base + noise).clamp(-1, 1))
            split_labels += [index] * per_condition
        images[split] = torch.cat(parts)
        labels[split] = split_labels
    return InMemoryDataset(spec, images, labels)
