"""What `translate` does from each kind of source, on the exact Gaussian flows (test_analytic_flow.py).

The translator's network is replaced by the exact marginal velocities of two straight-path flows
from the control distribution N(M0, S0^2): to the treated N(M1, S1^2) (condition drug@1) and to
itself (condition DMSO, whose transport map is the identity). With the start noise off, translation
is then a known map per pixel, so the backward pass through a treated cell's own flow can be
checked against the inverse transport map, and its reconstruction against the cell itself.
"""

from __future__ import annotations

import pytest
import torch

from phenbench.core.conditions import ConditionSet
from phenbench.core.dataset import DataSpec
from phenbench.core.errors import ConfigError
from phenbench.translators.cellflux.config import CellFluxConfig
from phenbench.translators.cellflux.translator import CellFluxTranslator
from tests.translators.cellflux.test_analytic_flow import M0, M1, S0, S1, ot_map


def gaussian_velocity(x: torch.Tensor, t: torch.Tensor, m1: float, s1: float) -> torch.Tensor:
    mean = (1 - t) * M0 + t * m1
    variance = (1 - t) ** 2 * S0**2 + t**2 * s1**2
    return (m1 - M0) + (t * s1**2 - (1 - t) * S0**2) / variance * (x - mean)


class ExactFlows(torch.nn.Module):
    """Condition 0 (DMSO): control -> control; condition 1 (drug@1): control -> treated."""

    def forward(self, x: torch.Tensor, t: torch.Tensor, conditions: torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=x.dtype)
        treated = (conditions == 1).to(x.dtype)[:, None, None, None]
        return treated * gaussian_velocity(x, t, M1, S1) + (1 - treated) * gaussian_velocity(x, t, M0, S0)


def exact_translator(**changes) -> CellFluxTranslator:
    spec = DataSpec(channels=("ch0",), image_size=8, conditions=ConditionSet(["DMSO", "drug@1"]))
    values = dict(block_out_channels=(8,), layers_per_block=1, attention_levels=(), norm_num_groups=4,
                  noise_level=0.0, guidance_scale=1.0, ode_method="heun2", sampling_steps=40, time_grid="uniform")
    config = CellFluxConfig(**{**values, **changes})
    translator = CellFluxTranslator(config, spec)
    translator.ema_network = ExactFlows()
    return translator


def cells(levels: torch.Tensor) -> torch.Tensor:
    return levels[:, None, None, None].expand(-1, 1, 8, 8).clone().float()


LEVELS = torch.linspace(-2, 2, 9)


def test_a_control_cell_flows_along_the_transport_map() -> None:
    translator = exact_translator()
    controls = cells(M0 + S0 * LEVELS)
    result = translator.translate(controls, "DMSO", "drug@1")
    torch.testing.assert_close(result.images, ot_map(controls), rtol=0, atol=2e-3)
    assert result.nfe == 40 * 2  # Heun: two evaluations per step, no guidance


def test_a_treated_cell_goes_back_through_its_own_flow() -> None:
    translator = exact_translator()
    treated = cells(M1 + S1 * LEVELS)
    to_control = translator.translate(treated, "drug@1", "DMSO")
    # Back along drug@1's flow to the control cell it came from, then DMSO's flow (the identity map).
    torch.testing.assert_close(to_control.images, M0 + S0 / S1 * (treated - M1), rtol=0, atol=3e-3)
    assert to_control.nfe == 2 * 40 * 2  # the backward pass doubles the cost
    # Its reconstruction (backward, then forward under its own condition) returns the cell.
    torch.testing.assert_close(translator.reconstruct(treated, "drug@1").images, treated, rtol=0, atol=3e-3)


def test_a_model_without_control_targets_refuses_to_translate_to_the_control() -> None:
    translator = exact_translator(learn_control_target=False)
    with pytest.raises(ConfigError, match="learn_control_target"):
        translator.translate(cells(M1 + S1 * LEVELS), "drug@1", "DMSO")


def test_start_noise_depends_on_the_image_not_its_batch() -> None:
    translator = exact_translator(noise_level=1.0)
    controls = cells(M0 + S0 * LEVELS)
    alone = translator.translate(controls[3:4], "DMSO", "drug@1").images
    in_batch = translator.translate(controls, "DMSO", "drug@1").images[3:4]
    torch.testing.assert_close(alone, in_batch, rtol=0, atol=1e-6)
    # ...and the noise is really there: another sampling seed gives another translation.
    reseeded = exact_translator(noise_level=1.0, sampling_seed=1).translate(controls[3:4], "DMSO", "drug@1").images
    assert (reseeded - alone).abs().mean() > 0.01
