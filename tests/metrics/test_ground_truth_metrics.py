"""The counterfactual and phenotype-shift metrics on constructed cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from phenbench.core.conditions import ConditionSet
from phenbench.core.metric import ConditionBundle, Evaluation
from phenbench.metrics.counterfactual import CounterfactualError
from phenbench.metrics.phenotype_shift import PhenotypeShift


def channel_means(images: torch.Tensor):
    return ["c0", "c1"], images.mean(dim=(2, 3)).numpy().astype(np.float64)


def evaluation(translated_fraction: float, *, n: int = 6, with_cf: bool = True) -> Evaluation:
    """Sources in [-0.5, 0.5]; the true effect adds (0.4, -0.2) per channel; the translator makes a
    given fraction of it."""
    generator = torch.Generator().manual_seed(0)
    sources = torch.rand(n, 2, 4, 4, generator=generator) - 0.5
    delta = torch.tensor([0.4, -0.2])[None, :, None, None]
    counterfactuals = sources + delta
    translated = sources + translated_fraction * delta
    bundle = ConditionBundle(
        target="drug@1", translated=translated, sources=sources, source_conditions=["DMSO"] * n,
        real=counterfactuals.clone(), counterfactuals=counterfactuals if with_cf else None,
    )
    return Evaluation(conditions=ConditionSet(["DMSO", "drug@1"]), channels=("c0", "c1"),
                      bundles={"drug@1": bundle}, readouts=channel_means)


def by_name(results):
    return {r.name: r for r in results}


def test_counterfactual_mse_and_psnr_closed_form() -> None:
    results = by_name(CounterfactualError().compute(evaluation(0.5)))
    # Off by half the effect: (0.2, -0.1) in [-1, 1] units, (0.1, -0.05) in [0, 1] units.
    expected_mse = (0.1**2 + 0.05**2) / 2
    assert results["counterfactual/mse"].per_condition["drug@1"].value == pytest.approx(expected_mse, rel=1e-5)
    assert results["counterfactual/psnr"].pooled.value == pytest.approx(10 * np.log10(1 / expected_mse), rel=1e-5)
    assert results["counterfactual/mse"].per_condition["drug@1"].n == 6
    assert not results["counterfactual/mse"].higher_is_better and results["counterfactual/psnr"].higher_is_better


def test_counterfactual_is_missing_without_ground_truth() -> None:
    value = by_name(CounterfactualError().compute(evaluation(0.5, with_cf=False)))["counterfactual/mse"]
    assert value.per_condition["drug@1"].value is None
    assert "counterfactual" in value.per_condition["drug@1"].missing
    assert value.pooled.value is None


@pytest.mark.parametrize("fraction", [0.0, 0.25, 1.0, -0.5])
def test_phenotype_shift_is_the_fraction_of_the_true_shift(fraction: float) -> None:
    results = by_name(PhenotypeShift().compute(evaluation(fraction)))
    assert results["phenotype-shift"].per_condition["drug@1"].value == pytest.approx(fraction, abs=1e-6)
    assert results["phenotype-shift"].pooled.value == pytest.approx(fraction, abs=1e-6)
    # Its best value is 1 (the whole true shift), not the largest: an overshoot must not win a table.
    assert results["phenotype-shift"].ideal == 1.0 and results["phenotype-error"].ideal is None
    error = results["phenotype-error"].per_condition["drug@1"].value
    assert (error == pytest.approx(0, abs=1e-6)) == (fraction == 1.0)


def test_phenotype_shift_is_missing_without_readouts() -> None:
    ev = evaluation(0.5)
    ev.readouts = None
    result = by_name(PhenotypeShift().compute(ev))["phenotype-shift"]
    assert result.pooled.value is None and "readouts" in result.per_condition["drug@1"].missing


def test_undefined_readouts_are_left_out_not_propagated() -> None:
    def readouts_with_a_gap(images):
        names, values = channel_means(images)
        values[0, 1] = np.nan  # one image where the second readout cannot be measured
        return names, values

    ev = evaluation(0.5)
    ev.readouts = readouts_with_a_gap
    result = by_name(PhenotypeShift().compute(ev))
    assert result["phenotype-shift"].pooled.value == pytest.approx(0.5, abs=1e-6)
    assert np.isfinite(result["phenotype-error"].pooled.value)
