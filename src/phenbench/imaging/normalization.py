"""The intensity normalisation a translator was trained with, stored beside the model.

Training data reach a translator as [-1, 1] images, mapped per channel from a low to a high raw
intensity (`datasets.normalize`). A user's raw images must go through the same map, and the
translated images back through its inverse, or the model sees intensities it never saw.
`Translator.save` does not record this map, so it lives in its own file in the checkpoint
directory, `normalization.json`:

    {"format": "phenbench-normalization", "version": 1,
     "channels": ["DNA", "tubulin", "actin"],
     "low": [...], "high": [...],          # raw intensity per channel that maps to -1 and +1
     "resize": "resize",                    # how the training data reached the model's size
     "origin": "bbbc021: plate normalisation, percentiles 0.1-99.9, median of 12 plates",
     "dtype": "uint16"}                     # the training images' raw type: other bit depths are refused

Per-plate scales (`plate`, `dmso`) cannot be looked up for a user's plate, so the saved scale is
the per-channel median over the training plates. Where no file exists (a model trained before
this file was written, or on in-memory data), `translate --normalization` picks another source:
a JSON file, the input dtype's range, or percentiles estimated from the image set.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from phenbench.core.errors import DataError

NORMALIZATION_FILE = "normalization.json"
FORMAT = "phenbench-normalization"
RESIZE_MODES = ("resize", "pad")
# Percentiles of the fallback estimate: the same defaults as the dataset adapters.
ESTIMATE_PERCENTILES = (0.1, 99.9)
ESTIMATE_MAX_IMAGES = 64


@dataclass(frozen=True)
class Normalization:
    """Per-channel raw intensities that map to -1 and +1, and how images were resized."""

    channels: tuple[str, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    resize: str = "resize"
    origin: str = ""
    # The raw dtype of the training images ("uint16"): a map of 16-bit intensities must not be
    # applied to 8-bit files. None in files written before it was recorded.
    dtype: str | None = None

    def __post_init__(self) -> None:
        if not len(self.channels) == len(self.low) == len(self.high):
            raise DataError(
                f"Normalisation has {len(self.channels)} channel(s) but {len(self.low)} low and "
                f"{len(self.high)} high value(s); give one low and one high per channel."
            )
        if any(not h > lo for lo, h in zip(self.low, self.high)):
            raise DataError(f"Normalisation needs high > low for every channel, got low {self.low}, high {self.high}.")
        if self.resize not in RESIZE_MODES:
            raise DataError(f"Normalisation resize mode {self.resize!r} is unknown; use resize or pad.")

    def normalize(self, raw: np.ndarray) -> np.ndarray:
        """Raw C x H x W -> float32 in [-1, 1] (clipped, as in training)."""
        low, span = self._arrays()
        return np.clip(2.0 * (raw.astype(np.float32) - low) / span - 1.0, -1.0, 1.0).astype(np.float32)

    def denormalize(self, images: np.ndarray) -> np.ndarray:
        """[-1, 1] C x H x W -> raw intensities (float32), the inverse of `normalize`."""
        low, span = self._arrays()
        return ((images.astype(np.float32) + 1.0) / 2.0 * span + low).astype(np.float32)

    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        low = np.asarray(self.low, dtype=np.float32)[:, None, None]
        high = np.asarray(self.high, dtype=np.float32)[:, None, None]
        return low, high - low

    def check_input(self, dtype: np.dtype, path: Path) -> None:
        """Refuse a file whose bit depth is not the one this map is for (8-bit images through a 16-bit
        map come out almost black, silently)."""
        dtype = np.dtype(dtype)
        wanted = np.dtype(self.dtype) if self.dtype else None
        if wanted is not None:
            is_int = np.issubdtype(dtype, np.integer)
            mismatch = is_int != np.issubdtype(wanted, np.integer) or (is_int and wanted != dtype)
        else:  # no dtype recorded: an integer file that cannot reach the map's top is the wrong kind
            mismatch = np.issubdtype(dtype, np.integer) and max(self.high) > float(np.iinfo(dtype).max)
        if mismatch:
            trained = f"{wanted} images" if wanted is not None else f"intensities up to {max(self.high):g}"
            raise DataError(
                f"{path} is {dtype}, but the model's intensity map ({self.origin or 'normalization.json'}) is for "
                f"{trained}, as in its training data. Give images of that bit depth, or pass --normalization "
                "dtype (each file's own range) or estimate."
            )

    def check_channels(self, channels: Sequence[str], where: str) -> None:
        if tuple(channels) != self.channels:
            raise DataError(
                f"{where} is for channels {', '.join(self.channels)} but the model has {', '.join(channels)}; "
                "give the normalisation of the data the model was trained on."
            )

    # --- the file ----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": 1,
            "channels": list(self.channels),
            "low": [float(v) for v in self.low],
            "high": [float(v) for v in self.high],
            "resize": self.resize,
            "origin": self.origin,
            "dtype": self.dtype,
        }

    def save(self, path: str | Path) -> Path:
        """Write the JSON file atomically (a directory gets `normalization.json`)."""
        path = Path(path)
        if path.is_dir():
            path = path / NORMALIZATION_FILE
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        os.replace(tmp, path)
        return path


def load_normalization(path: str | Path) -> Normalization:
    """Read a file written by `Normalization.save`, with a one-line error for anything else."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"The normalisation file {path} does not exist; check the path.") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path} is not a readable normalisation JSON file ({exc}).") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise DataError(f"{path} is not a phenbench normalisation file (its 'format' is not {FORMAT!r}).")
    try:
        return Normalization(
            channels=tuple(str(c) for c in data["channels"]),
            low=tuple(float(v) for v in data["low"]),
            high=tuple(float(v) for v in data["high"]),
            resize=str(data.get("resize", "resize")),
            origin=str(data.get("origin", "")),
            dtype=_dtype_name(data.get("dtype")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path} lacks a valid {exc} entry; write it with phenbench or fix the file.") from None


def _dtype_name(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return np.dtype(str(value)).name
    except TypeError:
        raise ValueError(f"'dtype' {value!r}") from None


def normalization_from_dataset(dataset: Any) -> Normalization | None:
    """The scale a file-backed dataset normalises with; None for data without raw intensities.

    Reads the adapter's `scale` (an `IntensityScale`, groups x C) and `options` (`ReadOptions`).
    """
    scale = getattr(dataset, "scale", None)
    if scale is None or not hasattr(scale, "low"):
        return None
    options = getattr(dataset, "options", None)
    method = getattr(options, "normalization", "unknown")
    groups = len(scale.groups)
    # A user's plate is none of the training plates: the median scale is the typical one.
    low = np.median(np.asarray(scale.low, dtype=np.float64), axis=0)
    high = np.median(np.asarray(scale.high, dtype=np.float64), axis=0)
    origin = f"{getattr(dataset, 'name', 'dataset')}: {method} normalisation"
    if method != "fixed":
        origin += f", percentiles {options.low_percentile:g}-{options.high_percentile:g}"
    if groups > 1:
        origin += f", median of {groups} plates"
    return Normalization(
        channels=tuple(dataset.spec.channels),
        low=tuple(float(v) for v in low),
        high=tuple(float(v) for v in high),
        resize=getattr(options, "resize", "resize"),
        origin=origin,
        dtype=np.dtype(dataset.reader.dtype).name if hasattr(dataset, "reader") else None,
    )


def save_dataset_normalization(dataset: Any, model_dir: str | Path) -> Path | None:
    """Write `normalization.json` beside a saved model (the runner calls this after `save`)."""
    normalization = normalization_from_dataset(dataset)
    if normalization is None:
        return None
    return normalization.save(Path(model_dir) / NORMALIZATION_FILE)


def dtype_range(channels: Sequence[str], dtype: np.dtype) -> Normalization:
    """0 .. the dtype's maximum (255, 65535; 1 for float): the `fixed` normalisation."""
    top = float(np.iinfo(dtype).max) if np.issubdtype(dtype, np.integer) else 1.0
    c = len(channels)
    return Normalization(tuple(channels), (0.0,) * c, (top,) * c, origin=f"input dtype range 0-{top:g}",
                         dtype=np.dtype(dtype).name)


def estimate_normalization(
    images: Sequence[np.ndarray], channels: Sequence[str], resize: str = "resize"
) -> Normalization:
    """Per-channel robust percentiles (0.1 and 99.9) over a set of C x H x W images.

    A fallback for models saved without `normalization.json`: it maps the user's set onto the
    range the model saw, which is right only if that set spans a similar range of phenotypes.
    """
    stacked = np.concatenate([np.asarray(i, dtype=np.float32).reshape(i.shape[0], -1) for i in images], axis=1)
    low = np.percentile(stacked, ESTIMATE_PERCENTILES[0], axis=1)
    high = np.percentile(stacked, ESTIMATE_PERCENTILES[1], axis=1)
    high = np.where(high > low, high, low + 1.0)  # a flat channel: unit span, no division by zero
    return Normalization(
        tuple(channels),
        tuple(float(v) for v in low),
        tuple(float(v) for v in high),
        resize=resize,
        origin=f"estimated from {len(images)} input image(s), percentiles "
        f"{ESTIMATE_PERCENTILES[0]:g}-{ESTIMATE_PERCENTILES[1]:g}",
    )


def spread_sample(count: int, limit: int = ESTIMATE_MAX_IMAGES) -> list[int]:
    """Up to `limit` indices spread evenly over `count` items (deterministic: same in every process)."""
    if count <= limit:
        return list(range(count))
    return sorted({int(round(i * (count - 1) / (limit - 1))) for i in range(limit)})
