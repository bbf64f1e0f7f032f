"""The metrics inside real runs of the identity translator on a small synthetic world, stored and
read back: every measure either has the value copying the source must get, or is missing with
the reason it must be missing for."""

from __future__ import annotations

import pytest

from phenbench.core.plugins import load_registries
from phenbench.core.run_config import RunConfig
from phenbench.core.runner import run_benchmark
from phenbench.core.store import ResultsStore
from phenbench.metrics.plots import write_plots
from tests.metrics.small_world import SMALL_WORLD, TARGETS

METRICS = ("reconstruction", "effect", "cellprofiler", "dose-response", "fd-cellprofiler", "source-fidelity",
           "segmentation-failures", "phenotype-shift", "fid")
FEATURE_METRICS = ("effect", "cellprofiler", "dose-response", "fd-cellprofiler", "source-fidelity",
                   "segmentation-failures")


def _run(tmp, max_images):
    config = RunConfig(
        dataset="synthetic", dataset_config=SMALL_WORLD, store=str(tmp / "r.h5"), work_dir=str(tmp / "runs"),
        progress=False, pairs="from-control", metrics=METRICS,
        metric_options={"fid": {"allow_download": False}, "fd-cellprofiler": {"components": 3, "max_images": max_images},
                        **{m: {"max_images": max_images} for m in FEATURE_METRICS if m != "fd-cellprofiler"}},
    )
    outcome = run_benchmark(config, load_registries(entry_points=False))
    return ResultsStore(tmp / "r.h5").read(outcome.record.run_id, samples=True)


@pytest.fixture(scope="module", params=[None, 7], ids=["all-cells", "subsampled"])
def record(request, tmp_path_factory):
    # 7 < 12 test images: the CellProfiler metrics subsample, where identity used to move.
    tmp = tmp_path_factory.mktemp("run")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PHENBENCH_CACHE", str(tmp / "cache"))
        patch.setenv("TORCH_HOME", str(tmp / "torch"))  # no Inception weights there
        yield _run(tmp, request.param)


def _measures(record):
    return {r.name: r for r in record.metrics}


def test_identity_reconstructs_perfectly_and_keeps_every_source(record):
    measures = _measures(record)
    assert record.status == "complete"
    for target in TARGETS:
        assert measures["reconstruction/mse"].per_condition[target].value == 0.0
        assert measures["source-fidelity"].per_condition[target].value == 1.0
        assert measures["segmentation-failures"].per_condition[target].value == 0.0
        assert measures["phenotype-shift"].per_condition[target].value == 0.0
        scored = measures["source-fidelity"].per_condition[target].n  # 12, or 7 when subsampled
        assert measures["source-fidelity"].floor[target].value == pytest.approx(1 / min(10, scored))  # chance: 1/K


def test_identity_has_zero_effect_and_no_correlation_at_any_n(record):
    measures = _measures(record)
    for target in TARGETS[1:]:  # the doses whose real effect stands out of 7 cells' noise
        assert measures["effect/magnitude-ratio"].per_condition[target].value == 0.0  # a value, not missing
    for target in TARGETS:
        assert "do not move" in measures["effect/cosine"].per_condition[target].missing
    cellprofiler = measures["cellprofiler/median-r"]
    assert cellprofiler.per_condition["shrinkin"].value is None and "do not vary" in cellprofiler.per_condition["shrinkin"].missing
    assert cellprofiler.floor["shrinkin"].value is not None  # real cells do vary with the dose
    assert measures["dose-response/spearman-translated"].per_condition["shrinkin"].value == 0.0
    assert measures["dose-response/spearman-real"].per_condition["shrinkin"].value > 0.3


def test_distances_sit_above_their_matched_floors_and_values_record_their_rows(record):
    fd = _measures(record)["fd-cellprofiler"]
    assert fd.per_condition["shrinkin@3"].value > fd.floor["shrinkin@3"].value
    assert fd.pooled.value is not None and fd.floor["pooled"].value is not None
    assert {m.rows_digest for m in record.metrics} == {record.metrics[0].rows_digest} != {None}


def test_fid_without_weights_is_stored_as_missing_with_the_options(record):
    fid = _measures(record)["fid"]
    assert fid.pooled.value is None and "weights_path" in fid.pooled.missing


def test_plots_from_the_stored_run(record, tmp_path):
    written = write_plots(record, tmp_path)
    assert "grid.png" in [p.name for p in written]
