"""Benchmark: BBBC021 preparation speed and the memory of streaming a large prepared cache.

1. Generates full-size fields (1024 x 1280, three uint16 TIFFs each, ~40 nuclei) named as in the
   real release, and times `prepare_bbbc021` with 1 and 2 worker processes: fields/s and crops/s.
2. Writes large crop caches (synthetic 3 x 96 x 96 uint16 crops, the real format), then streams
   each through the bbbc021 adapter and a torch DataLoader in a fresh process, reporting crops/s
   and the peak memory (ru_maxrss, and tracemalloc's peak of Python/numpy allocations) for two
   cache sizes: bounded streaming means the peak does not grow with the cache.

Run from the repository root:  python benchmarks/bbbc021_prepare.py [--fields 8] [--crops 100000]
Prints its figures; the measured ones are in docs/benchmarks/datasets.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the generated release lives with the tests


def bench_prepare(work: Path, fields: int, workers: list[int], crop_size: int) -> None:
    from phenbench.datasets.bbbc021.prepare import PrepareOptions, prepare_bbbc021
    from tests.datasets.bbbc021.mini_release import FieldSpec, make_release

    specs = tuple(
        FieldSpec("Week1_22123", f"{'BCDEFG'[i % 6]}{2 + i // 6:02d}", "DMSO" if i % 2 == 0 else "taxol",
                  0.0 if i % 2 == 0 else 1.0)
        for i in range(fields)
    )
    root = work / "release"
    start = time.perf_counter()
    make_release(root, fields=specs, nuclei=40, seed=1)
    print(f"generated {fields} full-size fields (1024 x 1280 x 3 uint16) in {time.perf_counter() - start:.1f} s")
    for n in workers:
        out = work / f"prepared-{n}.h5"
        start = time.perf_counter()
        report = prepare_bbbc021(
            PrepareOptions(root=str(root), out=str(out), crop_size=crop_size, workers=n), progress=False
        )
        seconds = time.perf_counter() - start
        cells = sum(sum(c.values()) for c in report.cells.values())
        print(f"prepare, workers={n}: {fields} fields, {cells} crops of {crop_size} px in {seconds:.1f} s = "
              f"{fields / seconds:.2f} fields/s, {cells / seconds:.0f} crops/s")


def write_large_cache(path: Path, crops: int, crop_size: int, compression: str) -> float:
    """A cache of `crops` synthetic cells (a pool of 512 distinct ones, cycled) with realistic metadata."""
    import numpy as np
    import pandas as pd

    from phenbench.datasets.h5cache import CacheWriter

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:crop_size, :crop_size] - crop_size // 2
    pool = np.empty((512, 3, crop_size, crop_size), np.uint16)
    for i in range(len(pool)):
        radius = rng.uniform(8, 14)
        cell = np.exp(-(yy**2 + xx**2) / (2 * (2.2 * radius) ** 2))
        nucleus = (np.hypot(yy, xx) < radius).astype(float)
        noise = rng.normal(0, 40, (3, crop_size, crop_size))
        pool[i] = np.clip(600 + noise + np.stack([9000 * nucleus, 3000 * cell, 2500 * cell]), 0, 65535)
    plates = [f"Week{1 + p // 6}_{22000 + p}" for p in range(55)]
    start = time.perf_counter()
    batch = 2048
    with CacheWriter(path, channels=("DAPI", "Tubulin", "Actin"), crop_shape=(crop_size, crop_size),
                     compression=compression) as writer:
        for first in range(0, crops, batch):
            n = min(batch, crops - first)
            index = np.arange(first, first + n)
            well = index // 200  # 200 cells per well
            meta = pd.DataFrame({
                "condition": np.where(well % 4 == 0, "DMSO", "drug@" + (well % 4).astype(str)),
                "compound": np.where(well % 4 == 0, "DMSO", "drug"),
                "plate": np.array(plates)[well % 55],
                "well": "W" + well.astype(str),
                "split": np.where((well // 4) % 5 == 0, "test", "train"),  # whole wells, every condition
            })
            writer.append(pool[index % len(pool)], meta)
        writer.close()
    return time.perf_counter() - start


def current_rss_mb() -> float:
    """Resident memory now (Linux /proc); ru_maxrss would only show the import-time peak."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def stream(path: str, batches: int) -> dict:
    """Runs in a fresh process: open the cache through the adapter and stream it."""
    import tracemalloc

    import torch

    torch.set_num_threads(1)
    from phenbench.datasets.bbbc021.adapter import Bbbc021Config, Bbbc021Dataset

    baseline = current_rss_mb()
    tracemalloc.start()
    data = Bbbc021Dataset(Bbbc021Config(root=path, image_size=None, normalization="plate"))
    opened = current_rss_mb()
    peak = opened
    split = data.torch_dataset("train")
    sampler = torch.utils.data.BatchSampler(torch.utils.data.RandomSampler(split), batch_size=256, drop_last=False)
    start, seen = time.perf_counter(), 0
    for i, rows in enumerate(sampler):  # random batches: the worst case for a chunked file
        if i == batches:
            break
        seen += len(data.read("train", sorted(rows)))
        peak = max(peak, current_rss_mb())
    random_rate = seen / (time.perf_counter() - start)
    start, seen = time.perf_counter(), 0
    total = len(data.labels("train"))
    for first in range(0, min(total, batches * 256), 256):  # contiguous batches
        seen += len(data.read("train", range(first, min(first + 256, total))))
        peak = max(peak, current_rss_mb())
    sequential_rate = seen / (time.perf_counter() - start)
    _, traced_peak = tracemalloc.get_traced_memory()
    return {
        "rows": len(data.reader), "rss_after_imports_mb": baseline, "rss_after_open_mb": opened,
        "peak_rss_while_streaming_mb": peak,
        "tracemalloc_peak_mb": traced_peak / 2**20,
        "random_batches_crops_per_s": random_rate, "contiguous_batches_crops_per_s": sequential_rate,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fields", type=int, default=8)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--crop-size", type=int, default=96)
    parser.add_argument("--crops", type=int, default=100_000, help="rows of the larger streamed cache")
    parser.add_argument("--compression", nargs="+", default=["gzip", "none"])
    parser.add_argument("--batches", type=int, default=40, help="batches of 256 streamed per pass")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--stream-only", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stream_only:
        print(json.dumps(stream(args.stream_only, args.batches)))
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="phenbench-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        bench_prepare(work, args.fields, args.workers, args.crop_size)
        for compression in args.compression:
            for crops in (args.crops // 10, args.crops):
                path = work / f"large-{crops}-{compression}.h5"
                seconds = write_large_cache(path, crops, args.crop_size, compression)
                size = path.stat().st_size / 2**30
                print(f"wrote a {crops}-crop cache, compression {compression} ({size:.2f} GiB on disk) in {seconds:.1f} s"
                      f" = {crops / seconds:.0f} crops/s")
                result = subprocess.run(
                    [sys.executable, __file__, "--stream-only", str(path), "--batches", str(args.batches)],
                    capture_output=True, text=True,
                )
                if result.returncode != 0:
                    sys.exit(f"streaming failed:\n{result.stderr}")
                figures = json.loads(result.stdout.strip().splitlines()[-1])
                print(f"streamed {crops}-crop cache: " + ", ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
                                                                  for k, v in figures.items()))
                path.unlink()
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
