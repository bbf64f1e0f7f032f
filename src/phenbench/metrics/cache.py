"""A disk cache for features and statistics of real images, shared by runs and methods.

Real test images are the same for every method compared on a dataset, so their features
(Inception, CellProfiler) are computed once. The key spells out what the value depends on:
dataset hash, split, condition, extractor and number of images, plus a digest of the image bytes
so that a changed subsample or dataset can never be served stale numbers. Files live under
`$PHENBENCH_CACHE` or `~/.cache/phenbench`, in `features/`. Writes are atomic (a temporary file in
the same folder, then rename), so a crash never leaves a half-written entry.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

CACHE_ENV = "PHENBENCH_CACHE"


def cache_root() -> Path:
    """`$PHENBENCH_CACHE`, else `~/.cache/phenbench`."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "phenbench"


def images_digest(images: torch.Tensor) -> str:
    """A short digest of the image bytes (shape included)."""
    digest = hashlib.sha256(str(tuple(images.shape)).encode())
    digest.update(images.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def cache_key(
    *, dataset_hash: str, split: str, condition: str, extractor: str, n_images: int, digest: str
) -> str:
    """A readable file-system-safe key: every part the cached value depends on."""
    parts = [dataset_hash or "nohash", split, condition, extractor, f"n{n_images}", digest]
    return "__".join(re.sub(r"[^A-Za-z0-9._-]+", "-", p) for p in parts)


class FeatureCache:
    """Arrays stored as `.npz` by key; `enabled=False` makes every lookup a miss and writes nothing."""

    def __init__(self, root: Path | None = None, enabled: bool = True):
        self.root = (root or cache_root()) / "features"
        self.enabled = enabled
        self.hits = 0
        self.misses = 0

    def path(self, key: str) -> Path:
        return self.root / f"{key}.npz"

    def load(self, key: str) -> dict[str, np.ndarray] | None:
        if not self.enabled:
            return None
        path = self.path(key)
        try:
            with np.load(path, allow_pickle=False) as stored:
                return {name: stored[name] for name in stored.files}
        except (FileNotFoundError, OSError, ValueError):
            return None  # absent or unreadable: recompute (and overwrite)

    def save(self, key: str, arrays: dict[str, np.ndarray]) -> None:
        if not self.enabled:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-", suffix=".npz")
        try:
            with os.fdopen(handle, "wb") as file:
                np.savez(file, **arrays)
            os.replace(tmp, self.path(key))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get_or_compute(self, key: str, compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        cached = self.load(key)
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        value = compute()
        self.save(key, value)
        return value
