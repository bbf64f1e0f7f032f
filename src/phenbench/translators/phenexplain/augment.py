"""A reduced adaptive discriminator augmentation (ADA, Karras et al. 2020) for any channel count.

Kept from the original "bgc" pipeline: x-flip, 90-degree rotations, integer translation (blit
group) and brightness and contrast (colour group), each chosen per image with probability p and
drawn as in stylegan2-ada-pytorch (a chosen x-flip flips with probability 1/2, a chosen rotation
turns 0 to 3 quarters, a chosen translation moves by a uniform fraction of at most 1/8 of the
size, rounded to whole pixels, the borders reflected). Left out: arbitrary rotation,
isotropic/anisotropic scaling, fractional translation (they need the original's resampling
kernels), and luma flip, hue and saturation (they assume RGB).

The three geometric operations are one pixel permutation per image, so the whole batch is
transformed by a single gather: no Python loop over images and no host synchronisation, which
matters because the discriminator is called three to four times a step. Every operation is
differentiable, so generator gradients pass through augmented fakes. p adapts by the r_t
heuristic: r_t = E[sign(D(real))]; p moves up when r_t exceeds the target (D overfits).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

MAX_SHIFT = 0.125  # of the image size: ADA's xint_max
BRIGHTNESS_STD = 0.2
CONTRAST_LOG2_STD = 0.5


class AdaptiveAugment:
    """Augments discriminator inputs with probability `p`, adjusted every `interval` steps.

    The signs are summed on the device (no host synchronisation per call) and read once per
    adjustment; on several processes `adjust` is given the sum over processes, so every process
    moves p by the same step, from the signs of the whole batch (the reference's training_stats).
    """

    def __init__(self, target: float = 0.6, interval: int = 4, speed_kimg: float = 500.0, batch_size: int = 32,
                 device: torch.device | str = "cpu"):
        self.p = 0.0
        self.device = torch.device(device)
        self.target, self.interval = target, interval
        # p can go from 0 to 1 in `speed_kimg` thousand real images (over all processes), as in the original.
        self.step_size = batch_size * interval / (speed_kimg * 1000)
        self._sign_sum = torch.zeros((), device=self.device)
        self._count = 0

    def observe(self, real_logits: torch.Tensor) -> None:
        """Accumulate sign(D(real)) for the r_t heuristic."""
        self._sign_sum = self._sign_sum + torch.sign(real_logits.detach()).sum()
        self._count += real_logits.numel()

    def _pending(self) -> torch.Tensor:
        """(sum of signs, count) observed by this process since the last adjustment, on its device."""
        return torch.stack([self._sign_sum.float(), torch.tensor(float(self._count), device=self.device)])

    def _set_pending(self, sign_sum: float, count: int) -> None:
        self._sign_sum, self._count = torch.tensor(float(sign_sum), device=self.device), int(count)

    def adjust(self, total: Callable[[torch.Tensor], torch.Tensor] | None = None) -> float | None:
        """Move p by one step towards the target; returns r_t (None when nothing was observed).

        `total` sums the (signs, count) statistics over processes (None: one process). As in the original, p is kept at
        or above 0 but not capped at 1 (a p above 1 augments every image, and must come back down
        before it augments fewer).
        """
        stats = self._pending() if total is None else total(self._pending())  # every process takes part
        sign_sum, count = stats.tolist()
        if not count:
            return None
        r_t = sign_sum / count
        direction = (r_t > self.target) - (r_t < self.target)  # np.sign: no move when equal
        self.p = max(self.p + direction * self.step_size, 0.0)
        self._set_pending(0.0, 0)
        return r_t

    def pool(self, total: Callable[[torch.Tensor], torch.Tensor], keep: bool) -> None:
        """Hold the statistics of all processes on one (`keep`), none on the others: the next `adjust`
        sees the same totals, and that one process's state_dict holds everything to resume."""
        sign_sum, count = total(self._pending()).tolist()
        self._set_pending(*((sign_sum, count) if keep else (0.0, 0)))

    def state_dict(self) -> dict[str, float]:
        return {"p": self.p, "sign_sum": float(self._sign_sum), "count": float(self._count)}

    def load_state_dict(self, state: dict[str, float], with_pending: bool = True) -> None:
        """`with_pending=False`: p alone, for the processes that did not `pool` the statistics."""
        self.p = float(state["p"])
        self._set_pending(*((state["sign_sum"], state["count"]) if with_pending else (0.0, 0)))

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if self.p <= 0:
            return images
        return augment(images, self.p, generator)


@dataclass(frozen=True)
class AugmentDraw:
    """The random choices for one batch (CPU tensors, one entry per image)."""

    flip: torch.Tensor  # bool: mirror left-right
    quarter_turns: torch.Tensor  # 0..3, as torch.rot90 over (H, W)
    shift: torch.Tensor  # N x 2 whole pixels (rows, columns)
    brightness: torch.Tensor  # added
    contrast: torch.Tensor  # multiplied, after the brightness

    @classmethod
    def sample(cls, n: int, size: int, p: float, generator: torch.Generator) -> "AugmentDraw":
        def chosen() -> torch.Tensor:
            return torch.rand(n, generator=generator) < p

        flip = (torch.rand(n, generator=generator) < 0.5) & chosen()
        turns = torch.randint(0, 4, (n,), generator=generator) * chosen()
        fraction = (torch.rand(n, 2, generator=generator) * 2 - 1) * MAX_SHIFT
        shift = torch.round(fraction * size).long() * chosen().reshape(n, 1)
        brightness = torch.randn(n, generator=generator) * BRIGHTNESS_STD * chosen()
        contrast = torch.exp2(torch.randn(n, generator=generator) * CONTRAST_LOG2_STD)
        contrast = torch.where(chosen(), contrast, torch.ones_like(contrast))
        return cls(flip, turns, shift, brightness, contrast)


def augment(images: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    """Apply each operation to each image independently with probability p."""
    return apply_draw(images, AugmentDraw.sample(len(images), images.shape[-1], p, generator))


def apply_draw(images: torch.Tensor, draw: AugmentDraw) -> torch.Tensor:
    """Flip, rotate, translate (one gather), then brightness and contrast."""
    n, channels, size, _ = images.shape
    source = _source_pixels(draw, size).to(images.device)  # N x (H W): where each output pixel comes from
    x = images.reshape(n, channels, size * size).gather(2, source.unsqueeze(1).expand(n, channels, -1))
    x = x.reshape(n, channels, size, size)
    x = x + draw.brightness.to(x).reshape(n, 1, 1, 1)
    return x * draw.contrast.to(x).reshape(n, 1, 1, 1)


def _reflect(index: torch.Tensor, size: int) -> torch.Tensor:
    """Indices outside 0..size-1 mirrored at the border pixel (torch's "reflect" padding)."""
    index = index.abs()
    return torch.where(index > size - 1, 2 * (size - 1) - index, index)


def _source_pixels(draw: AugmentDraw, size: int) -> torch.Tensor:
    """Flat input index of every output pixel of translate(rot90(flip(x)))."""
    n = len(draw.flip)
    last = size - 1
    grid = torch.arange(size)
    rows = _reflect(grid.reshape(1, size, 1) - draw.shift[:, 0].reshape(n, 1, 1), size).expand(n, size, size)
    cols = _reflect(grid.reshape(1, 1, size) - draw.shift[:, 1].reshape(n, 1, 1), size).expand(n, size, size)
    # rot90 by k: out[r, c] = in[c, last - r] (k = 1), in[last - r, last - c] (2), in[last - c, r] (3).
    turn = draw.quarter_turns.reshape(n, 1, 1)
    source_rows = torch.stack([rows, cols, last - rows, last - cols]).gather(0, turn.expand(n, size, size)[None])[0]
    source_cols = torch.stack([cols, last - rows, last - cols, rows]).gather(0, turn.expand(n, size, size)[None])[0]
    source_cols = torch.where(draw.flip.reshape(n, 1, 1), last - source_cols, source_cols)
    return (source_rows * size + source_cols).reshape(n, size * size)
