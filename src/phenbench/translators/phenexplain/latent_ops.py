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
    from their centre (the scale the projector's latent noise is drawn at).
    """
    rng = torch.Generator().manual_seed(seed)
    device = next(generator.parameters()).device
    centres, spreads = [], []
    for condition in range(generator.num_conditions):
        ws = []
        for start in range(0, samples, batch_size):
            count = min(batch_size, samples - start)
            z = torch.randn(count, generator.z_dim, generator=rng).to(device)
            c = torch.full((count,), condition, dtype=torch.long, device=device)
            ws.append(generator.mapping(z, c))
        ws = torch.cat(ws)
        centre = ws.mean(dim=0)
        centres.append(centre)
        spreads.append((ws - centre).square().sum(dim=1).mean().sqrt())
    return torch.stack(centres), torch.stack(spreads)


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
