"""A PreparedDataset that streams a selection of a prepared crop cache (see h5cache.py).

The adapters (bbbc021, golgi, imagefolder) differ in how they turn files into a cache and which
rows they select; reading, normalising, resizing, splitting and hashing are shared here. Only the
metadata table is held in memory (a few columns per crop); images are read row by row.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from phenbench.core.conditions import ConditionSet
from phenbench.core.config import config_to_dict
from phenbench.core.dataset import DataSpec, PreparedDataset
from phenbench.core.errors import ConfigError, DataError
from phenbench.datasets.h5cache import CacheReader
from phenbench.datasets.normalize import IntensityScale, intensity_scale

RESIZE_MODES = ("resize", "pad")
CACHE_DIR_ENV = "PHENBENCH_CACHE_DIR"


def default_cache_dir() -> Path:
    """Where caches converted from crop tables and folders go: $PHENBENCH_CACHE_DIR or ~/.cache."""
    configured = os.environ.get(CACHE_DIR_ENV)
    return Path(configured) if configured else Path.home() / ".cache" / "phenbench" / "datasets"


@dataclass(frozen=True)
class ReadOptions:
    """How images are read from a cache: shared by every file-backed adapter's config."""

    image_size: int | None = None  # None: the cache's own crop size
    resize: str = "resize"  # "resize" (antialiased bilinear) or "pad" (centre pad/crop with background)
    normalization: str = "plate"  # plate | dmso | global | fixed (see normalize.py)
    low_percentile: float = 0.1
    high_percentile: float = 99.9


