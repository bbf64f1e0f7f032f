"""StarGAN's critic and generator steps with hand-built one-pixel networks and values worked out by hand.

G(x, c) = x + t[c]; D(x) = (u x as the real/fake score map, logits q_k x + r_k). With plain SGD at
learning rate 1 an update is minus the gradient, so each parameter after a step is a number
written down below. Each assertion fails when a loss term's sign or weight (1, 10, 10) changes.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from phenbench.translators.stargan.config import StarGANConfig
from phenbench.translators.stargan.training import Batch, critic_step, generator_step


class OffsetGenerator(nn.Module):
    def __init__(self, offsets: list[float]):
        super().__init__()
        self.t = nn.Parameter(torch.tensor(offsets))

    def forward(self, images: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return images + self.t[target].reshape(-1, 1, 1, 1)


class LinearCritic(nn.Module):
    def __init__(self, u: float, q: list[float], r: list[float]):
        super().__init__()
        self.u = nn.Parameter(torch.tensor(u))
        self.q = nn.Parameter(torch.tensor(q))
        self.r = nn.Parameter(torch.tensor(r))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = images.reshape(-1, 1)
        return self.u * images, x * self.q + self.r


X, SOURCE, TARGET = [1.0, -0.5], [0, 1], [1, 0]
T, U, Q, R = [0.2, -0.3], 0.7, [0.5, -0.5], [0.0, 0.0]


def batch() -> Batch:
    return Batch(real=torch.tensor(X).reshape(2, 1, 1, 1), source=torch.tensor(SOURCE), target=torch.tensor(TARGET),
                 mix=torch.tensor([0.3, 0.8]).reshape(2, 1, 1, 1))


def softmax(logits: list[float]) -> list[float]:
    total = sum(math.exp(v) for v in logits)
    return [math.exp(v) / total for v in logits]


def cross_entropy(values: list[float], classes: list[int]) -> tuple[float, list[float]]:
    """Mean cross-entropy of logits q_k x + r_k, and its gradient in q."""
    loss, grad_q = 0.0, [0.0, 0.0]
    for x, c in zip(values, classes):
        p = softmax([Q[0] * x + R[0], Q[1] * x + R[1]])
        loss -= math.log(p[c]) / len(values)
        for k in range(2):
            grad_q[k] += (p[k] - (k == c)) * x / len(values)
    return loss, grad_q


def test_critic_step() -> None:
    generator, critic = OffsetGenerator(T), LinearCritic(U, Q, R)
    optimizer = torch.optim.SGD(critic.parameters(), lr=1.0)
    loss = critic_step(generator, critic, optimizer, batch(), StarGANConfig()).item()
    fake = [X[0] + T[TARGET[0]], X[1] + T[TARGET[1]]]  # 0.7, -0.3
    ce, grad_q = cross_entropy(X, SOURCE)
    # -D(real) + D(fake) + 1 * CE(cls(real), source) + 10 * GP, GP = (|u| - 1)^2 for this linear critic.
    assert loss == pytest.approx(-U * sum(X) / 2 + U * sum(fake) / 2 + 1 * ce + 10 * (abs(U) - 1) ** 2, rel=1e-6)
    grad_u = -sum(X) / 2 + sum(fake) / 2 + 10 * 2 * (abs(U) - 1)
    assert critic.u.item() == pytest.approx(U - grad_u, rel=1e-6)
    assert critic.q.tolist() == pytest.approx([Q[0] - grad_q[0], Q[1] - grad_q[1]], rel=1e-6)
    assert generator.t.tolist() == pytest.approx(T)  # the generator is not trained by the critic step


def test_generator_step() -> None:
    generator, critic = OffsetGenerator(T), LinearCritic(U, Q, R)
    optimizer = torch.optim.SGD(generator.parameters(), lr=1.0)
    loss = generator_step(generator, critic, optimizer, batch(), StarGANConfig()).item()
    fake = [X[0] + T[TARGET[0]], X[1] + T[TARGET[1]]]
    ce, _ = cross_entropy(fake, TARGET)
    # Cycle: G(G(x, c'), c) = x + t[c'] + t[c], so |x - cycled| = |t0 + t1| for both images.
    reconstruction = abs(T[0] + T[1])
    assert loss == pytest.approx(-U * sum(fake) / 2 + 1 * ce + 10 * reconstruction, rel=1e-6)
    # d/dt_k: the adversarial term -u/2 per image translated to k, the classification term through
    # the fake's logits, the reconstruction 10 sign(t0 + t1) (every image's cycle uses t0 and t1 once).
    grad = []
    for k in range(2):
        adversarial = -U / 2 * sum(1 for c in TARGET if c == k)
        classification = 0.0
        for x, c in zip(fake, TARGET):
            if c == k:
                p = softmax([Q[0] * x + R[0], Q[1] * x + R[1]])
                classification += sum((p[j] - (j == c)) * Q[j] for j in range(2)) / 2
        grad.append(adversarial + 1 * classification + 10 * math.copysign(1, T[0] + T[1]))
    assert generator.t.tolist() == pytest.approx([T[0] - grad[0], T[1] - grad[1]], rel=1e-6)
    assert critic.u.item() == pytest.approx(U)  # the critic is not trained by the generator step
