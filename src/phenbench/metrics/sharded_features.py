"""Feature extraction dealt out to the processes of a sharded run (`accelerate launch`, torchrun).

The main process alone scores a sharded run, but the per-image work of scoring, CellProfiler
measurements and deep (Inception) features, is shared first: each metric's `prepare`, called on
every process in the same order, names the image sets its `compute` will measure; every process
measures its share of their images, gets all of them back in order and memoises them where
`compute` looks. The values are a one-process run's: a CellProfiler measurement depends on its
image alone, and deep features are computed in the batches one process would cut.

Whatever decides which collective calls a process makes (is a set memoised, is it in the disk
cache) is decided by the main process and broadcast: processes on other nodes may not see the same
cache folder, and a process that skips a gather the others enter would hang them all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from phenbench.core.sharding import Shard, broadcast_from_main, gather_in_order, my_batches
from phenbench.metrics.cache import FeatureCache, images_digest
from phenbench.metrics.cp_features import (
    FeatureExtractor,
    FeatureTable,
    extract,
    table_arrays,
    table_of_arrays,
)

# CellProfiler work is cut into this many chunks per process: uneven crops (a failed segmentation
# is quick) then even out across processes.
CHUNKS_PER_PROCESS = 4


@dataclass(frozen=True)
class CellImageSet:
    """Images a metric measures with CellProfiler; `real_condition` names real ones (disk-cached)."""

    images: torch.Tensor
    real_condition: str | None = None
    split: str = "test"


def cached_on_main(cache: FeatureCache, key: str, shard: Shard) -> dict[str, np.ndarray] | None:
    """The main process's disk-cache entry for `key` (None where it has none), on every process."""
    return broadcast_from_main(cache.load(key) if shard.is_main else None, shard)


def measure_cell_sets(extractor: FeatureExtractor, sets: list[CellImageSet], shard: Shard) -> None:
    """Memoise the CellProfiler features of every set in `extractor`, the images shared out."""
    pending: dict[tuple, tuple[CellImageSet, str | None]] = {}
    for image_set in sets:
        digest = images_digest(image_set.images)
        key = extractor.memo_key(digest)
        if key in extractor.memo or key in pending:
            continue
        disk_key = None
        if image_set.real_condition is not None:
            disk_key = extractor.disk_key(len(image_set.images), digest, image_set.real_condition, image_set.split)
            stored = cached_on_main(extractor.cache, disk_key, shard)
            if stored is not None:
                extractor.memo[key] = table_of_arrays(stored)
                continue
        pending[key] = (image_set, disk_key)
    if not pending:
        return
    everything = torch.cat([image_set.images for image_set, _ in pending.values()])
    channels = extractor.channels(everything)
    chunks = np.array_split(np.arange(len(everything)), min(len(everything), CHUNKS_PER_PROCESS * shard.count))
    mine = {k: extract(everything[torch.from_numpy(chunks[k])], channels, extractor.nucleus_channel, extractor.workers)
            for k in my_batches(len(chunks), shard)}
    names, values, failures = _joined(gather_in_order(mine, len(chunks), shard))
    start = 0
    for key, (image_set, disk_key) in pending.items():
        stop = start + len(image_set.images)
        table = _one_set(names, values[start:stop], failures[start:stop])
        extractor.memo[key] = table
        if disk_key is not None and shard.is_main:
            extractor.cache.save(disk_key, table_arrays(table))
        start = stop


def _joined(tables: list[FeatureTable]) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """The chunks' tables as one: feature columns by name (a chunk without a measured cell has none)."""
    names = next((t.names for t in tables if t.names), ())
    parts = []
    for table in tables:
        aligned = np.full((len(table.failures), len(names)), np.nan)
        if table.names:
            column = {name: i for i, name in enumerate(table.names)}
            for j, name in enumerate(names):
                if name in column:
                    aligned[:, j] = table.values[:, column[name]]
        parts.append(aligned)
    return names, np.concatenate(parts), np.concatenate([t.failures for t in tables]).astype(np.int8)


def _one_set(names: tuple[str, ...], values: np.ndarray, failures: np.ndarray) -> FeatureTable:
    """A set's table as `extract` makes it: without feature columns when none of its images was measured."""
    if not (failures == 0).any():
        return FeatureTable(names=(), values=np.zeros((len(failures), 0)), failures=failures)
    return FeatureTable(names=names, values=values, failures=failures)


def sharded_extract(extract_batch: Callable[[torch.Tensor], np.ndarray], images: torch.Tensor, batch_size: int,
                    shard: Shard) -> np.ndarray:
    """`extract_batch` over `images` in batches of `batch_size`, on every process in order: the
    batches a one-process extraction cuts, so the same features. Batch k goes to process
    (k + s) mod N, s drawn from the images' digest: sets of one batch each spread over the processes."""
    starts = list(range(0, len(images), batch_size))
    offset = int(images_digest(images), 16) % shard.count
    mine = {k: extract_batch(images[starts[k] : starts[k] + batch_size])
            for k in range(len(starts)) if (k + offset) % shard.count == shard.index}
    return np.concatenate(gather_in_order(mine, len(starts), shard))


def sharded_real_features(cache: FeatureCache, key: str, compute: Callable[[], np.ndarray], shard: Shard) -> np.ndarray:
    """Features of real images from the main process's disk cache, else computed by every process
    (`compute` shares the work) and stored by the main one."""
    stored = cached_on_main(cache, key, shard)
    if stored is not None:
        return stored["features"]
    features = compute()
    if shard.is_main:
        cache.save(key, {"features": features})
    return features


def every_process_can(attempt: Callable[[], object], shard: Shard) -> bool:
    """Whether `attempt` succeeds on every process (each tries; all learn the outcome). Shared work
    must start only then: a process that cannot (say, a node without the extractor's weights)
    would otherwise leave the others waiting in a gather it never joins."""
    try:
        attempt()
        ok = True
    except Exception:  # noqa: BLE001 - the reason is met again, and recorded, by `compute`
        ok = False
    return all(gather_in_order({shard.index: ok}, shard.count, shard))