class CachedCropDataset(PreparedDataset):
    """Rows of a cache selected by `mask`, labelled by condition, split by the cache's `split` column.

    `labels` gives each cache row's condition name where it differs from the cache's `condition`
    column (conditions per compound); rows of the `held_out` conditions are left out of the
    training split (evaluated as unseen); `moa` maps conditions to their mechanism of action.
    """

    def __init__(
        self,
        reader: CacheReader,
        *,
        conditions: ConditionSet,
        mask: np.ndarray,
        options: ReadOptions,
        identity: dict,
        labels: np.ndarray | None = None,
        held_out: Sequence[str] = (),
        moa: dict[str, str] | None = None,
    ):
        if options.resize not in RESIZE_MODES:
            raise ConfigError(f"Unknown resize mode {options.resize!r}; choose resize or pad.")
        if options.image_size is not None and options.image_size < 4:
            raise ConfigError(f"image_size must be at least 4, got {options.image_size}.")
        self.reader = reader
        self.options = options
        meta = reader.meta
        # Vectorised (a cache may hold 500,000 rows): -1 marks conditions outside the selection.
        names = pd.Index(list(conditions.names))
        condition = meta["condition"] if labels is None else pd.Series(labels)
        if isinstance(condition.dtype, pd.CategoricalDtype):
            lookup = names.get_indexer(condition.cat.categories.astype(str))
            self._condition_of_row = lookup[condition.cat.codes.to_numpy()].astype(np.int64)
        else:
            self._condition_of_row = names.get_indexer(condition.astype(str)).astype(np.int64)
        mask = mask & (self._condition_of_row >= 0)
        self.held_out = tuple(held_out)
        in_training = ~np.isin(self._condition_of_row, [conditions.index(c) for c in self.held_out])
        split = meta["split"].to_numpy()
        self._rows = {"train": np.flatnonzero(mask & (split == "train") & in_training),
                      "test": np.flatnonzero(mask & (split == "test"))}
        self._moa = {c: m for c, m in (moa or {}).items() if c in conditions}
        self._spec = DataSpec(
            channels=reader.channels,
            image_size=int(options.image_size or reader.shape[-1]),
            conditions=conditions,
            unseen=self.held_out,
        )
        self._plates = meta["plate"].to_numpy() if "plate" in meta else np.full(len(meta), "", dtype=object)
        self.scale: IntensityScale = intensity_scale(
            reader, options.normalization, options.low_percentile, options.high_percentile
        )
        self._identity = identity
        self._check_conditions()

    def _check_conditions(self) -> None:
        for split, rows in self._rows.items():
            counts = np.bincount(self._condition_of_row[rows], minlength=len(self.conditions))
            empty = [self.conditions.name(i) for i in np.flatnonzero(counts == 0)]
            if split == "train":  # held-out conditions have no training images by design
                empty = [c for c in empty if c not in self.held_out]
            if empty:
                raise DataError(
                    f"Condition(s) {', '.join(empty)} have no cells in the {split} split of {self.reader.path}; "
                    "drop them from the selection or prepare more wells of them."
                )

    # --- the PreparedDataset interface -------------------------------------------------------

    @property
    def spec(self) -> DataSpec:
        return self._spec

    def splits(self) -> list[str]:
        return ["train", "test"]

    def labels(self, split: str) -> np.ndarray:
        return self._condition_of_row[self._rows[self._check_split(split)]]

    def read(self, split: str, rows: Sequence[int] | np.ndarray) -> torch.Tensor:
        global_rows = self.global_rows(split, rows)
        raw = self.reader.read(global_rows)
        images = self.scale.normalize(raw, self._plates[global_rows])
        return fit_to_size(images, self._spec.image_size, self.options.resize)

    def condition_moa(self) -> dict[str, str]:
        return dict(self._moa)

    def batches(self, split: str) -> np.ndarray | None:
        """The plate of every row of `split` (None when the cache has no plates)."""
        if "plate" not in self.reader.meta:
            return None
        return np.asarray(self._plates[self._rows[self._check_split(split)]], dtype=object).astype(str)

    def content_hash(self) -> str:
        digest = hashlib.sha256(self.reader.content_sha256.encode())
        digest.update(json.dumps(self._identity, sort_keys=True, default=str).encode())
        digest.update(json.dumps(self.conditions.to_dict(), sort_keys=True).encode())
        for split in self.splits():
            digest.update(self._rows[split].tobytes())
        return digest.hexdigest()[:16]

    def metadata(self, split: str) -> pd.DataFrame:
        table = self.reader.meta.iloc[self._rows[self._check_split(split)]].reset_index(drop=True)
        for column in table.columns:  # plain strings for callers (the reader keeps them encoded)
            if isinstance(table[column].dtype, pd.CategoricalDtype):
                table[column] = table[column].astype(str)
        return table

    # --- extras for metrics and reports ------------------------------------------------------

    def global_rows(self, split: str, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """Cache row numbers of the given rows of `split`."""
        selected = self._rows[self._check_split(split)]
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        if len(rows) and (rows.min() < 0 or rows.max() >= len(selected)):
            raise DataError(f"rows out of range 0..{len(selected) - 1} of split '{split}'")
        return selected[rows]

    def denormalize(self, images: torch.Tensor, split: str, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """Map images in [-1, 1] of the given rows back to raw intensities (float32 N x C x H x W).

        Uses the scale of each row's plate (translated images: pass the rows of their sources).
        Images must be at the cache's crop size (resizing is not inverted).
        """
        return self.scale.denormalize(images, self._plates[self.global_rows(split, rows)])

    def counts_table(self) -> dict[str, dict[str, int]]:
        """Cells per condition, per split."""
        return {split: self.counts(split) for split in self.splits()}

    def split_levels(self) -> dict[str, str]:
        """The level (plate/well/field/cell) each condition was split at, as stored with the cache."""
        return dict(self.reader.attrs.get("split", {}).get("levels", {}))


def fit_to_size(images: torch.Tensor, size: int, mode: str) -> torch.Tensor:
    """Resize (antialiased bilinear) or centre pad/crop N x C x H x W images to size x size."""
    h, w = images.shape[-2:]
    if (h, w) == (size, size):
        return images
    if mode == "resize":
        out = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        return out.clamp_(-1.0, 1.0)
    # Pad with -1: the low percentile, i.e. background, so padding looks like empty surroundings.
    top, left = (size - h) // 2, (size - w) // 2
    out = torch.full((*images.shape[:-2], size, size), -1.0, dtype=images.dtype)
    src_top, src_left = max(0, -top), max(0, -left)
    dst_top, dst_left = max(0, top), max(0, left)
    ch, cw = min(h, size), min(w, size)
    out[..., dst_top : dst_top + ch, dst_left : dst_left + cw] = images[
        ..., src_top : src_top + ch, src_left : src_left + cw
    ]
    return out


def fit_raw_to_size(crops: np.ndarray, size: int, mode: str) -> np.ndarray:
    """Bring raw N x C x H x W crops to size x size in their own dtype (resized in float, rounded).

    Padding fills with 0, the darkest value: background for fluorescence images.
    """
    if crops.shape[-2:] == (size, size):
        return crops
    dtype = crops.dtype
    values = torch.from_numpy(crops.astype(np.float32))
    top = float(np.iinfo(dtype).max) if np.issubdtype(dtype, np.integer) else max(float(values.max()), 1e-6)
    scaled = values / top * 2 - 1  # fit_to_size works in [-1, 1] and pads with -1
    fitted = ((fit_to_size(scaled, size, mode) + 1) / 2 * top).numpy()
    if np.issubdtype(dtype, np.integer):
        fitted = np.rint(fitted)
    return fitted.astype(dtype)


def ordered_conditions(names: Sequence[str], control: str | None = "DMSO") -> list[str]:
    """Control first, then each compound in name order with increasing concentration."""
    from phenbench.core.conditions import Condition

    parsed = [Condition.parse(n) for n in dict.fromkeys(names)]
    rest = [c for c in parsed if c.name != control]
    rest.sort(key=lambda c: (c.compound.lower(), c.concentration if c.concentration is not None else -1.0))
    return ([control] if control in names else []) + [c.name for c in rest]


def options_identity(config) -> dict:
    """The parts of a config that change what the dataset yields (for the content hash)."""
    data = config_to_dict(config)
    for key in ("root", "cache_dir", "workers"):
        data.pop(key, None)
    return data
