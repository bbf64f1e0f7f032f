"""DDIM on one grid and one alpha table, EDICT exactness, guidance, and batched translation."""

from __future__ import annotations

import pytest
import torch

from phenbench.core.errors import ConfigError
from phenbench.datasets.in_memory import random_dataset
from phenbench.translators.phendiff.config import PhenDiffConfig
from phenbench.translators.phendiff.edict import edict_generate, edict_invert
from phenbench.translators.phendiff.model import DDIMInverseScheduler, build_scheduler, build_unet
from phenbench.translators.phendiff.sampling import Grid, ddim_generate, ddim_invert, guided, make_grid
from phenbench.translators.phendiff.translator import PhenDiffTranslator
from tests.translators.phendiff.test_contract import tiny_config


def constant_noise_denoiser(noise: torch.Tensor):
    """An epsilon-predictor that ignores its input: DDIM then is affine per step, and inversion is
    its exact inverse if and only if both directions use the same noise levels."""
    return lambda samples, timestep, classes: noise.expand_as(samples)


def epsilon_config(**changes) -> PhenDiffConfig:
    settings = dict(prediction_type="epsilon", clip_sample=False, num_train_timesteps=1000,
                    inversion_steps=10, inference_steps=10, timestep_spacing="leading")
    return PhenDiffConfig(**{**settings, **changes})


def test_inversion_and_generation_share_the_grid_and_alphas() -> None:
    grid = make_grid(build_scheduler(epsilon_config()), 10)
    assert grid.timesteps == list(range(0, 1000, 100))
    assert torch.equal(grid.inverse.alphas_cumprod, grid.scheduler.alphas_cumprod)
    images = torch.rand(2, 3, 4, 4) * 2 - 1
    noise = torch.randn(1, 3, 4, 4)
    denoise = constant_noise_denoiser(noise)
    classes = torch.zeros(2, dtype=torch.long)
    latents = ddim_invert(denoise, images, classes, grid)
    assert (latents - images).abs().max() > 0.5  # it did move to a noise level
    back = ddim_generate(denoise, latents, classes, grid)
    torch.testing.assert_close(back, images, rtol=0, atol=1e-4)


def test_a_mismatched_inverse_scheduler_breaks_reconstruction() -> None:
    """The research code's defect, reproduced on purpose: it fails the check above (the test can fail)."""
    scheduler = build_scheduler(epsilon_config())
    scheduler.set_timesteps(10)
    other = DDIMInverseScheduler.from_config({**scheduler.config, "rescale_betas_zero_snr": False,
                                              "beta_schedule": "linear"})
    other.set_timesteps(10)
    grid = Grid(list(range(0, 1000, 100)), scheduler, other)
    images = torch.rand(2, 3, 4, 4) * 2 - 1
    denoise = constant_noise_denoiser(torch.randn(1, 3, 4, 4))
    classes = torch.zeros(2, dtype=torch.long)
    back = ddim_generate(denoise, ddim_invert(denoise, images, classes, grid), classes, grid)
    assert (back - images).abs().max() > 1e-2


def test_a_grid_that_cannot_be_shared_is_refused() -> None:
    """'trailing' spacing with a step count that does not divide the training timesteps: the
    diffusers step stride (integer division) and the grid (rounded floats) disagree."""
    scheduler = build_scheduler(PhenDiffConfig(num_train_timesteps=1000, timestep_spacing="trailing",
                                               inversion_steps=10, inference_steps=10))
    assert make_grid(scheduler, 10).timesteps == list(range(99, 1000, 100))
    with pytest.raises(ConfigError, match="one uniform grid"):
        make_grid(scheduler, 30)


def test_unequal_inversion_and_generation_steps_are_refused() -> None:
    with pytest.raises(ValueError, match="must equal"):
        PhenDiffConfig(inversion_steps=50, inference_steps=100)


