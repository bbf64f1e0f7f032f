"""A reduced adaptive discriminator augmentation (ADA, Karras et al. 2020) for any channel count.

Kept from the original "bgc" pipeline: x-flip, 90-degree rotations, integer translation (blit
group) and brightness and contrast (colour group), each applied per image with probability p.
Left out: arbitrary rotation, isotropic/anisotropic scaling, fractional translation (they need
the original's resampling kernels), and luma flip, hue and saturation (they assume RGB). Every
operation is differentiable, so generator gradients pass through augmented fakes. p adapts by the
r_t heuristic: r_t = E[sign(D(real))]; p moves up when r_t exceeds the target (D overfits).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


class AdaptiveAugment:
    """Augments discriminator inputs with probability `p`, adjusted every `interval` steps."""

    def __init__(self, target: float = 0.6, interval: int = 4, speed_kimg: float = 500.0, batch_size: int = 32):
        self.p = 0.0
        self.target, self.interval = target, interval
        # p can go from 0 to 1 in `speed_kimg` thousand real images, as in the original.
        self.step_size = batch_size * interval / (speed_kimg * 1000)
        self._sign_sum = 0.0
        self._count = 0

    def observe(self, real_logits: torch.Tensor) -> None:
        """Accumulate sign(D(real)) for the r_t heuristic."""
        self._sign_sum += float(torch.sign(real_logits.detach()).sum())
        self._count += real_logits.numel()

    def adjust(self) -> float | None:
        """Move p by one step towards the target; returns r_t (None when nothing was observed)."""
        if not self._count:
            return None
        r_t = self._sign_sum / self._count
        self.p = min(max(self.p + math.copysign(self.step_size, r_t - self.target), 0.0), 1.0)
        self._sign_sum, self._count = 0.0, 0
        return r_t

    def state_dict(self) -> dict[str, float]:
        return {"p": self.p, "sign_sum": self._sign_sum, "count": float(self._count)}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.p, self._sign_sum, self._count = float(state["p"]), float(state["sign_sum"]), int(state["count"])

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if self.p <= 0:
            return images
        return augment(images, self.p, generator)


def augment(images: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    """Apply each operation to each image independently with probability p."""
    n, _, size, _ = images.shape
    device = images.device

    def chosen() -> torch.Tensor:
        return (torch.rand(n, generator=generator) < p).to(device)

    x = images
    flip = chosen()
    x = torch.where(flip.reshape(n, 1, 1, 1), x.flip(3), x)
    quarter_turns = torch.randint(0, 4, (n,), generator=generator).to(device) * chosen()
    x = torch.stack([torch.rot90(img, int(k), dims=(1, 2)) for img, k in zip(x, quarter_turns)])
    x = _translate(x, chosen(), generator, max_shift=max(1, round(0.125 * size)))
    brightness = torch.randn(n, generator=generator).to(device) * 0.2 * chosen()
    x = x + brightness.reshape(n, 1, 1, 1)
    contrast = torch.exp2(torch.randn(n, generator=generator) * 0.5).to(device)
    contrast = torch.where(chosen(), contrast, torch.ones_like(contrast))
    return x * contrast.reshape(n, 1, 1, 1)


def _translate(x: torch.Tensor, mask: torch.Tensor, generator: torch.Generator, max_shift: int) -> torch.Tensor:
    """Integer shifts up to `max_shift` pixels, filled by reflection (as ADA pads geometric ops)."""
    n, _, size, _ = x.shape
    shifts = torch.randint(-max_shift, max_shift + 1, (n, 2), generator=generator) * mask.cpu().reshape(n, 1)
    padded = F.pad(x, [max_shift] * 4, mode="reflect")  # max_shift < size: images are >= 8 px
    out = []
    for i in range(n):
        dy, dx = (max_shift - int(shifts[i, 0]), max_shift - int(shifts[i, 1]))
        out.append(padded[i, :, dy : dy + size, dx : dx + size])
    return torch.stack(out)
