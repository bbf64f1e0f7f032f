"""The prepared crop cache: one HDF5 file of raw crops, a metadata table and intensity statistics.

Every file-backed adapter (bbbc021, golgi, imagefolder) prepares into this one format, so reading,
splitting, normalising and hashing are written once. Layout (format version 1):

    /images              N x C x H x W, the source's own dtype (uint8/uint16/float32), one chunk per
                         crop, so reading a few rows touches only those rows on disk
    /meta/<column>       one 1-D dataset per metadata column (condition, plate, well, split, ...);
                         text columns as int32 codes with their `categories` (JSON) as an attribute
    /intensity/groups    the normalisation groups: each plate ("" when the source has no plates),
                         then "__all__" for the whole cache
    /intensity/all       groups x C x 1001 percentiles (0, 0.1, ..., 100) of all crops of the group
    /intensity/control   the same, computed on the group's control (DMSO) crops only (NaN if none)
    attrs                format, channels (JSON), source, content_sha256, prepare (JSON), report (JSON)

Images stay raw on disk: normalisation is a choice made when reading (see normalize.py), and the
stored statistics let a reader map images back to raw intensities. A cache is written to a temporary
file and renamed only when complete, so a crash never leaves a half-written cache behind.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from phenbench.core.errors import DataError

FORMAT = "phenbench-crops-1"
PERCENTILES = np.linspace(0.0, 100.0, 1001)
# Statistics come from a bounded sample per group, so preparing 500,000 crops stays bounded too.
STATS_CROPS_PER_GROUP = 256
REQUIRED_COLUMNS = ("condition", "split")
GLOBAL_GROUP = "__all__"


class CacheWriter:
    """Append crops and their metadata rows, then `close()` to publish the cache atomically.

    Use as a context manager: leaving the block by an exception deletes the temporary file.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        channels: Sequence[str],
        crop_shape: tuple[int, int],
        dtype: np.dtype | type = np.uint16,
        source: str = "",
        control: str | None = "DMSO",
        compression: str | None = "gzip",
    ):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        self.channels = tuple(channels)
        self.control = control
        self._file = h5py.File(self._tmp, "w")
        c, (h, w) = len(self.channels), crop_shape
        options: dict[str, Any] = {}
        if compression == "gzip":
            options = {"compression": "gzip", "compression_opts": 1, "shuffle": True}
        elif compression is not None:
            options = {"compression": compression}
        self._images = self._file.create_dataset(
            "images", shape=(0, c, h, w), maxshape=(None, c, h, w), dtype=np.dtype(dtype),
            chunks=(1, c, h, w), **options,
        )
        self._meta: list[pd.DataFrame] = []
        self._digest = hashlib.sha256()
        self._file.attrs["format"] = FORMAT
        self._file.attrs["channels"] = json.dumps(list(self.channels))
        self._file.attrs["source"] = source

    def __len__(self) -> int:
        return int(self._images.shape[0])

    def append(self, images: np.ndarray, meta: pd.DataFrame) -> None:
        """Add N crops (N x C x H x W) and their N metadata rows."""
        if images.ndim != 4 or images.shape[1:] != self._images.shape[1:]:
            raise DataError(
                f"crops of shape {images.shape[1:]} do not fit the cache's {self._images.shape[1:]}; "
                "resize or pad them to one size first."
            )
        if len(meta) != len(images):
            raise DataError(f"{len(images)} crops but {len(meta)} metadata rows")
        start = len(self)
        self._images.resize(start + len(images), axis=0)
        self._images[start:] = images.astype(self._images.dtype, copy=False)
        self._digest.update(np.ascontiguousarray(images, dtype=self._images.dtype).tobytes())
        self._meta.append(meta.reset_index(drop=True))

    def close(self, *, attrs: dict[str, Any] | None = None) -> Path:
        """Write metadata and statistics, then rename the temporary file to the cache path."""
        try:
            meta = pd.concat(self._meta, ignore_index=True) if self._meta else pd.DataFrame()
            missing = [c for c in REQUIRED_COLUMNS if c not in meta.columns]
            if missing or len(meta) == 0:
                raise DataError(f"cannot write an empty cache or one without columns {missing} ({self.path})")
            self._write_meta(meta)
            self._write_intensity(meta)
            self._digest.update(meta.to_csv(index=False).encode())
            self._file.attrs["content_sha256"] = self._digest.hexdigest()
            for key, value in (attrs or {}).items():
                self._file.attrs[key] = json.dumps(value, sort_keys=True, default=str)
            self._file.close()
            os.replace(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise
        return self.path

    def abort(self) -> None:
        """Drop the temporary file (nothing is published)."""
        try:
            self._file.close()
        except Exception:  # already closed
            pass
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> "CacheWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()

    def _write_meta(self, meta: pd.DataFrame) -> None:
        group = self._file.create_group("meta")
        for column in meta.columns:
            values = meta[column]
            if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
                group.create_dataset(column, data=values.to_numpy())
            else:
                # Dictionary-encoded: a 500,000-row table of plate/well/condition strings would
                # otherwise cost hundreds of MB as Python strings in every reader.
                categories, codes = np.unique(values.astype(str).to_numpy(dtype=object), return_inverse=True)
                dataset = group.create_dataset(column, data=codes.astype(np.int32))
                dataset.attrs["categories"] = json.dumps([str(c) for c in categories])

    def _write_intensity(self, meta: pd.DataFrame) -> None:
        plates = meta["plate"].astype(str) if "plate" in meta.columns else pd.Series([""] * len(meta))
        # One group per plate, plus GLOBAL_GROUP over every crop.
        groups = sorted(plates.unique()) + [GLOBAL_GROUP]
        c = len(self.channels)
        stats = {name: np.full((len(groups), c, len(PERCENTILES)), np.nan, np.float32) for name in ("all", "control")}
        rng = np.random.default_rng(0)
        is_control = (meta["condition"] == self.control).to_numpy()
        for g, plate in enumerate(groups):
            in_group = np.ones(len(meta), bool) if plate == GLOBAL_GROUP else (plates == plate).to_numpy()
            for name, mask in (("all", in_group), ("control", in_group & is_control)):
                rows = np.flatnonzero(mask)
                if len(rows) == 0:
                    continue
                if len(rows) > STATS_CROPS_PER_GROUP:
                    rows = np.sort(rng.choice(rows, STATS_CROPS_PER_GROUP, replace=False))
                sample = self._images[rows]  # increasing rows: one HDF5 selection
                pixels = np.moveaxis(sample, 1, 0).reshape(c, -1).astype(np.float64)
                stats[name][g] = np.percentile(pixels, PERCENTILES, axis=1).T
        intensity = self._file.create_group("intensity")
        intensity.create_dataset("groups", data=np.array(groups, dtype=object), dtype=h5py.string_dtype())
        for name, values in stats.items():
            intensity.create_dataset(name, data=values)


class CacheReader:
    """Read rows of a prepared cache without loading it: the file is opened lazily, once per process."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(f"No prepared cache at {self.path}; run `phenbench data prepare` or check the path.")
        try:
            with h5py.File(self.path, "r") as f:
                if f.attrs.get("format") != FORMAT:
                    raise DataError(
                        f"{self.path} is not a phenbench crop cache (format {f.attrs.get('format')!r}, "
                        f"expected {FORMAT!r}); prepare it again with `phenbench data prepare`."
                    )
                self.channels: tuple[str, ...] = tuple(json.loads(f.attrs["channels"]))
                self.shape: tuple[int, ...] = tuple(f["images"].shape)
                self.dtype = f["images"].dtype
                self.content_sha256: str = str(f.attrs["content_sha256"])
                self.attrs = {k: _maybe_json(v) for k, v in f.attrs.items()}
                self.meta = pd.DataFrame({k: _column(f["meta"][k]) for k in f["meta"]})
                self.intensity_groups = [str(g) for g in f["intensity/groups"].asstr()[:]]
                self.intensity = {k: f[f"intensity/{k}"][:] for k in ("all", "control")}
        except OSError as exc:
            raise DataError(f"Cannot read the cache {self.path} ({exc}); delete it and prepare again.") from None
        self._file: h5py.File | None = None
        self._pid: int | None = None

    def __len__(self) -> int:
        return self.shape[0]

    def read(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """Raw crops of the given global rows, in the order given (duplicates allowed)."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        if len(rows) == 0:
            return np.empty((0, *self.shape[1:]), dtype=self.dtype)
        if rows.min() < 0 or rows.max() >= len(self):
            raise DataError(f"rows out of range 0..{len(self) - 1} in {self.path}")
        unique, inverse = np.unique(rows, return_inverse=True)
        images = self._handle()["images"]
        # h5py needs increasing indices; contiguous runs are read as slices (much faster).
        if len(unique) == unique[-1] - unique[0] + 1:
            block = images[int(unique[0]) : int(unique[-1]) + 1]
        else:
            block = images[unique]
        return block[inverse]

    def _handle(self) -> h5py.File:
        # A handle must not cross a fork (DataLoader workers): reopen in each process.
        if self._file is None or self._pid != os.getpid():
            self._file = h5py.File(self.path, "r")
            self._pid = os.getpid()
        return self._file

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_file"], state["_pid"] = None, None
        return state


def _column(dataset: h5py.Dataset) -> np.ndarray | pd.Categorical:
    if "categories" in dataset.attrs:
        return pd.Categorical.from_codes(dataset[:], categories=json.loads(dataset.attrs["categories"]))
    return dataset[:]


def _maybe_json(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
