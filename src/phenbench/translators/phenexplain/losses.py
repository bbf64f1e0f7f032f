"""StyleGAN2's losses: non-saturating logistic GAN loss, lazy R1 and path-length regularisation."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating: -log sigmoid(D(G(z))), which keeps gradients alive when D wins early."""
    return F.softplus(-fake_logits).mean()


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()


def r1_penalty(real_images: torch.Tensor, real_logits: torch.Tensor) -> torch.Tensor:
    """Squared gradient norm of D at real images, per image (Mescheder et al., 2018)."""
    (gradients,) = torch.autograd.grad(real_logits.sum(), real_images, create_graph=True)
    return gradients.square().sum(dim=[1, 2, 3])


class PathLength:
    """Path-length regularisation: keeps |J_w^T y| near its running mean for random image directions y.

    `mean_over_processes` (None: one process) averages a value over the processes of a fit: the
    running mean is then moved by the whole batch's mean length and stays the same on every process.
    """

    def __init__(self, decay: float = 0.01, mean_over_processes: Callable[[torch.Tensor], torch.Tensor] | None = None):
        self.decay = decay
        self.mean = torch.zeros([])
        self.mean_over_processes = mean_over_processes

    @staticmethod
    def directions(shape: torch.Size, rng: torch.Generator) -> torch.Tensor:
        """Random image directions y, unit normal (a test fixes them to compare runs)."""
        return torch.randn(shape, generator=rng, device=rng.device)

    def penalty(self, images: torch.Tensor, ws: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """Mean over images of (|J_w^T y| - running mean)^2, for `images` synthesised from `ws`.

        As in the original, the mean the lengths are compared with is the updated running mean,
        whose new part (decay x this batch's mean length) is not detached: the gradient sees it.
        On several processes that gradient sees this process's lengths (as the reference's, whose
        running means differ per GPU); the kept running mean moves by the mean over processes.
        """
        height, width = images.shape[2:]
        directions = self.directions(images.shape, rng).to(images) / math.sqrt(height * width)
        (gradients,) = torch.autograd.grad((images * directions).sum(), ws, create_graph=True)
        lengths = gradients.square().sum(dim=2).mean(dim=1).sqrt()
        previous = self.mean.to(lengths)
        mean = previous.lerp(lengths.mean(), self.decay)
        batch_mean = lengths.mean().detach()
        if self.mean_over_processes is not None:
            batch_mean = self.mean_over_processes(batch_mean)
        self.mean = previous.lerp(batch_mean, self.decay)
        return (lengths - mean).square().mean()
