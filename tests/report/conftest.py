"""Stores for report tests: real runs of two translators on synthetic, and hand-built records."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from phenbench import hookimpl
from phenbench.core.metric import MetricResult, MetricValue
from phenbench.core.registry import Registration
from phenbench.core.store import ResultsStore, RunRecord, utc_now

EXAMPLE_SRC = Path(__file__).resolve().parents[2] / "examples" / "phenbench-example-plugin" / "src"
SYNTHETIC_CONFIG = {"image_size": 32, "train_per_condition": 8, "test_per_condition": 8}
# The CellProfiler metrics store the arrays of the report's dose-response and correlation plots.
METRICS = ("counterfactual", "reconstruction", "cellprofiler", "dose-response")
FEATURE_METRICS = ("cellprofiler", "dose-response")  # no disk cache in tests


class ExamplePlugin:
    """Registers the example package's `channel-shift` translator (not installed in the venv)."""

    @hookimpl
    def register_translators(self):
        return [Registration("channel-shift", "phenbench_example_plugin.translator:ChannelShiftTranslator")]


@pytest.fixture(scope="session")
def synthetic_store(tmp_path_factory) -> ResultsStore:
    """A store with runs of identity and channel-shift on synthetic (9 conditions, 32 x 32, the
    paper's pairs: DMSO to every other condition)."""
    import torch

    from phenbench.core.plugins import load_registries
    from phenbench.core.run_config import RunConfig
    from phenbench.core.runner import run_benchmark

    torch.set_num_threads(1)
    sys.path.insert(0, str(EXAMPLE_SRC))
    folder = tmp_path_factory.mktemp("report-store")
    registries = load_registries(entry_points=False, extra=(ExamplePlugin(),))
    for translator in ("identity", "channel-shift"):
        config = RunConfig(
            translator=translator, dataset="synthetic", store=str(folder / "results.h5"),
            work_dir=str(folder / "runs"), progress=False, dataset_config=SYNTHETIC_CONFIG,
            pairs="from-control", metrics=METRICS, metric_options={m: {"cache": False} for m in FEATURE_METRICS},
        )
        run_benchmark(config, registries)
    return ResultsStore(folder / "results.h5")


CONDITIONS = ["DMSO", "drug@1", "drug@10"]


def value(x: float, n: int = 4) -> MetricValue:
    return MetricValue(x, n=n, ci_low=x - 0.1, ci_high=x + 0.1)


def make_record(
    run_id: str,
    translator: str,
    samples: dict[str, dict[str, np.ndarray]],
    *,
    conditions: list[str] = CONDITIONS,
    channels: tuple[str, ...] = ("DNA", "tubulin", "actin"),
    metrics: list[MetricResult] | None = None,
    image_size: int = 8,
) -> RunRecord:
    """A complete run record on dataset 'toy' with the given samples."""
    if metrics is None:
        metrics = [MetricResult("mse", False, {c: value(0.5) for c in samples}, value(0.5))]
    now = utc_now()
    return RunRecord(
        run_id=run_id, translator=translator, dataset="toy", status="complete", seed=0, started=now, ended=now,
        configs={"data_spec": {"channels": list(channels), "image_size": image_size,
                               "conditions": {"names": conditions, "control": "DMSO"}}},
        versions={}, git_hash=None, dataset_hash="h", metrics=metrics, samples=samples,
    )


def all_pairs_samples(rng: np.random.Generator, n: int = 2, channels: int = 3, size: int = 8,
                      conditions: list[str] = CONDITIONS, shift: float = 0.0) -> dict:
    """Samples as the runner stores them under `pairs: all`: per target, the sources of every other
    condition in condition order, their translations (source + shift) and real images."""
    real = {c: rng.uniform(-1, 1, (n, channels, size, size)).astype(np.float16) for c in conditions}
    samples = {}
    for target in conditions:
        sources = np.concatenate([real[s] for s in conditions if s != target])
        samples[target] = {
            "source": sources,
            "translated": np.clip(sources.astype(np.float32) + shift, -1, 1).astype(np.float16),
            "real": real[target],
        }
    return samples
