"""Phenexplain's own operations on generated images: condition centres in W and walks between conditions.

The paper's central figure maps one z under two conditions and interpolates between the two w's:
the image morphs from one phenotype to the other while everything the condition does not control
(the z-driven "cell identity") stays put.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from phenbench.translators.phenexplain.generator import Generator


@torch.no_grad()
def condition_centres(
    generator: Generator, samples: int, seed: int = 0, batch_size: int = 1000
) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean of mapping(z, c) over `samples` z for every condition c, and the spread around it.

    Returns centres (K x w_dim) and, per condition, the root-mean-square distance of the samples
    from their centre (the scale the projector's latent noise is drawn at). The same z are mapped
    under every condition: a translation moves by a difference of centres, and the z-driven part
    of w then cancels in it instead of adding the noise of two independent means. Only the mapping
    network runs, and sums are kept in float64 instead of the samples, so Phenexplain's 100,000
    samples per condition cost seconds and no memory.
    """
    rng = torch.Generator().manual_seed(seed)
    device = next(generator.parameters()).device
    count_conditions = generator.num_conditions
    sums = torch.zeros(count_conditions, generator.w_dim, dtype=torch.float64, device=device)
    squares = torch.zeros(count_conditions, dtype=torch.float64, device=device)
    for start in range(0, samples, batch_size):
        count = min(batch_size, samples - start)
        z = torch.randn(count, generator.z_dim, generator=rng).to(device)
        for condition in range(count_conditions):
            ws = generator.mapping(z, torch.full((count,), condition, dtype=torch.long, device=device)).double()
            sums[condition] += ws.sum(dim=0)
            squares[condition] += ws.square().sum()
    centres = sums / samples
    # E|w - centre|^2 = E|w|^2 - |centre|^2, exact up to rounding in float64.
    spreads = (squares / samples - centres.square().sum(dim=1)).clamp(min=0).sqrt()
    dtype = next(generator.parameters()).dtype
    return centres.to(dtype), spreads.to(dtype)


@torch.no_grad()
def interpolate_conditions(
    generator: Generator,
    z: torch.Tensor,
    source: int,
    target: int,
    alphas: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0),
    noise_seed: int = 0,
) -> torch.Tensor:
    """Images of the same z along the straight line in W from condition `source` to `target`.

    Returns len(alphas) x N x C x H x W in [-1, 1]; alpha 0 is G(z, source), alpha 1 is G(z, target).
    The per-layer noise is drawn once and shared by every alpha, so only the condition changes.
    """
    n = len(z)
    device = z.device
    w_source = generator.mapping(z, torch.full((n,), source, dtype=torch.long, device=device))
    w_target = generator.mapping(z, torch.full((n,), target, dtype=torch.long, device=device))
    noise = generator.synthesis.make_noise(n, torch.Generator().manual_seed(noise_seed), device)
    frames = []
    for alpha in alphas:
        w = torch.lerp(w_source, w_target, float(alpha))
        ws = w.unsqueeze(1).repeat(1, generator.num_ws, 1)
        frames.append(generator.synthesis(ws, noise=noise).clamp(-1, 1))
    return torch.stack(frames)
