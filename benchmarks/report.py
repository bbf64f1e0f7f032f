"""How big and how slow is `phenbench report` for a run of 9 conditions? Prints its figures.

Builds stores straight from the synthetic world's test images (no translator is trained): per
run, 8 samples of every kind per condition (source, translated, real, reconstruction, true
counterfactual), as the runner stores them with `pairs: from-control`. Methods translate to the true
counterfactual plus a little noise, as a generative model makes new pixels (`model0`, `model2`, ...),
and `identity` returns the source. Sources, real images and true counterfactuals are shared by all
runs (the same test images), as in a real store. Also the worst case for PNG: uniform noise images.

    .venv/bin/python benchmarks/report.py [--sizes 32 64 96 128] [--methods 1 2 4]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from phenbench.core.metric import MetricResult, MetricValue
from phenbench.core.store import ResultsStore, RunRecord, utc_now
from phenbench.datasets.synthetic.adapter import SyntheticDataset
from phenbench.datasets.synthetic.config import SyntheticConfig
from phenbench.report import ReportOptions, build_report

SAMPLES = 8


def synthetic_samples(size: int) -> tuple[dict[str, dict[str, np.ndarray]], list[str], tuple[str, ...]]:
    dataset = SyntheticDataset(SyntheticConfig(image_size=size, train_per_condition=1, test_per_condition=SAMPLES))
    names = list(dataset.conditions.names)
    control = dataset.conditions.index(dataset.conditions.control)
    rows = dataset.rows("test", control)[:SAMPLES]
    sources = dataset.read("test", rows)
    samples = {}
    for index, target in enumerate(names):
        if index == control:
            continue
        real = dataset.read("test", dataset.rows("test", index)[:SAMPLES])
        samples[target] = {
            "source": sources.half().numpy(),
            "translated": dataset.counterfactuals("test", rows, index).half().numpy(),
            "counterfactual": dataset.counterfactuals("test", rows, index).half().numpy(),
            "real": real.half().numpy(),
            "reconstruction": real.half().numpy(),
        }
    return samples, names, tuple(dataset.spec.channels)


def noise_samples(size: int, names: list[str], rng: np.random.Generator) -> dict[str, dict[str, np.ndarray]]:
    kinds = ("source", "translated", "counterfactual", "real", "reconstruction")
    control = rng.uniform(-1, 1, (SAMPLES, 3, size, size)).astype(np.float16)
    samples = {t: {k: rng.uniform(-1, 1, (SAMPLES, 3, size, size)).astype(np.float16) for k in kinds} for t in names[1:]}
    for entry in samples.values():
        entry["source"] = control
    return samples


def record(run_id: str, translator: str, samples: dict, names: list[str], channels: tuple[str, ...], size: int) -> RunRecord:
    value = MetricValue(0.1, n=SAMPLES, ci_low=0.05, ci_high=0.15)
    metrics = [MetricResult("counterfactual/mse", False, {t: value for t in samples}, value)]
    now = utc_now()
    return RunRecord(
        run_id=run_id, translator=translator, dataset="synthetic", status="complete", seed=0, started=now, ended=now,
        configs={"run": {"pairs": "from-control"},
                 "data_spec": {"channels": list(channels), "image_size": size, "conditions": {"names": names, "control": "DMSO"}}},
        versions={}, git_hash=None, dataset_hash="benchmark", metrics=metrics, samples=samples,
    )


def _jitter(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noisy = images.astype(np.float32) + rng.normal(0.0, 0.03, images.shape)
    return np.clip(noisy, -1, 1).astype(np.float16)


def measure(samples: dict, names: list[str], channels: tuple[str, ...], size: int, methods: int, folder: Path) -> tuple[float, float, bool]:
    store = ResultsStore(folder / f"r-{size}-{methods}-{time.perf_counter_ns()}.h5")
    for k in range(methods):
        if k == 1:
            translated = {t: {**e, "translated": e["source"], "reconstruction": e["source"]} for t, e in samples.items()}
        else:  # new pixels, as a generative model makes: the true counterfactual plus a little noise
            rng = np.random.default_rng(k)
            translated = {t: {**e, "translated": _jitter(e["counterfactual"], rng), "reconstruction": _jitter(e["real"], rng)}
                          for t, e in samples.items()}
        name = "identity" if k == 1 else f"model{k}"
        store.write(record(f"run-{k}", name, translated, names, channels, size))
    start = time.perf_counter()
    path = build_report(store, folder / "out", ReportOptions())
    seconds = time.perf_counter() - start
    html = path.read_text(encoding="utf-8")
    return path.stat().st_size / 1e6, seconds, "size-note" in html


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 96, 128])
    parser.add_argument("--methods", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{'images':>14} {'px':>4} {'methods':>7} {'MB':>7} {'seconds':>8}  rows cut to fit 20 MB?")
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            samples, names, channels = synthetic_samples(size)
            noise = noise_samples(size, names, np.random.default_rng(0))
            for kind, data in (("synthetic", samples), ("uniform noise", noise)):
                for methods in args.methods:
                    megabytes, seconds, cut = measure(data, names, channels, size, methods, Path(folder))
                    print(f"{kind:>14} {size:>4} {methods:>7} {megabytes:>7.2f} {seconds:>8.1f}  {'yes' if cut else 'no'}")


if __name__ == "__main__":
    main()
