"""The StyleGAN2-ADA training step pinned with hand-built networks and values worked out by hand.

Each test fails when the sign or the weight of the term it pins changes (checked by mutating the
code): the losses of G and D, the lazy R1 and path-length gains, Adam's lr and beta correction, the
path-length penalty (with its non-detached running mean), the EMA's beta and ramp-up, the style
mixing cutoff.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from phenbench.translators.phenexplain.losses import PathLength
from tests.translators.phenexplain.hand_built import (
    ConstantGenerator,
    LayerTagGenerator,
    LinearCritic,
    LinearGenerator,
    RecordingOptimizer,
    trainer,
)


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


REAL = torch.tensor([1.0, -1.0]).reshape(2, 1, 1, 1)
LABELS = np.array([0, 0])


def recorded_step(generator, critic, **overrides):
    run = trainer(generator, critic, **overrides)
    run.opt_g, run.opt_d = RecordingOptimizer(run.G), RecordingOptimizer(run.D)
    losses = run.step(REAL, torch.tensor([0, 0]), LABELS, torch.Generator().manual_seed(0))
    return run, losses


def test_generator_and_discriminator_losses_and_the_lazy_r1_gain() -> None:
    # Fakes are all g = 0.2; D(x) = 0.5 x + 0.1; reals 1 and -1; R1 gamma 0.5 every 16 steps.
    run, (loss_g, loss_d) = recorded_step(ConstantGenerator(0.2), LinearCritic(0.5, 0.1), r1_gamma=0.5, r1_interval=16)
    fake_logit, real_logits = 0.5 * 0.2 + 0.1, (0.6, -0.4)
    # G: softplus(-D(fake)); d/dg = -sigmoid(-D(fake)) * u.
    assert loss_g == pytest.approx(softplus(-fake_logit))
    (g_step,) = run.opt_g.steps
    assert g_step["g"] == pytest.approx(-sigmoid(-fake_logit) * 0.5)
    # D: softplus(D(fake)) + softplus(-D(real)), each averaged over the batch.
    assert loss_d == pytest.approx(softplus(fake_logit) + (softplus(-0.6) + softplus(0.4)) / 2)
    main, r1 = run.opt_d.steps
    assert main["u"] == pytest.approx(sigmoid(fake_logit) * 0.2 - (sigmoid(-0.6) * 1 + sigmoid(0.4) * -1) / 2)
    assert main["v"] == pytest.approx(sigmoid(fake_logit) - (sigmoid(-real_logits[0]) + sigmoid(-real_logits[1])) / 2)
    # R1: |dD/dx|^2 = u^2 per image, times gamma / 2, times the interval: d/du = u * gamma * 16 = 4.
    assert r1["u"] == pytest.approx(0.5 * 0.5 * 16)
    assert r1["v"] in (None, 0.0)


def test_no_r1_step_between_the_lazy_ones() -> None:
    run = trainer(ConstantGenerator(0.2), LinearCritic(0.5, 0.1), r1_gamma=0.5, r1_interval=16)
    run.opt_g, run.opt_d = RecordingOptimizer(run.G), RecordingOptimizer(run.D)
    run.state.step = 5
    run.step(REAL, torch.tensor([0, 0]), LABELS, torch.Generator().manual_seed(0))
    assert len(run.opt_d.steps) == 1


def test_adam_learning_rate_and_betas_are_corrected_for_the_lazy_steps() -> None:
    # mb_ratio = interval / (interval + 1): lr * ratio and beta ** ratio (stylegan2-ada-pytorch).
    run = trainer(ConstantGenerator(0.0), LinearCritic(0.0, 0.0), pl_interval=4, r1_interval=16, learning_rate=0.0025)
    (g_group,), (d_group,) = run.opt_g.param_groups, run.opt_d.param_groups
    assert g_group["lr"] == pytest.approx(0.002) and g_group["betas"] == pytest.approx((0.0, 0.9919919678228657))
    assert d_group["lr"] == pytest.approx(0.0023529411764705885)
    assert d_group["betas"] == pytest.approx((0.0, 0.9905854573074332))


def test_the_path_length_step_has_gain_weight_times_interval() -> None:
    run = trainer(LinearGenerator(0.6, 0.8), LinearCritic(0.0, 0.0), pl_weight=2.0, pl_interval=4, style_mixing_prob=0.5)
    run.opt_g, run.opt_d = RecordingOptimizer(run.G), RecordingOptimizer(run.D)
    penalties = []
    measure = run.path_length.penalty

    def spy(images, ws, rng):
        value = measure(images, ws, rng)
        penalties.append(float(value.detach()))
        return value

    run.path_length.penalty = spy
    run.step(REAL, torch.tensor([0, 0]), LABELS, torch.Generator().manual_seed(1))
    (penalty,) = penalties
    main, regularisation = run.opt_g.steps
    # One image (half the batch of 2): L = |y| sqrt((s0^2 + s1^2) / 2), the updated mean is 0.01 L
    # (not detached), so penalty = (0.99 L)^2 = 0.9801 y^2 (s0^2 + s1^2) / 2 and d/ds_i = penalty
    # 2 s_i / (s0^2 + s1^2) = penalty (1.2, 1.6); the step's gain is pl_weight x pl_interval = 8.
    assert regularisation["s"] == pytest.approx([8 * 1.2 * penalty, 8 * 1.6 * penalty], rel=1e-5)
    assert main["s"] == pytest.approx([0.0, 0.0])  # D(x) = 0: the main loss does not move G


def test_path_length_penalty_against_its_formula() -> None:
    generator = LinearGenerator(0.6, 1.1)
    z = torch.tensor([[0.5], [-2.0]])
    ws = generator.ws(z, torch.zeros(2, dtype=torch.long))
    images = generator.synthesis(ws)
    path = PathLength(decay=0.01)
    path.mean = torch.tensor(0.3)
    penalty = path.penalty(images, ws, torch.Generator().manual_seed(7))
    y = torch.randn((2, 1, 1, 1), generator=torch.Generator().manual_seed(7)).flatten().tolist()  # one pixel: /sqrt(1)
    s0, s1 = 0.6, 1.1
    c = math.sqrt((s0**2 + s1**2) / 2)  # |J^T y| / |y|: the RMS over the 2 layers of |y s_l|
    lengths = [abs(v) * c for v in y]
    mean = 0.3 + 0.01 * (sum(lengths) / 2 - 0.3)
    assert float(penalty.detach()) == pytest.approx(sum((length - mean) ** 2 for length in lengths) / 2, rel=1e-6)
    assert float(path.mean) == pytest.approx(mean)
    (gradient,) = torch.autograd.grad(penalty, generator.s)
    # d/ds0 of mean_i (L_i - m)^2, with dL_i/ds0 = |y_i| s0 / (2c) and dm/ds0 = 0.01 mean_i dL_i/ds0.
    d_lengths = [abs(v) * s0 / (2 * c) for v in y]
    d_mean = 0.01 * sum(d_lengths) / 2
    expected = sum(2 * (length - mean) * (d - d_mean) for length, d in zip(lengths, d_lengths)) / 2
    assert float(gradient[0]) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(
    "step, rampup, expected_beta",
    [
        (0, 0.05, 0.0),  # nothing seen yet: G_ema = G
        (10, 0.05, 0.25),  # 40 images seen x 0.05 = 2: beta = 0.5 ** (4 / 2)
        (100, 0.05, 0.757858283255199),  # 400 x 0.05 = 20 > 10 (ema_kimg): 0.5 ** (4 / 10)
        (0, None, 0.757858283255199),  # no ramp-up: the half-life from the start
    ],
)
def test_ema_beta_and_ramp_up(step: int, rampup: float | None, expected_beta: float) -> None:
    run = trainer(ConstantGenerator(1.0), LinearCritic(0.0, 0.0), batch_size=4, ema_kimg=0.01, ema_rampup=rampup)
    with torch.no_grad():
        run.G_ema.g.fill_(0.0)
    run._update_ema(step)
    # G_ema <- G + beta (G_ema - G) = 1 - beta.
    assert float(run.G_ema.g) == pytest.approx(1.0 - expected_beta)


def test_style_mixing_takes_a_cutoff_in_1_to_num_ws_minus_1_under_the_same_condition() -> None:
    run = trainer(LayerTagGenerator(num_ws=5), LinearCritic(0.0, 0.0), style_mixing_prob=0.9)
    rng = torch.Generator().manual_seed(0)
    z, condition = torch.full((1, 1), 100.0), torch.tensor([1])
    cutoffs, unmixed = [], 0
    for _ in range(400):
        _, ws = run._generate(z, condition, rng, rng)
        layers = ws[0, :, 0]
        original = torch.isclose(layers, torch.tensor(110.0))
        kept = int(original.long().cumprod(0).sum())  # the leading layers from z itself
        assert original[kept:].sum() == 0  # the mixed layers are a suffix
        if kept == 5:
            unmixed += 1
            continue
        assert ((layers[kept:] - 10.0).abs() < 6).all()  # another z, the same condition (+10)
        cutoffs.append(kept)
    assert set(cutoffs) == {1, 2, 3, 4}
    assert abs(len(cutoffs) / 400 - 0.9) < 0.05
    assert min(cutoffs.count(k) for k in (1, 2, 3, 4)) > 50  # uniform: 90 each expected


def test_losses_of_the_first_two_steps_with_adam() -> None:
    # D(x) = u sum(x) + v with u = 0, v = 1: loss_g = softplus(-1), loss_d = softplus(1) + softplus(-1).
    run = trainer(ConstantGenerator(0.2), LinearCritic(0.0, 1.0), r1_interval=16, learning_rate=0.0025)
    rng = torch.Generator().manual_seed(0)
    first = run.step(REAL, torch.tensor([0, 0]), LABELS, rng)
    run.state.step = 1
    second = run.step(REAL, torch.tensor([0, 0]), LABELS, rng)
    assert first == pytest.approx((softplus(-1.0), softplus(1.0) + softplus(-1.0)), rel=1e-6)
    # Adam's first step (beta1 0) moves each parameter by its corrected lr (0.0025 x 16 / 17) against
    # the sign of its gradient: dloss_d/dv = sigmoid(1) - sigmoid(-1) > 0, dloss_d/du = sigmoid(1) 0.2
    # - sigmoid(-1) mean(reals) > 0 (reals 1 and -1). G does not move: dloss_g/dg = -sigmoid(-1) u = 0.
    lr = 0.0025 * 16 / 17
    u, v = -lr, 1.0 - lr
    fake, reals = 0.2 * u + v, (u + v, -u + v)
    expected_d = softplus(fake) + (softplus(-reals[0]) + softplus(-reals[1])) / 2
    assert second == pytest.approx((softplus(-fake), expected_d), rel=1e-5)


def test_ada_p_moves_after_every_fourth_step_from_the_signs_since_the_last_move() -> None:
    # stylegan2-ada-pytorch: batch_idx += 1, then adjust when batch_idx % ada_interval == 0, i.e.
    # after steps 3, 7, ... (0-based). D(real) = 1 > target 0.6: p rises by batch x interval / (ada_kimg
    # x 1000) = 2 x 4 / 1000 each time; with R1 every 2 steps its real logits count too.
    run = trainer(ConstantGenerator(0.2), LinearCritic(0.0, 1.0), augment=True, ada_interval=4, ada_kimg=1.0,
                  r1_gamma=1.0, r1_interval=2)
    rng, seen = torch.Generator().manual_seed(0), []
    for step in range(8):
        run.state.step = step
        run.step(REAL, torch.tensor([0, 0]), LABELS, rng)
        seen.append(run.augment.p)
    assert seen == pytest.approx([0.0, 0.0, 0.0, 0.008, 0.008, 0.008, 0.008, 0.016])
