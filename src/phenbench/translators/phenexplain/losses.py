"""StyleGAN2's losses: non-saturating logistic GAN loss, lazy R1 and path-length regularisation."""

from __future__ import annotations

import math

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
    """Path-length regularisation: keeps |J_w^T y| near its running mean for random image directions y."""

    def __init__(self, decay: float = 0.01):
        self.decay = decay
        self.mean = torch.zeros([])

    def penalty(self, images: torch.Tensor, ws: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """Mean over images of (|J_w^T y| - running mean)^2, for `images` synthesised from `ws`.

        As in the original, the mean the lengths are compared with is the updated running mean,
        whose new part (decay x this batch's mean length) is not detached: the gradient sees it.
        """
        height, width = images.shape[2:]
        directions = torch.randn(images.shape, generator=rng).to(images) / math.sqrt(height * width)
        (gradients,) = torch.autograd.grad((images * directions).sum(), ws, create_graph=True)
        lengths = gradients.square().sum(dim=2).mean(dim=1).sqrt()
        mean = self.mean.to(lengths).lerp(lengths.mean(), self.decay)
        self.mean = mean.detach()
        return (lengths - mean).square().mean()
