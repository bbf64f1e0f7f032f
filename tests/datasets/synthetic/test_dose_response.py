"""Each compound's effect, measured on rendered images, follows its configured Hill curve.

Readouts are measured on pixels (never read from the parameters). Means are over the same DMSO
cells rendered under each condition (true counterfactuals), so the only thing that changes along
a curve is the treatment.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from phenbench.datasets.synthetic.adapter import SyntheticDataset
from phenbench.datasets.synthetic.config import Compound, Effect, SyntheticConfig
from phenbench.datasets.synthetic.readouts import READOUTS

DENSE_POINTS = 8


def _dense(compound: Compound) -> Compound:
    """The same compound imaged at 8 concentrations from EC50 / 10 to EC50 * 10."""
    concentrations = tuple(float(c) for c in np.geomspace(compound.ec50 / 10, compound.ec50 * 10, DENSE_POINTS))
    return dataclasses.replace(compound, concentrations=concentrations)


@pytest.fixture(scope="module")
def dense_world() -> SyntheticDataset:
    base = SyntheticConfig(train_per_condition=1, test_per_condition=24)
    return SyntheticDataset(dataclasses.replace(base, compounds=tuple(_dense(c) for c in base.compounds)))


def _readout_means(world: SyntheticDataset, rows: np.ndarray, condition: str) -> tuple[list[str], np.ndarray]:
    names, values = world.phenotype_readouts(world.counterfactuals("test", rows, condition))
    assert not np.isnan(values).any(), f"a readout was not measurable under {condition}"
    return names, values.mean(axis=0)


@pytest.mark.parametrize("compound_index", [0, 1])
def test_each_effect_tracks_its_hill_curve_on_images(dense_world: SyntheticDataset, compound_index: int) -> None:
    compound = dense_world.config.compounds[compound_index]
    rows = dense_world.rows("test", "DMSO")
    series = dense_world.conditions.dose_series(compound.name)
    hill = np.array([0.0] + [dense_world.hill_fraction(c) for c in series])
    measured = [_readout_means(dense_world, rows, c) for c in ["DMSO", *series]]
    names = measured[0][0]
    means = np.stack([m for _, m in measured])
    effects = dense_world.effects()
    for _, effect in effects[effects["compound"] == compound.name].iterrows():
        curve = means[:, names.index(effect["readout"])]
        signed = np.sign(effect["max_shift"]) * curve
        r = np.corrcoef(hill, signed)[0, 1]
        assert r > 0.95, f"{compound.name}: {effect['readout']} vs Hill r = {r:.3f} ({np.round(curve, 3)})"
        # Monotone: no step back by more than 2% of the curve's range (on the plateau, where the
        # Hill fraction moves by under 0.03, a step is within the noise of 24 fields).
        steps = np.diff(signed)
        assert steps.min() > -0.02 * np.ptp(signed), f"{compound.name}: {effect['readout']} not monotone: {np.round(curve, 3)}"
        assert np.all(steps[np.diff(hill) > 0.05] > 0), f"{compound.name}: {effect['readout']} flat: {np.round(curve, 3)}"


def test_lowest_dose_is_invisible_and_highest_is_obvious(default_world: SyntheticDataset) -> None:
    rows = default_world.rows("train", "DMSO")
    names, control = default_world.phenotype_readouts(default_world.read("train", rows))
    spread = control.std(axis=0)  # image-to-image spread among DMSO images
    effects = default_world.effects()
    for compound in default_world.conditions.compounds():
        series = default_world.conditions.dose_series(compound)
        readouts = effects.loc[effects["compound"] == compound, "readout"]
        low = default_world.phenotype_readouts(default_world.counterfactuals("train", rows, series[0]))[1]
        high = default_world.phenotype_readouts(default_world.counterfactuals("train", rows, series[-1]))[1]
        for readout in readouts:
            k = names.index(readout)
            low_shift = abs((low[:, k] - control[:, k]).mean()) / spread[k]
            high_shift = abs((high[:, k] - control[:, k]).mean()) / spread[k]
            assert low_shift < 0.5, f"{series[0]} moves {readout} by {low_shift:.2f} SD: visible"
            assert high_shift > 2.0, f"{series[-1]} moves {readout} by only {high_shift:.2f} SD"


def test_unpaired_real_images_show_the_highest_dose_effect(default_world: SyntheticDataset) -> None:
    """What a metric sees: real images of DMSO and of the top dose (different cells), not pairs."""
    names, control = default_world.phenotype_readouts(default_world.read("train", default_world.rows("train", "DMSO")))
    for condition, readout, sign in (("shrinkin@3", "cell_area", -1), ("dispersin@1", "organelle_spread", 1)):
        _, treated = default_world.phenotype_readouts(default_world.read("train", default_world.rows("train", condition)))
        k = names.index(readout)
        difference = sign * (treated[:, k].mean() - control[:, k].mean()) / control[:, k].std()
        assert difference > 2.0, f"{condition}: {readout} differs by {difference:.2f} SD"


def test_readouts_survive_the_noise_of_a_generated_image(default_world: SyntheticDataset) -> None:
    rows = default_world.rows("test")
    images = default_world.read("test", rows)
    generator = torch.Generator().manual_seed(0)
    noisy = (images + 0.08 * torch.randn(images.shape, generator=generator)).clamp(-1, 1)
    names, clean = default_world.phenotype_readouts(images)
    _, measured = default_world.phenotype_readouts(noisy)
    assert np.isnan(measured).mean() < 0.02
    for readout in ("nuclear_area", "cell_area", "actin_rim_intensity", "organelle_spread"):
        k = names.index(readout)
        ok = ~np.isnan(measured[:, k]) & ~np.isnan(clean[:, k])
        r = np.corrcoef(clean[ok, k], measured[ok, k])[0, 1]
        assert r > 0.9, f"{readout}: noisy vs clean r = {r:.3f}"


def test_readouts_of_an_empty_or_misshapen_image() -> None:
    world = SyntheticDataset(SyntheticConfig(train_per_condition=1, test_per_condition=1))
    names, values = world.phenotype_readouts(-torch.ones(2, 3, 64, 64))
    assert values.shape == (2, len(names)) and np.isnan(values).all()  # nothing to measure: missing, not 0
    from phenbench.core.errors import DataError

    with pytest.raises(DataError, match="N x 3 x H x W"):
        world.phenotype_readouts(torch.zeros(1, 4, 64, 64))
    assert world.phenotype_readouts(torch.zeros(0, 3, 64, 64))[1].shape == (0, len(names))


@pytest.mark.parametrize(
    "parameter, max_shift",
    [
        ("nucleus_radius", 1.6),
        ("cytoplasm_radius", -4.0),
        ("dna_intensity", -0.3),
        ("tubulin_intensity", -0.2),
        ("actin_intensity", -0.4),
        ("organelle_dispersion", 0.75),
    ],
)
def test_a_user_compound_on_any_parameter_moves_its_readout(parameter: str, max_shift: float) -> None:
    """Any parameter a user's compound moves has a readout that follows the curve."""
    compound = Compound("userin", tuple(float(c) for c in np.geomspace(0.1, 10, 5)), 1.0, 1.5, (Effect(parameter, max_shift),))
    world = SyntheticDataset(SyntheticConfig(compounds=(compound,), train_per_condition=1, test_per_condition=12))
    rows = world.rows("test", "DMSO")
    readout = world.effects()["readout"].iloc[0]
    hill = np.array([world.hill_fraction(c) for c in world.conditions.names])
    curve = np.array([_readout_means(world, rows, c)[1][READOUTS.index(readout)] for c in world.conditions.names])
    signed = np.sign(max_shift) * curve
    assert np.corrcoef(hill, signed)[0, 1] > 0.95, f"{parameter} -> {readout}: {np.round(curve, 3)}"
    assert np.all(np.diff(signed) > 0), f"{parameter} -> {readout} not monotone: {np.round(curve, 3)}"
