"""Inversion and translation against closed forms: class-conditional Gaussian data (analytic.py).

The paper's schedule (3000 timesteps, scaled-linear betas rescaled to zero terminal SNR,
v-prediction, clipping, 'trailing' spacing) at 10 steps. The exact translation of an image x from
class c to class c' is mu_c' + (x - mu_c); a DDIM walk down that inverts the walk up exactly gives
it at any step count, so every shortfall below is the inversion's.
"""

from __future__ import annotations

import pytest
import torch

from phenbench.core.errors import ConfigError
from phenbench.translators.phendiff.config import PhenDiffConfig
from phenbench.translators.phendiff.edict import edict_generate, edict_invert
from phenbench.translators.phendiff.model import build_scheduler
from phenbench.translators.phendiff.sampling import ddim_generate, ddim_invert, fixed_point_invert, guided, make_grid
from tests.translators.phendiff.analytic import GaussianClasses, cell_like_means, psnr

SOURCE, TARGET = 0, 2


def setting(spacing: str = "trailing", prediction_type: str = "v_prediction", steps: int = 10, sigma: float = 0.1):
    config = PhenDiffConfig(timestep_spacing=spacing, prediction_type=prediction_type,
                            inversion_steps=steps, inference_steps=steps)
    scheduler = build_scheduler(config)
    grid = make_grid(scheduler, steps)
    # Means in [-0.5, 0.4] and sigma 0.1: every pixel stays inside the clipping range [-1, 1].
    model = GaussianClasses(cell_like_means(3) * 0.6, sigma, scheduler.alphas_cumprod, prediction_type)
    images = model.sample(torch.full((8,), SOURCE), torch.Generator().manual_seed(0))
    assert (images.abs().max() < 1) == (sigma <= 0.1)
    truth = model.counterfactual(images, torch.full((8,), SOURCE), torch.full((8,), TARGET))
    return grid, model, images, truth


def scores(model, grid, images, truth, latents) -> tuple[float, float]:
    source, target = torch.full((8,), SOURCE), torch.full((8,), TARGET)
    reconstruction = ddim_generate(model, latents, source, grid)
    translation = ddim_generate(model, latents, target, grid)
    return psnr(reconstruction, images), psnr(translation, truth)


def test_the_paper_grid_reaches_zero_snr_and_the_analytic_model_minimises_the_training_loss() -> None:
    grid, model, images, truth = setting()
    assert grid.timesteps == list(range(299, 3000, 300))
    assert grid.alpha(10) == 0.0
    # The exact v-prediction is the minimiser of PhenDiff's training loss: any other predictor,
    # here scaled or shifted by a little, has a higher loss on fresh draws of (x0, noise).
    generator = torch.Generator().manual_seed(1)
    classes = torch.full((256,), SOURCE)
    x0 = model.sample(classes, generator)
    noise = torch.randn(x0.shape, generator=generator)
    for timestep in (299, 1499, 2999):
        a = float(model.alphas[timestep])
        noisy = a**0.5 * x0 + (1 - a) ** 0.5 * noise
        target = a**0.5 * noise - (1 - a) ** 0.5 * x0
        v = model(noisy, timestep, classes)
        loss = (v - target).pow(2).mean()
        assert loss < (1.05 * v - target).pow(2).mean()
        assert loss < (v + 0.02 - target).pow(2).mean()


def test_plain_ddim_inversion_loses_the_image_by_a_pinned_amount() -> None:
    """Plain DDIM inversion evaluates the network one level too low: 27.8 dB at 10 steps."""
    grid, model, images, truth = setting()
    reconstruction, translation = scores(model, grid, images, truth, ddim_invert(model, images,
                                                                                 torch.full((8,), SOURCE), grid))
    assert reconstruction == pytest.approx(27.8, abs=0.3)
    assert translation == pytest.approx(27.8, abs=0.3)


@pytest.mark.parametrize("spacing", ["trailing", "leading"])
def test_fixed_point_inversion_reconstructs_and_translates_exactly(spacing: str) -> None:
    grid, model, images, truth = setting(spacing)
    latents = fixed_point_invert(model, images, torch.full((8,), SOURCE), grid, 2, "v_prediction")
    reconstruction, translation = scores(model, grid, images, truth, latents)
    assert reconstruction >= 40
    assert translation >= 40


