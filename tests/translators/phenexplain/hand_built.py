"""Tiny hand-built stand-ins for the StyleGAN2 networks, whose losses and gradients are worked out by hand.

They offer what the Trainer uses: the generator's `ws(z, c)`, `synthesis(ws, generator=...)`,
`num_ws`; the discriminator's `D(images, conditions)`. Every one has a handful of scalar
parameters, so each loss, gradient and update can be written down with pen and paper.
"""

from __future__ import annotations

import torch
from torch import nn

from phenbench.translators.phenexplain.config import PhenexplainConfig, resolve
from phenbench.translators.phenexplain.training import Trainer


class ConstantGenerator(nn.Module):
    """Every fake is the same one-pixel image g; ws = z (one layer per position)."""

    def __init__(self, g: float, num_ws: int = 2):
        super().__init__()
        self.g = nn.Parameter(torch.tensor(g))
        self.num_ws = num_ws

    def ws(self, z: torch.Tensor, conditions: torch.Tensor) -> torch.Tensor:
        return z.unsqueeze(1).repeat(1, self.num_ws, 1)

    def synthesis(self, ws: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return (ws[:, :1, :1] * 0 + self.g).reshape(-1, 1, 1, 1)


class LinearGenerator(nn.Module):
    """A one-pixel image s0 w_0 + s1 w_1 from a two-layer w (w_dim 1): its Jacobian is (s0, s1)."""

    num_ws = 2

    def __init__(self, s0: float, s1: float):
        super().__init__()
        self.s = nn.Parameter(torch.tensor([s0, s1]))

    def ws(self, z: torch.Tensor, conditions: torch.Tensor) -> torch.Tensor:
        # A mapping network's output carries a graph; these ws must at least be differentiable.
        return z.unsqueeze(1).repeat(1, self.num_ws, 1).requires_grad_(True)

    def synthesis(self, ws: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return (ws[:, :, 0] * self.s).sum(dim=1).reshape(-1, 1, 1, 1)


class LayerTagGenerator(nn.Module):
    """ws(z, c) = z + 10 c on every one of `num_ws` layers, and the "image" is ws itself."""

    def __init__(self, num_ws: int):
        super().__init__()
        self.num_ws = num_ws
        self.unused = nn.Parameter(torch.zeros(()))

    def ws(self, z: torch.Tensor, conditions: torch.Tensor) -> torch.Tensor:
        return (z + 10.0 * conditions.reshape(-1, 1)).unsqueeze(1).repeat(1, self.num_ws, 1)

    def synthesis(self, ws: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return ws.unsqueeze(1)


class LinearCritic(nn.Module):
    """D(x, c) = u * sum(x) + v: its gradient in x is u at every pixel."""

    def __init__(self, u: float, v: float):
        super().__init__()
        self.u = nn.Parameter(torch.tensor(u))
        self.v = nn.Parameter(torch.tensor(v))

    def forward(self, images: torch.Tensor, conditions: torch.Tensor) -> torch.Tensor:
        return self.u * images.flatten(1).sum(dim=1) + self.v


class RecordingOptimizer:
    """Stands in for Adam: records each step's gradients (by parameter name) and changes nothing."""

    def __init__(self, module: nn.Module):
        self.named = list(module.named_parameters())
        self.steps: list[dict[str, float | None]] = []

    def zero_grad(self, set_to_none: bool = True) -> None:
        for _, parameter in self.named:
            parameter.grad = None

    def step(self) -> None:
        self.steps.append({
            name: None if p.grad is None else p.grad.detach().clone().tolist() for name, p in self.named
        })


def config(**overrides) -> PhenexplainConfig:
    """A config whose knobs the tests set; augmentation off unless asked."""
    values = dict(z_dim=1, w_dim=1, steps=1, batch_size=2, augment=False, pl_weight=0.0, style_mixing_prob=0.0,
                  r1_gamma=0.0, learning_rate=0.0025)
    values.update(overrides)
    return PhenexplainConfig(**values)


def trainer(generator: nn.Module, critic: nn.Module, **overrides) -> Trainer:
    settings = config(**overrides)
    return Trainer(settings, resolve(settings, 8), generator, critic, torch.device("cpu"))
