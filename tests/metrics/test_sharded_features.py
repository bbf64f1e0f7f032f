"""Feature extraction shared out across processes (Metric.prepare) gives a one-process run's values.

The reference is each metric's own `compute` on a fresh evaluation, extracting as it goes; the
shared path must measure exactly the sets `compute` reads (no fewer: scoring then finds them all
memoised; no more: no wasted work) and give the same numbers, on one process and on two.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import phenbench.metrics.cp_features as cp_features
import phenbench.metrics.fidelity as fidelity
import phenbench.metrics.sharded_features as sharded
from phenbench.core.sharding import Shard
from phenbench.metrics.cp_features import FeatureExtractor
from phenbench.metrics.sharded_features import CellImageSet, measure_cell_sets
from tests.metrics.helpers import register_tiny_extractor
from tests.metrics.sharded_scoring import metrics, score, small_evaluation
from tests.torchrun import run_two_processes, single_thread_env

SCRIPT = Path(__file__).with_name("sharded_scoring.py")


@pytest.fixture(scope="module")
def evaluation():
    return small_evaluation()


@pytest.fixture(scope="module")
def reference(evaluation):
    """One process, no sharing: the values, and how many crops CellProfiler measured."""
    fresh = dataclasses.replace(evaluation, options={})
    counted = {"images": 0}
    plain = cp_features.extract

    def counting(images, *args):
        counted["images"] += len(images)
        return plain(images, *args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cp_features, "extract", counting)
        values = score(fresh, metrics(register_tiny_extractor()))
    return values, counted["images"]


def test_prepared_features_are_all_that_scoring_reads_and_no_more(evaluation, reference, monkeypatch):
    expected, measured_by_compute = reference
    fresh = dataclasses.replace(evaluation, options={})
    chosen = metrics(register_tiny_extractor())
    counted = {"images": 0}
    plain = sharded.extract

    def counting(images, *args):
        counted["images"] += len(images)
        return plain(images, *args)

    monkeypatch.setattr(sharded, "extract", counting)
    for metric in chosen.values():
        metric.prepare(fresh, Shard())
    assert counted["images"] == measured_by_compute > 50

    def refuse(*args, **kwargs):
        raise AssertionError("compute measured images that prepare had not")

    monkeypatch.setattr(cp_features, "extract", refuse)
    monkeypatch.setattr(fidelity, "extract_features", refuse)
    got = score(fresh, chosen)
    assert set(got) == set(expected) and len(got) > 20
    assert not np.isnan([got["fid/shrinkin@3"], got["kid/shrinkin@3"], got["effect/counterfactual-error/shrinkin@3"]]).any()
    # The values themselves are compared between fresh processes (the tests below): in this process,
    # the CellProfiler granularity of an image can depend on what earlier tests measured (seen after
    # the BBBC021 crop tests: cp-measure 0.3.0), which no phenbench code controls.


def test_a_chunk_without_any_cell_joins_the_others_by_feature_name(evaluation, tmp_path, monkeypatch):
    monkeypatch.setenv("PHENBENCH_CACHE", str(tmp_path))
    bundle = next(iter(evaluation.bundles.values()))
    noise = torch.rand(3, *bundle.real.shape[1:], generator=torch.Generator().manual_seed(0)) * 2 - 1
    sets = [CellImageSet(noise), CellImageSet(bundle.real[:5], real_condition=bundle.target)]
    fresh = dataclasses.replace(evaluation, options={})
    # 8 crops in 4 chunks: the first chunks hold only noise, which has no plausible cell.
    measure_cell_sets(FeatureExtractor(fresh), sets, Shard())
    alone = FeatureExtractor(dataclasses.replace(evaluation, options={}), disk_cache=False)
    for image_set in sets:
        want = alone.features(image_set.images)
        got = FeatureExtractor(fresh, disk_cache=False).features(image_set.images)  # from the memo
        assert got.names == want.names and np.array_equal(got.failures, want.failures)
        np.testing.assert_array_equal(got.values, want.values)
    assert not (FeatureExtractor(fresh).features(noise).failures == 0).any()
    assert len(list((tmp_path / "features").glob("*.npz"))) == 1  # the real set, stored by the main process


@pytest.fixture(scope="module")
def one_process_values(tmp_path_factory) -> dict[str, float]:
    """The values of `compute` alone, from a process set up as the launched ones are."""
    out = tmp_path_factory.mktemp("one-process")
    completed = subprocess.run([sys.executable, str(SCRIPT), str(out), "reference"], env=single_thread_env(),
                               capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads((out / "reference.json").read_text())["values"]


def test_two_processes_share_the_extraction_and_score_what_one_computes(reference, one_process_values, tmp_path):
    _, measured_by_compute = reference
    expected = one_process_values
    completed = run_two_processes(str(SCRIPT), str(tmp_path), timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank-{r}.json").read_text()) for r in (0, 1)]
    assert [r["processes"] for r in ranks] == [2, 2]
    cells = [r["measured"]["cellprofiler"] for r in ranks]
    deep = [r["measured"]["deep"] for r in ranks]
    assert sum(cells) == measured_by_compute and min(cells) > 0.3 * measured_by_compute  # each did its share
    assert min(deep) > 0
    got = ranks[0]["values"]
    assert set(got) == set(expected)
    np.testing.assert_allclose([got[k] for k in expected], list(expected.values()), rtol=1e-9, equal_nan=True)


def test_a_process_without_the_extractor_weights_leaves_the_deep_features_to_rank_0(one_process_values,
                                                                                     tmp_path) -> None:
    expected = one_process_values
    completed = run_two_processes(str(SCRIPT), str(tmp_path), "weights-on-rank-0-only", timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]  # and no process hung in a gather
    ranks = [json.loads((tmp_path / f"rank-{r}.json").read_text()) for r in (0, 1)]
    assert ranks[1]["measured"]["deep"] == 0 and ranks[1]["measured"]["cellprofiler"] > 0
    got = ranks[0]["values"]
    np.testing.assert_allclose([got[k] for k in expected], list(expected.values()), rtol=1e-9, equal_nan=True)
