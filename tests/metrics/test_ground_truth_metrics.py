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


def test_contrast_is_the_ratio_of_pixel_spreads_per_channel() -> None:
    """A translation that blends the truth with its own per-channel mean, at weight w, keeps w of
    the truth's spread exactly (a faded ghost); adding a constant changes nothing."""
    base = evaluation(1.0)
    bundle = base.bundles["drug@1"]
    truth = bundle.counterfactuals
    mean = truth.mean(dim=(0, 2, 3), keepdim=True)
    bundle.translated = torch.cat([mean[:, :1] + 0.6 * (truth[:, :1] - mean[:, :1]) + 0.3,
                                   mean[:, 1:] + 1.0 * (truth[:, 1:] - mean[:, 1:])], dim=1)
    results = by_name(CounterfactualError().compute(base))
    c0, c1 = results["counterfactual/contrast-c0"], results["counterfactual/contrast-c1"]
    assert c0.per_condition["drug@1"].value == pytest.approx(0.6, rel=1e-6)
    assert c1.pooled.value == pytest.approx(1.0, rel=1e-6)
    assert c0.ideal == 1.0 and c0.pooled.n == 6
    # The reference: numpy's standard deviations of the same pixels.
    assert c0.pooled.value == pytest.approx(np.std(bundle.translated[:, 0].numpy(), ddof=1)
                                            / np.std(truth[:, 0].numpy(), ddof=1), rel=1e-6)


def test_counterfactual_is_missing_without_ground_truth() -> None:
    results = by_name(CounterfactualError().compute(evaluation(0.5, with_cf=False)))
    assert results["counterfactual/contrast-c0"].pooled.value is None
    value = results["counterfactual/mse"]
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


def test_phenotype_error_of_a_two_by_two_case_with_one_undefined_readout() -> None:
    # Hand-computed: 2 images x 2 readouts, each translated readout 1 SD from the counterfactual's,
    # the second readout of the second image undefined. Per readout, the mean squared distance over
    # the images where it is defined is 1, so the error is sqrt(1 + 1) = 1.414. Counting the
    # undefined entry as 0 while keeping it in the denominator gave sqrt(3 / 2) = 1.225.
    marks = {"real": 0.1, "source": 0.2, "translated": 0.3, "counterfactual": 0.4}
    table = {
        0.1: [[0.0, 0.0], [2.0, 2.0]],  # real images: each readout has SD 1 (numpy's, ddof 0)
        0.2: [[0.0, 0.0], [0.0, 0.0]],
        0.3: [[2.0, 2.0], [2.0, np.nan]],
        0.4: [[1.0, 1.0], [1.0, 1.0]],
    }

    def readouts(images):
        return ["a", "b"], np.array(table[round(float(images[0, 0, 0, 0]), 1)])

    image = {k: torch.full((2, 1, 2, 2), v) for k, v in marks.items()}
    bundle = ConditionBundle(target="drug@1", translated=image["translated"], sources=image["source"],
                             source_conditions=["DMSO"] * 2, real=image["real"], counterfactuals=image["counterfactual"])
    ev = Evaluation(conditions=ConditionSet(["DMSO", "drug@1"]), channels=("c0",), bundles={"drug@1": bundle},
                    readouts=readouts)
    results = by_name(PhenotypeShift().compute(ev))
    assert results["phenotype-error"].per_condition["drug@1"].value == pytest.approx(np.sqrt(2.0))
    assert results["phenotype-error"].pooled.value == pytest.approx(np.sqrt(2.0))
    # The share is unchanged: (t - s) . (c - s) / |c - s|^2 over the 3 defined entries = 6 / 3.
    assert results["phenotype-shift"].per_condition["drug@1"].value == pytest.approx(2.0)
    for name in ("phenotype-shift", "phenotype-error"):  # how many entries were left out is stored
        assert results[name].arrays["undefined/drug@1"][0] == 1 and results[name].arrays["entries/drug@1"][0] == 4


def test_a_readout_undefined_on_every_image_leaves_the_error_missing() -> None:
    # A translator whose outputs can never be measured on a readout must not get a lower error.
    ev = evaluation(0.5)
    translated = ev.bundles["drug@1"].translated

    def readouts(images):
        names, values = channel_means(images)
        if images is translated:
            values[:, 1] = np.nan
        return names, values

    ev.readouts = readouts
    error = by_name(PhenotypeShift().compute(ev))["phenotype-error"].per_condition["drug@1"]
    assert error.value is None and "undefined on every image" in error.missing
