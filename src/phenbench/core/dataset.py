"""The prepared-dataset interface: everything downstream of an adapter sees only this.

A prepared dataset holds images as float tensors N x C x H x W in [-1, 1] (any channel count),
each row with a condition, grouped into named splits ("train", "test"). Rows are addressed by
their position within a split. Reading is by rows, so an adapter can stream from a cache on disk
with bounded memory instead of holding the whole set.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from phenbench.core.conditions import ConditionSet
from phenbench.core.errors import DataError, PhenbenchError


@dataclass(frozen=True)
class DataSpec:
    """What a translator must know about its data to build a model for it."""

    channels: tuple[str, ...]
    image_size: int
    conditions: ConditionSet
    # Conditions held out of training (their compounds are evaluated as unseen): a model with one
    # learned embedding per condition has nothing trained for them, and says so when asked.
    unseen: tuple[str, ...] = ()

    @property
    def num_channels(self) -> int:
        return len(self.channels)

    def to_dict(self) -> dict[str, Any]:
        data = {
            "channels": list(self.channels),
            "image_size": self.image_size,
            "conditions": self.conditions.to_dict(),
        }
        if self.unseen:  # absent otherwise: models saved before held-out splits read the same
            data["unseen"] = list(self.unseen)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DataSpec":
        return cls(
            channels=tuple(data["channels"]),
            image_size=int(data["image_size"]),
            conditions=ConditionSet.from_dict(data["conditions"]),
            unseen=tuple(data.get("unseen", ())),
        )


class PreparedDataset(ABC):
    """A dataset ready for translators and metrics.

    Subclasses registered as dataset plugins take their config dataclass (`config_class`) as the
    only constructor argument; a config field named `root` receives the CLI's `--data PATH`.
    """

    name: ClassVar[str] = ""
    config_class: ClassVar[type] = type(None)

    @property
    @abstractmethod
    def spec(self) -> DataSpec:
        """Channel names, image size and conditions."""

    @abstractmethod
    def splits(self) -> list[str]:
        """The split names, usually ["train", "test"]."""

    @abstractmethod
    def labels(self, split: str) -> np.ndarray:
        """The condition index of every row of `split` (an int64 array)."""

    @abstractmethod
    def read(self, split: str, rows: Sequence[int] | np.ndarray) -> torch.Tensor:
        """Images of the given rows of `split`, float32 N x C x H x W in [-1, 1]."""

    @abstractmethod
    def content_hash(self) -> str:
        """A hash of the prepared content (images, labels, splits): recorded with every run."""

    # --- provided on top of the abstract methods -------------------------------------------

    @property
    def conditions(self) -> ConditionSet:
        return self.spec.conditions

    def rows(self, split: str, condition: str | int | None = None) -> np.ndarray:
        """Row positions of `split`, optionally only those of one condition."""
        labels = self.labels(self._check_split(split))
        if condition is None:
            return np.arange(len(labels))
        index = condition if isinstance(condition, int) else self.conditions.index(condition)
        return np.flatnonzero(labels == index)

    def counts(self, split: str) -> dict[str, int]:
        """Number of rows per condition name in `split`."""
        labels = self.labels(self._check_split(split))
        counts = np.bincount(labels, minlength=len(self.conditions))
        return {name: int(counts[i]) for i, name in enumerate(self.conditions.names)}

    def metadata(self, split: str):
        """A pandas DataFrame with a row per image (condition at least; plate, well, dose where known)."""
        import pandas as pd

        labels = self.labels(self._check_split(split))
        return pd.DataFrame({"condition": [self.conditions.name(i) for i in labels]})

    def condition_moa(self) -> dict[str, str]:
        """The mechanism of action of each condition that has one annotated (empty where unknown)."""
        return {}

    # Batch-matched evaluation: datasets whose images carry a batch (the plate) say so, and
    # whether pairs drawn from the control match it by default (the field's BBBC021 protocol).
    batch_matched_by_default: ClassVar[bool] = False

    def batches(self, split: str) -> np.ndarray | None:
        """The batch (plate) of every row of `split`, or None where the data has no batches."""
        return None

    def torch_dataset(self, split: str) -> torch.utils.data.Dataset:
        """A map-style torch Dataset of (image C x H x W, condition index) that reads row by row."""
        return RowDataset(self, self._check_split(split))

    # Ground truth: only synthetic worlds can render the true counterfactual.
    has_counterfactuals: ClassVar[bool] = False

    def counterfactuals(self, split: str, rows: Sequence[int] | np.ndarray, target: int) -> torch.Tensor:
        """The same cells as `rows` rendered under condition `target` (synthetic data only)."""
        raise PhenbenchError(f"The dataset '{self.name}' has no true counterfactuals (only synthetic worlds do).")

    def phenotype_readouts(self, images: torch.Tensor) -> tuple[list[str], np.ndarray] | None:
        """Ground-truth-aligned measurements of images (names, N x K), where the dataset defines them."""
        return None

    def _check_split(self, split: str) -> str:
        if split not in self.splits():
            raise DataError(
                f"The dataset '{self.name}' has no split '{split}'. Its splits: {', '.join(self.splits())}."
            )
        return split


class RowDataset(torch.utils.data.Dataset):
    """Streams one split of a PreparedDataset, one row per item."""

    def __init__(self, dataset: PreparedDataset, split: str):
        self.dataset, self.split = dataset, split
        self._labels = dataset.labels(split)

    def __len__(self) -> int:
        return len(self._labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.dataset.read(self.split, [i])[0], int(self._labels[i])


def check_images(images: torch.Tensor, spec: DataSpec, *, what: str = "images") -> torch.Tensor:
    """Raise a clear error unless `images` is a finite float N x C x H x W batch matching `spec`."""
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if hasattr(images, "shape") else type(images).__name__
        raise DataError(f"{what} must be a tensor N x C x H x W, got {shape}.")
    n, c, h, w = images.shape
    if c != spec.num_channels:
        raise DataError(
            f"{what} have {c} channel(s) but the model was built for {spec.num_channels} "
            f"({', '.join(spec.channels)}). Give images with that channel layout."
        )
    if (h, w) != (spec.image_size, spec.image_size):
        raise DataError(
            f"{what} are {h} x {w} but the model was built for {spec.image_size} x {spec.image_size}. "
            "Resize or crop them first."
        )
    if not torch.is_floating_point(images):
        raise DataError(f"{what} must be float in [-1, 1], got {images.dtype}.")
    if not torch.isfinite(images).all():
        raise DataError(f"{what} contain NaN or infinite values; clean the input before translating.")
    return images