def test_edict_inverts_a_random_network_to_float_precision() -> None:
    torch.manual_seed(0)
    data = random_dataset(channels=2, image_size=8)
    config = tiny_config(0)
    unet = build_unet(config, data.spec).eval()
    grid = make_grid(build_scheduler(config), 4)

    def denoise(samples, timestep, classes):
        return unet(samples, torch.full((len(samples),), timestep), class_labels=classes).sample

    images = data.read("test", [0, 5, 9])
    classes = torch.as_tensor(data.labels("test")[[0, 5, 9]])
    with torch.inference_mode():
        pair = edict_invert(denoise, images, classes, grid, 0.93, "v_prediction")
        back = edict_generate(denoise, pair, classes, grid, 0.93, "v_prediction")
        ddim_back = ddim_generate(denoise, ddim_invert(denoise, images, classes, grid), classes, grid)
    assert pair.shape == (3, 2, 2, 8, 8)
    edict_error = (back - images).pow(2).mean().item()
    ddim_error = (ddim_back - images).pow(2).mean().item()
    assert edict_error < 1e-9
    assert ddim_error > 1000 * edict_error


def test_guidance_combines_conditional_and_null_predictions() -> None:
    def denoise(samples, timestep, classes):
        return samples * 0 + classes.float()[:, None, None, None]

    samples = torch.zeros(2, 1, 2, 2)
    classes = torch.tensor([1, 2])
    out = guided(denoise, null_class=5, scale=3.0)(samples, 10, classes)
    expected = 5 + 3.0 * (classes.float() - 5)  # uncond + s * (cond - uncond)
    torch.testing.assert_close(out[:, 0, 0, 0], expected)
    assert guided(denoise, 5, 1.0) is denoise


@pytest.mark.parametrize("sampler", ["ddim", "edict"])
def test_translate_to_each_equals_separate_translations(sampler: str) -> None:
    data = random_dataset(channels=3, image_size=8)
    translator = PhenDiffTranslator(tiny_config(0, sampler=sampler, translate_batch_size=4), data.spec)
    images = data.read("test", [0, 1, 2])
    each = translator.translate_to_each(images, 0, [1, 2])
    for target in (1, 2):
        single = translator.translate(images, 0, target)
        torch.testing.assert_close(each[target].images, single.images, rtol=0, atol=1e-5)
        # EDICT: 2 NFE per step each way; DDIM: 4 generation steps, 4 inversion steps x (1 + 2 fixed-point iterations)
        assert each[target].nfe == single.nfe == (16 if sampler == "edict" else 4 * 3 + 4)


def test_guidance_doubles_the_nfe_of_inversion_and_generation() -> None:
    """Guided generation is inverted with the same guided network: both directions pay twice."""
    data = random_dataset(channels=1, image_size=8)
    plain = PhenDiffTranslator(tiny_config(0), data.spec)
    guided_translator = PhenDiffTranslator(tiny_config(0, guidance_scale=2.0), data.spec)
    images = data.read("test", [0, 1])
    assert plain.translate(images, 0, 1).nfe == 12 + 4
    result = guided_translator.translate(images, 0, 1)
    assert result.nfe == 24 + 8
    assert not torch.allclose(result.images, plain.translate(images, 0, 1).images)


def test_edict_with_guidance_still_reconstructs_exactly() -> None:
    """Inverting with the unguided network and generating with the guided one is not exact."""
    torch.manual_seed(0)
    data = random_dataset(channels=2, image_size=8)
    translator = PhenDiffTranslator(tiny_config(0, sampler="edict", guidance_scale=3.0), data.spec)
    images = data.read("test", [0, 4])
    assert (translator.reconstruct(images, 0).images - images).abs().max() < 1e-4


def test_edict_stays_exact_where_the_paper_schedule_reaches_zero_snr() -> None:
    """3000 timesteps, 12 steps: the top level's alpha is below 1e-6 (see edict.py)."""
    torch.manual_seed(1)
    data = random_dataset(channels=3, image_size=8)
    config = tiny_config(0, num_train_timesteps=3000, inversion_steps=12, inference_steps=12)
    unet = build_unet(config, data.spec).eval()
    grid = make_grid(build_scheduler(config), 12)
    assert grid.alpha(12) < 1e-6

    def denoise(samples, timestep, classes):
        assert samples.dtype == torch.float32  # the network runs in float32
        return unet(samples, torch.full((len(samples),), timestep), class_labels=classes).sample

    images = data.read("test", [0, 6])
    classes = torch.as_tensor(data.labels("test")[[0, 6]])
    with torch.inference_mode():
        back = edict_generate(denoise, edict_invert(denoise, images, classes, grid, 0.93, "v_prediction"),
                              classes, grid, 0.93, "v_prediction")
    assert back.dtype == torch.float32
    assert (back - images).pow(2).mean().item() < 1e-8  # > 86 dB PSNR
