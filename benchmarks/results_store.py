"""How long the results store takes to write and read as it grows (prints its figures).

Each run looks like a real synthetic-world run: 9 target conditions, 15 metrics with values per
condition and pooled, and 8 samples per condition of 3 x 64 x 64 images in four kinds (source,
translated, real, reconstruction). Every write copies the whole store (see store_file.py), so
write time grows with the store; this measures by how much.

    .venv/bin/python benchmarks/results_store.py [--runs 100]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from phenbench.core.compare import comparison_table, format_table
from phenbench.core.metric import MetricResult, MetricValue
from phenbench.core.store import ResultsStore, RunRecord, utc_now

CONDITIONS = ["DMSO"] + [f"drug{i}@{d}" for i in range(2) for d in (0.1, 0.3, 1, 3)]
KINDS = ("source", "translated", "real", "reconstruction")


def realistic_record(index: int, rng: np.random.Generator) -> RunRecord:
    metrics = [
        MetricResult(
            name=f"metric{m}",
            higher_is_better=bool(m % 2),
            per_condition={c: MetricValue(float(rng.normal()), n=128, ci_low=-1.0, ci_high=1.0) for c in CONDITIONS},
            pooled=MetricValue(float(rng.normal()), n=1152),
            floor={c: MetricValue(float(rng.normal()), n=64) for c in CONDITIONS} if m < 3 else {},
            arrays={"histogram": rng.integers(0, 100, size=64)},
        )
        for m in range(15)
    ]
    samples = {
        c: {k: rng.uniform(-1, 1, size=(8, 3, 64, 64)).astype(np.float16) for k in KINDS} for c in CONDITIONS
    }
    return RunRecord(
        run_id=f"run-{index:04d}", translator=f"method{index % 4}", dataset="synthetic", status="complete",
        seed=index, started=utc_now(), ended=utc_now(), configs={"run": {"seed": index}}, versions={"phenbench": "0.1.0"},
        git_hash=None, dataset_hash="h", metrics=metrics, samples=samples, timings={"fit_seconds": 1.0},
    )  # fmt: skip


def timed(function) -> float:
    begin = time.perf_counter()
    function()
    return time.perf_counter() - begin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    checkpoints = sorted({1, 10, 25, 50, args.runs})
    with tempfile.TemporaryDirectory() as folder:
        store = ResultsStore(Path(folder) / "results.h5")
        print(f"{'runs':>5} {'store MB':>9} {'write s':>8} {'run_ids s':>9} {'read s':>7} {'read+samples s':>14} "
              f"{'metrics_frame s':>15} {'compare s':>9}")  # fmt: skip
        for index in range(args.runs):
            record = realistic_record(index, rng)
            write_seconds = timed(lambda: store.write(record))
            count = index + 1
            if count not in checkpoints:
                continue
            ids = store.run_ids()
            figures = [
                timed(store.run_ids),
                timed(lambda: store.read(ids[-1])),
                timed(lambda: store.read(ids[-1], samples=True)),
                timed(store.metrics_frame),
                timed(lambda: format_table(comparison_table(store), "markdown")),
            ]
            size = store.path.stat().st_size / 1e6
            print(f"{count:>5} {size:>9.1f} {write_seconds:>8.3f} {figures[0]:>9.3f} {figures[1]:>7.3f} "
                  f"{figures[2]:>14.3f} {figures[3]:>15.3f} {figures[4]:>9.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
