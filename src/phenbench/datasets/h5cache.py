"""The prepared crop cache: one HDF5 file of raw crops, a metadata table and intensity statistics.

Every file-backed adapter (bbbc021, golgi, imagefolder) prepares into this one format, so reading,
splitting, normalising and hashing are written once. Layout (format version 2):

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

FORMAT = "phenbench-crops-2"
PERCENTILES = np.linspace(0.0, 100.0, 1001)
# Statistics come from a bounded, uniform sample of pixels per group, drawn while crops stream in
# (no second pass over the file): PIXELS_PER_CROP from every crop, at most STATS_PIXELS per group.
PIXELS_PER_CROP = 64
STATS_PIXELS = 262_144  # per channel: the 0.1th percentile still rests on ~260 pixels
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
        compression: str | None = None,
    ):
        self.path = Path(path)
        c, (h, w) = len(channels), crop_shape
        if c < 1 or h < 1 or w < 1:
            raise DataError(f"Cannot write {self.path}: crop size {h} x {w} with {c} channel(s); both sides must be at least 1.")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        self.channels = tuple(channels)
        self.control = control
        options: dict[str, Any] = {}
        # gzip level 1 with byte shuffling: ~0.6x the size, but ~15x slower to write and ~7x slower
        # to read than no compression (docs/benchmarks/datasets.md); worth it for a 27 GB release.
        if compression == "gzip":
            options = {"compression": "gzip", "compression_opts": 1, "shuffle": True}
        elif compression == "lzf":
            options = {"compression": "lzf", "shuffle": True}
        elif compression not in (None, "none"):
            raise DataError(f"Unknown compression {compression!r}; choose gzip, lzf or none.")
        self._file = h5py.File(self._tmp, "w")
        try:
            self._images = self._file.create_dataset(
                "images", shape=(0, c, h, w), maxshape=(None, c, h, w), dtype=np.dtype(dtype),
                chunks=(1, c, h, w), **options,
            )
        except BaseException:
            self.abort()  # no temporary file left behind by a writer that never started
            raise
        self._meta: list[pd.DataFrame] = []
        self._digest = hashlib.sha256()
        self._rng = np.random.default_rng(0)
        self._samples: dict[tuple[str, str], _BottomKSample] = {}
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
        self._sample_pixels(images, meta)

    def close(self, *, attrs: dict[str, Any] | None = None) -> Path:
        """Write metadata and statistics, then rename the temporary file to the cache path."""
        try:
            meta = pd.concat(self._meta, ignore_index=True) if self._meta else pd.DataFrame()
            missing = [c for c in REQUIRED_COLUMNS if c not in meta.columns]
            if missing or len(meta) == 0:
                raise DataError(f"cannot write an empty cache or one without columns {missing} ({self.path})")
            self._write_meta(meta)
            self._write_intensity()
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

    def _sample_pixels(self, images: np.ndarray, meta: pd.DataFrame) -> None:
        """Add PIXELS_PER_CROP random pixels of each crop to its plate's, the control's and the global sample."""
        n, c = images.shape[:2]
        flat = images.reshape(n, c, -1)
        if flat.shape[2] <= PIXELS_PER_CROP:  # tiny crops: every pixel
            pixels = flat
        else:
            picks = self._rng.integers(0, flat.shape[2], (n, 1, PIXELS_PER_CROP))
            pixels = np.take_along_axis(flat, np.broadcast_to(picks, (n, c, PIXELS_PER_CROP)), axis=2)
        plates = meta["plate"].astype(str).to_numpy() if "plate" in meta.columns else np.full(n, "", dtype=object)
        is_control = (meta["condition"].astype(str) == str(self.control)).to_numpy()
        for plate in [*pd.unique(plates), GLOBAL_GROUP]:
            in_group = np.ones(n, bool) if plate == GLOBAL_GROUP else plates == plate
            for name, mask in (("all", in_group), ("control", in_group & is_control)):
                if mask.any():
                    sample = self._samples.setdefault((plate, name), _BottomKSample(STATS_PIXELS))
                    sample.add(np.moveaxis(pixels[mask], 1, 0).reshape(c, -1).copy(), self._rng)

    def _write_intensity(self) -> None:
        plates = sorted({plate for plate, _ in self._samples} - {GLOBAL_GROUP})
        groups = plates + [GLOBAL_GROUP]  # one group per plate, then the whole cache
        c = len(self.channels)
        stats = {name: np.full((len(groups), c, len(PERCENTILES)), np.nan, np.float32) for name in ("all", "control")}
        for g, plate in enumerate(groups):
            for name in stats:
                if (plate, name) in self._samples:
                    stats[name][g] = _percentiles(self._samples[plate, name].values())
        intensity = self._file.create_group("intensity")
        intensity.create_dataset("groups", data=np.array(groups, dtype=object), dtype=h5py.string_dtype())
        for name, values in stats.items():
            intensity.create_dataset(name, data=values)


class _BottomKSample:
    """A uniform sample without replacement of at most `cap` pixel columns from a stream.

    Every column gets a random key and the `cap` smallest keys are kept (bottom-k sampling), so
    each column of the stream is equally likely to be kept, however long the stream.
    """

    def __init__(self, cap: int):
        self.cap = cap
        self._values: list[np.ndarray] = []
        self._keys: list[np.ndarray] = []
        self._size = 0

    def add(self, values: np.ndarray, rng: np.random.Generator) -> None:
        self._values.append(values)
        self._keys.append(rng.random(values.shape[1]))
        self._size += values.shape[1]
        if self._size > 2 * self.cap:
            self._compact()

    def _compact(self) -> None:
        values, keys = np.concatenate(self._values, axis=1), np.concatenate(self._keys)
        if len(keys) > self.cap:
            keep = np.argpartition(keys, self.cap)[: self.cap]
            values, keys = values[:, keep], keys[keep]
        self._values, self._keys, self._size = [values], [keys], len(keys)

    def values(self) -> np.ndarray:
        self._compact()
        return self._values[0]


def _percentiles(pixels: np.ndarray) -> np.ndarray:
    """C x N values -> C x len(PERCENTILES), linear interpolation as np.percentile, one sort per channel.

    np.percentile with 1001 levels partitions once per level; sorting once is ~50x faster here.
    """
    ordered = np.sort(pixels.astype(np.float64), axis=1)
    position = PERCENTILES / 100.0 * (ordered.shape[1] - 1)
    lower = np.floor(position).astype(np.int64)
    upper = np.minimum(lower + 1, ordered.shape[1] - 1)
    weight = position - lower
    return ordered[:, lower] * (1.0 - weight) + ordered[:, upper] * weight


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
        except (OSError, KeyError, ValueError) as exc:
            # Not "delete it": the path may be a user's file that is simply not a crop cache.
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataError(
                f"{self.path} is not a readable phenbench crop cache ({first}); give a cache written by "
                "`phenbench data prepare` (or a crop-table or image folder), or prepare it again."
            ) from None
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
        # Read each run of consecutive rows as one slice: h5py's list indexing is ~50x slower
        # (1.4 s against 0.03 s for 256 scattered rows, measured), and slices touch only their chunks.
        block = np.empty((len(unique), *self.shape[1:]), dtype=self.dtype)
        breaks = np.flatnonzero(np.diff(unique) != 1) + 1
        for start, stop in zip(np.r_[0, breaks], np.r_[breaks, len(unique)]):
            images.read_direct(block, np.s_[int(unique[start]) : int(unique[stop - 1]) + 1], np.s_[start:stop])
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
    if h5py.check_string_dtype(dataset.dtype) is not None:
        return dataset.asstr()[:].astype(object)
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
