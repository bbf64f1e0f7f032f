"""An analytic denoiser: class-conditional Gaussian data, for which everything is a closed form.

Each class c draws images x0 ~ N(mu_c, sigma^2 I) (mu_c an image). For x_t = sqrt(a) x0 + sqrt(1 - a) eps,

    E[x0 | x_t]  = mu + sqrt(a) sigma^2 / s^2 (x_t - sqrt(a) mu)
    E[eps | x_t] = sqrt(1 - a) / s^2 (x_t - sqrt(a) mu),     s^2 = a sigma^2 + 1 - a,

and the exact v-prediction is sqrt(a) E[eps] - sqrt(1 - a) E[x0]. The probability-flow ODE keeps
u = (x_t - sqrt(a) mu) / s fixed, so the exact translation of an image x of class c into class c'
(invert under c, regenerate under c') is the true counterfactual mu_c' + (x - mu_c). Each DDIM step
also maps x_t - sqrt(a) mu by a factor that does not depend on mu, so a DDIM walk down that exactly
inverts the walk up returns that counterfactual at any step count: any error is the inversion's.
"""

from __future__ import annotations

import torch


class GaussianClasses:
    """The exact v-prediction (or epsilon-prediction) of class-conditional Gaussian images."""

    def __init__(self, means: torch.Tensor, sigma: float, alphas_cumprod: torch.Tensor,
                 prediction_type: str = "v_prediction"):
        self.means = means.double()  # classes x C x H x W
        self.sigma = sigma
        self.alphas = alphas_cumprod.double()
        self.prediction_type = prediction_type

    def sample(self, classes: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        mu = self.means[classes]
        return (mu + self.sigma * torch.randn(mu.shape, generator=generator, dtype=torch.float64)).float()

    def counterfactual(self, images: torch.Tensor, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (images.double() - self.means[source] + self.means[target]).float()

    def __call__(self, samples: torch.Tensor, timestep: int, classes: torch.Tensor) -> torch.Tensor:
        a = float(self.alphas[timestep])
        x, mu = samples.double(), self.means[classes]
        s2 = a * self.sigma**2 + 1 - a
        centred = x - a**0.5 * mu
        x0 = mu + a**0.5 * self.sigma**2 / s2 * centred
        eps = (1 - a) ** 0.5 / s2 * centred
        out = eps if self.prediction_type == "epsilon" else a**0.5 * eps - (1 - a) ** 0.5 * x0
        return out.to(samples.dtype)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB for images in [-1, 1] (peak-to-peak 2)."""
    import math

    mse = (a.double() - b.double()).pow(2).mean().item()
    return math.inf if mse == 0 else 10 * math.log10(4 / mse)


def cell_like_means(classes: int, channels: int = 3, size: int = 16) -> torch.Tensor:
    """Smooth class means in about [-0.8, 0.6]: a disc whose radius and brightness vary by class."""
    ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    r = ((xs - size / 2 + 0.5) ** 2 + (ys - size / 2 + 0.5) ** 2).sqrt()
    means = []
    for c in range(classes):
        radius = size * (0.2 + 0.05 * c)
        disc = torch.sigmoid((radius - r) * 1.5)
        means.append(torch.stack([-0.8 + (1.2 + 0.1 * c * k) * disc for k in range(channels)]) * 0.9)
    return torch.stack(means)
