"""The metrics inside a real run: identity on the runner's tiny dataset, stored and read back."""

from __future__ import annotations

import pytest

from phenbench.core.plugins import load_registries
from phenbench.core.run_config import RunConfig
from phenbench.core.runner import run_benchmark
from phenbench.core.store import ResultsStore
from phenbench.metrics.plots import write_plots
from tests.core.tiny_plugins import TinyPlugins

METRICS = ("reconstruction", "effect", "fd-cellprofiler", "fid", "classifier")


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PHENBENCH_CACHE", str(tmp / "cache"))
        patch.setenv("TORCH_HOME", str(tmp / "torch"))  # no Inception weights there
        config = RunConfig(
            dataset="tiny", store=str(tmp / "r.h5"), work_dir=str(tmp / "runs"), progress=False,
            pairs="from-control", metrics=METRICS,
            metric_options={"fid": {"allow_download": False}, "fd-cellprofiler": {"components": 2}},
        )
        outcome = run_benchmark(config, load_registries(entry_points=False, extra=(TinyPlugins(),)))
        yield ResultsStore(tmp / "r.h5").read(outcome.record.run_id, samples=True)


def _measures(record):
    return {r.name: r for r in record.metrics}


def test_identity_run_reconstructs_perfectly_and_has_zero_effect(record):
    measures = _measures(record)
    assert record.status == "complete"
    for condition, value in measures["reconstruction/mse"].per_condition.items():
        assert value.value == 0.0, condition
    for condition, value in measures["effect/magnitude-ratio"].per_condition.items():
        assert value.value == 0.0 or "segmented" in (value.missing or ""), condition


def test_fid_without_weights_is_stored_as_missing_with_the_options(record):
    fid = _measures(record)["fid"]
    assert fid.pooled.value is None and "weights_path" in fid.pooled.missing


def test_plots_from_the_stored_run(record, tmp_path):
    written = write_plots(record, tmp_path)
    assert "grid.png" in [p.name for p in written]