def test_zero_iterations_is_plain_ddim() -> None:
    grid, model, images, _ = setting()
    classes = torch.full((8,), SOURCE)
    torch.testing.assert_close(fixed_point_invert(model, images, classes, grid, 0, "v_prediction"),
                               ddim_invert(model, images, classes, grid), rtol=0, atol=0)


def test_more_iterations_do_not_diverge_on_pixels_clipping_cannot_reach() -> None:
    """sigma 0.3: some pixels lie outside [-1, 1], where the clipped generation step cannot land."""
    grid, model, images, truth = setting(sigma=0.3)
    classes = torch.full((8,), SOURCE)
    figures = [scores(model, grid, images, truth, fixed_point_invert(model, images, classes, grid, n,
                                                                     "v_prediction"))[0] for n in (0, 2, 5)]
    assert figures[1] > figures[0] + 5
    assert figures[2] > figures[1] - 1


def test_guided_generation_is_inverted_with_the_guided_network() -> None:
    """Classifier-free guidance with a null class whose images are the mean of the others: the
    guided prediction is again linear in its input, so the fixed point reconstructs exactly if,
    and only if, the inversion iterates with the same guided network."""
    grid, model, images, _ = setting()
    means = torch.cat([model.means, model.means.mean(0, keepdim=True)])  # class 3: the null class
    with_null = GaussianClasses(means, model.sigma, model.alphas)
    network = guided(with_null, null_class=3, scale=1.5)
    source = torch.full((8,), SOURCE)
    consistent = fixed_point_invert(network, images, source, grid, 2, "v_prediction")
    unguided = fixed_point_invert(with_null, images, source, grid, 2, "v_prediction")
    assert psnr(ddim_generate(network, consistent, source, grid), images) >= 40
    assert psnr(ddim_generate(network, unguided, source, grid), images) < 35


def test_epsilon_models_iterate_too() -> None:
    grid, model, images, truth = setting("leading", "epsilon")
    latents = fixed_point_invert(model, images, torch.full((8,), SOURCE), grid, 2, "epsilon")
    reconstruction, translation = scores(model, grid, images, truth, latents)
    assert reconstruction >= 40
    assert translation >= 40


def test_edict_in_its_paper_form_diverges_under_a_class_change() -> None:
    """EDICT written in the noise (epsilon) estimate: the own-sample factor sqrt(alpha_{s-1}/alpha_s)
    reaches 1/sqrt(alpha) near the top, and any change of class is amplified by it."""
    grid, model, images, truth = setting("leading", "epsilon")
    source, target = torch.full((8,), SOURCE), torch.full((8,), TARGET)
    pair = edict_invert(model, images, source, grid, 0.93, "epsilon")
    assert psnr(edict_generate(model, pair, source, grid, 0.93, "epsilon"), images) > 100
    assert psnr(edict_generate(model, pair, target, grid, 0.93, "epsilon"), truth) < 0  # worse than noise


def test_edict_in_v_form_is_exact_and_translates() -> None:
    """The same DDIM step split as cos(dphi) x - sin(dphi) v(y): factors at most 1, defined at alpha = 0."""
    grid, model, images, truth = setting("trailing", "v_prediction")
    source, target = torch.full((8,), SOURCE), torch.full((8,), TARGET)
    pair = edict_invert(model, images, source, grid, 0.93, "v_prediction")
    assert psnr(edict_generate(model, pair, source, grid, 0.93, "v_prediction"), images) > 100
    assert psnr(edict_generate(model, pair, target, grid, 0.93, "v_prediction"), truth) > 35
    assert psnr(images, truth) < 21  # the identity is far from the truth


def test_edict_with_an_epsilon_model_refuses_a_zero_snr_top_level() -> None:
    grid, model, images, _ = setting("trailing", "epsilon")
    with pytest.raises(ConfigError, match="alpha = 0"):
        edict_invert(model, images, torch.full((8,), SOURCE), grid, 0.93, "epsilon")
