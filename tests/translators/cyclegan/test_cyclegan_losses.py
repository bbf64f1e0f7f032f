"""CycleGAN's training iteration with hand-built one-pixel networks and values worked out by hand.

G: a -> a + g, F: b -> b + f, D_A(x) = d_a x, D_B(x) = d_b x; one image a = 0.5 and one b = -0.2;
plain SGD at learning rate 1, so each parameter after the iteration is minus its gradient away.
The assertions fail when a loss weight (10 for the cycle, 10 x 0.5 for identity, 1/2 on D) or a
sign changes, when D is trained during the generators' step, or when D's step reaches G.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from phenbench.translators.cyclegan.config import CycleGANConfig
from phenbench.translators.cyclegan.image_pool import ImagePool
from phenbench.translators.cyclegan.losses import train_iteration


class Offset(nn.Module):
    def __init__(self, value: float):
        super().__init__()
        self.value = nn.Parameter(torch.tensor(value))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.value


class Scale(nn.Module):
    """A one-pixel "PatchGAN" that remembers whether its weight was trainable at each call."""

    def __init__(self, value: float):
        super().__init__()
        self.value = nn.Parameter(torch.tensor(value))
        self.trainable_when_called: list[bool] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.trainable_when_called.append(self.value.requires_grad)
        return x * self.value


class HandBuiltPair(nn.Module):
    def __init__(self):
        super().__init__()
        self.a_to_b, self.b_to_a = Offset(0.1), Offset(0.3)
        self.judge_a, self.judge_b = Scale(0.5), Scale(0.6)


A, B = 0.5, -0.2
G, F_, DA, DB = 0.1, 0.3, 0.5, 0.6


def sign(x: float) -> float:
    return math.copysign(1.0, x)


def test_train_iteration() -> None:
    model = HandBuiltPair()
    generators = [model.a_to_b.value, model.b_to_a.value]
    judges = [model.judge_a.value, model.judge_b.value]
    g_optimizer, d_optimizer = torch.optim.SGD(generators, lr=1.0), torch.optim.SGD(judges, lr=1.0)
    real_a, real_b = torch.full((1, 1, 1, 1), A), torch.full((1, 1, 1, 1), B)
    config = CycleGANConfig(lambda_cycle=10.0, lambda_identity=0.5, pool_size=0)
    g_loss, d_loss = train_iteration(model, g_optimizer, d_optimizer, real_a, real_b,
                                     (ImagePool(0), ImagePool(0)), torch.Generator(), config)

    fake_b, fake_a = A + G, B + F_  # 0.6, 0.1
    # Generators: (D_B(G(a)) - 1)^2 + (D_A(F(b)) - 1)^2 + 10 (|F(G(a)) - a| + |G(F(b)) - b|)
    #             + 10 x 0.5 (|G(b) - b| + |F(a) - a|).
    cycle = abs(G + F_) + abs(F_ + G)
    expected_g = (DB * fake_b - 1) ** 2 + (DA * fake_a - 1) ** 2 + 10 * cycle + 5 * (abs(G) + abs(F_))
    assert g_loss.item() == pytest.approx(expected_g, rel=1e-6)
    grad_g = 2 * (DB * fake_b - 1) * DB + 10 * 2 * sign(G + F_) + 5 * sign(G)
    grad_f = 2 * (DA * fake_a - 1) * DA + 10 * 2 * sign(G + F_) + 5 * sign(F_)
    assert model.a_to_b.value.item() == pytest.approx(G - grad_g, rel=1e-6)
    assert model.b_to_a.value.item() == pytest.approx(F_ - grad_f, rel=1e-6)
    # G untouched by D's step: its gradient is still the generators' loss gradient alone.
    assert model.a_to_b.value.grad.item() == pytest.approx(grad_g, rel=1e-6)

    # Discriminators: 1/2 [(D(real) - 1)^2 + D(fake)^2] each, on the fakes made before G's update.
    expected_d = 0.5 * ((DB * B - 1) ** 2 + (DB * fake_b) ** 2) + 0.5 * ((DA * A - 1) ** 2 + (DA * fake_a) ** 2)
    assert d_loss.item() == pytest.approx(expected_d, rel=1e-6)
    grad_db = (DB * B - 1) * B + DB * fake_b**2
    grad_da = (DA * A - 1) * A + DA * fake_a**2
    assert model.judge_b.value.item() == pytest.approx(DB - grad_db, rel=1e-6)
    assert model.judge_a.value.item() == pytest.approx(DA - grad_da, rel=1e-6)

    # D was frozen while the generators learned (its first call each), trainable for its own step.
    assert model.judge_a.trainable_when_called == [False, True, True]
    assert model.judge_b.trainable_when_called == [False, True, True]
