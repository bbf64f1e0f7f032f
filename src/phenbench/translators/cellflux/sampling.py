"""Integrating CellFlux's flow: the time grid, each image's start noise, and the ODE solve.

A control cell is translated by integrating dx/dt = v(x, t, target) from the noised cell at the
grid's first time to t = 1 with flow_matching's `ODESolver` (torchdiffeq's fixed-grid methods).
A cell of another condition is first carried back along its own condition's flow, from t = 1 to
the grid's first time (the same solver on the reversed grid), to the control-side point that
flow would have carried to it; the forward flow under the target then starts there.
"""

from __future__ import annotations

import hashlib

import torch

from phenbench.core.seeding import derived_seed
from phenbench.translators.cellflux.config import CellFluxConfig
from phenbench.translators.cellflux.model import GuidedVelocity

# CellFlux's EDM grid (training/edm_time_discretization.py): Karras et al.'s sigmas from 80 down to
# 0.002 (rho 7), then 0, mapped to flow time t = 1 - sigma / (1 + sigma).
EDM_SIGMA_MAX, EDM_SIGMA_MIN, EDM_RHO = 80.0, 0.002, 7.0


def time_grid(config: CellFluxConfig) -> torch.Tensor:
    """The `sampling_steps + 1` times the solver steps through, increasing, ending at 1."""
    steps = config.sampling_steps
    if config.time_grid == "uniform":
        return torch.linspace(0.0, 1.0, steps + 1)
    if steps == 1:
        sigmas = torch.tensor([EDM_SIGMA_MAX, 0.0], dtype=torch.float64)
    else:
        index = torch.arange(steps, dtype=torch.float64)
        top, bottom = EDM_SIGMA_MAX ** (1 / EDM_RHO), EDM_SIGMA_MIN ** (1 / EDM_RHO)
        sigmas = torch.cat([(top + index / (steps - 1) * (bottom - top)) ** EDM_RHO, torch.zeros(1, dtype=torch.float64)])
    return (1.0 - sigmas / (1.0 + sigmas)).float()


def image_seed(image: torch.Tensor, seed: int) -> int:
    """A seed from the image's own bytes: its noise does not depend on the batch it is in."""
    digest = hashlib.blake2b(image.detach().cpu().float().contiguous().numpy().tobytes(), digest_size=8).digest()
    return derived_seed(seed, int.from_bytes(digest, "little") >> 1)


def start_noise(images: torch.Tensor, seed: int) -> torch.Tensor:
    """Standard Gaussian noise, one draw per image, seeded by the image and `seed`."""
    return torch.stack([
        torch.randn(image.shape, generator=torch.Generator().manual_seed(image_seed(image, seed)))
        for image in images
    ]).to(images.device)


def integrate(velocity: GuidedVelocity, start: torch.Tensor, conditions: torch.Tensor, grid: torch.Tensor,
              method: str) -> torch.Tensor:
    """Solve the ODE over `grid` (increasing: forward; decreasing: back) from `start`."""
    from flow_matching.solver import ODESolver

    solver = ODESolver(velocity_model=velocity)
    return solver.sample(x_init=start, step_size=None, method=method, time_grid=grid.to(start.device),
                         conditions=conditions.to(start.device))
