"""The protocol aggregates of `fid` and `kid` (FIDo/FIDc, KIDo/KIDc) against torch-fidelity on the
same images, with an injected extractor; and CellFlux's per-class KID defect, reproduced."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from phenbench.core.errors import ConfigError
from phenbench.metrics.base import condition_seed
from phenbench.metrics.fidelity import FID, KID
from phenbench.metrics.fidelity_protocol import class_rows, overall_selection
from phenbench.metrics.inception_features import ExtractorSpec, extract_features
from tests.metrics.helpers import blobs, make_evaluation, register_tiny_extractor, torch_fidelity_metrics

TARGETS = ("drug@1", "other@1")


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    monkeypatch.setenv("PHENBENCH_CACHE", str(tmp_path))
    return register_tiny_extractor()


def _evaluation(n_translated=30, n_real=30):
    real = {"DMSO": blobs(30, seed=9), "drug@1": blobs(n_real, brightness=0.4, seed=1),
            "other@1": blobs(n_real, brightness=-0.3, seed=2)}
    translated = {"drug@1": blobs(n_translated, brightness=0.1, seed=3), "other@1": blobs(n_translated, seed=4)}
    return make_evaluation(real, translated), real, translated


def _measures(results):
    return {r.name: r for r in results}


def test_overall_and_per_class_mean_equal_torch_fidelity_on_the_same_images(tiny):
    evaluation, real, translated = _evaluation(n_translated=24, n_real=30)
    options = dict(feature_extractor=tiny, aggregates=True, kid_subsets=5, kid_subset_size=8, bootstrap=0)
    fid = _measures(FID(**options).compute(evaluation))
    kid = _measures(KID(**options).compute(evaluation))
    chosen_t, chosen_r = {}, {}
    for target in TARGETS:  # N per class: min(24 translated, 30 real) = 24 on both sides
        t_rows, r_rows = class_rows(24, 30, None, condition_seed(evaluation, target, "protocol"))
        chosen_t[target], chosen_r[target] = translated[target][t_rows], real[target][r_rows]
        reference = torch_fidelity_metrics(chosen_t[target], chosen_r[target], tiny, 8)
        value = fid["fid/per-class-mean"].per_condition[target]
        assert value.n == 24 and value.value == pytest.approx(reference["frechet_inception_distance"], rel=1e-6)
        assert kid["kid/per-class-mean"].per_condition[target].value == pytest.approx(
            reference["kernel_inception_distance_mean"], rel=1e-4)
    per_class = [fid["fid/per-class-mean"].per_condition[t].value for t in TARGETS]
    assert fid["fid/per-class-mean"].pooled.value == pytest.approx(np.mean(per_class))  # FIDc: unweighted mean
    both = torch_fidelity_metrics(torch.cat([chosen_t[t] for t in TARGETS]), torch.cat([chosen_r[t] for t in TARGETS]),
                                  tiny, 8)
    assert fid["fid/overall"].pooled.value == pytest.approx(both["frechet_inception_distance"], rel=1e-6)
    assert fid["fid/overall"].pooled.n == 48
    assert kid["kid/overall"].pooled.value == pytest.approx(both["kernel_inception_distance_mean"], rel=1e-4)
    # The matched-halves measure is still there, unchanged, beside the aggregates.
    assert {"fid", "fid/overall", "fid/per-class-mean"} == set(fid)


def test_the_overall_cap_keeps_the_class_mix_on_both_sides(tiny):
    evaluation, _, _ = _evaluation()
    fid = _measures(FID(feature_extractor=tiny, aggregates=True, overall_images=20, bootstrap=0).compute(evaluation))
    assert fid["fid/overall"].pooled.n == 20
    chosen = overall_selection({"a": 30, "b": 30}, 20, seed=0)
    assert sum(len(v) for v in chosen.values()) == 20 and all(len(set(v)) == len(v) for v in chosen.values())
    # Paired sets (batch-matched, equal sizes) keep the same positions on both sides.
    t_rows, r_rows = class_rows(30, 30, 12, seed=3)
    assert len(t_rows) == 12 and (t_rows == r_rows).all()


def test_per_class_kid_is_computed_per_class_and_cellflux_accumulation_is_not(tiny):
    # Two classes far apart: CellFlux's eval_fid.py updates its one *overall* KID object with each
    # class in turn, so "class 2's KID" is the KID of (all images + class 1 + class 2), not class 2's.
    evaluation, real, translated = _evaluation()
    kid = _measures(KID(feature_extractor=tiny, aggregates=True, kid_subsets=5, kid_subset_size=100,
                        bootstrap=0).compute(evaluation))
    spec = ExtractorSpec(name=tiny)
    features = {t: (extract_features(translated[t], spec), extract_features(real[t], spec)) for t in TARGETS}
    metric = KID(kid_subsets=5, kid_subset_size=100)
    correct = {t: metric.protocol_kid(*features[t]) for t in TARGETS}
    accumulated_t = np.concatenate([features[t][0] for t in TARGETS])  # the overall update
    accumulated_r = np.concatenate([features[t][1] for t in TARGETS])
    cellflux = {}
    for t in TARGETS:  # then each class appended to the same object
        accumulated_t = np.concatenate([accumulated_t, features[t][0]])
        accumulated_r = np.concatenate([accumulated_r, features[t][1]])
        cellflux[t] = metric.protocol_kid(accumulated_t, accumulated_r)
    for t in TARGETS:
        ours = kid["kid/per-class-mean"].per_condition[t].value
        assert ours == pytest.approx(correct[t], rel=1e-9)
        assert abs(cellflux[t] - correct[t]) > 0.25 * abs(correct[t])  # a different, wrong answer
    # The two classes differ; the accumulated values drift towards the mixture's.
    assert abs(correct["drug@1"] - correct["other@1"]) > 0.1 * max(correct.values())


def test_protocol_preset_sets_the_sizes_and_explicit_options_win():
    options = FID(protocol="impa-bbbc021").options
    assert options.aggregates and options.overall_images == 5120 and options.kid_subset_size == 100
    assert KID(protocol="impa-bbbc021", kid_subset_size=50).options.kid_subset_size == 50
    with pytest.raises(Exception, match="Did you mean: impa-bbbc021"):
        FID(protocol="impa-bbbc02")
    with pytest.raises(ConfigError, match="overall_images must be at least 2"):
        FID(overall_images=1)


def test_aggregates_are_missing_with_the_reason_without_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    evaluation, _, _ = _evaluation(n_translated=6, n_real=6)
    fid = _measures(FID(allow_download=False, aggregates=True, bootstrap=0).compute(evaluation))
    for name in ("fid/overall", "fid/per-class-mean"):
        assert fid[name].pooled.value is None and "weights_path" in fid[name].pooled.missing
    assert "weights_path" in fid["fid/per-class-mean"].per_condition["drug@1"].missing
