"""`phenbench explain`: Phenexplain's own figure, drawn from a trained model.

The paper explains a condition by generating cells, not by translating real ones: the same z is
mapped under the source and under the target condition, and the images along the straight line
between the two w's show what the condition changes while the z-driven cell identity stays put.
For each target this writes a grid (one row per sampled z, one column per step of the walk, source
on the left) and an animated GIF of the walk, in the same channel composites as `phenbench
translate`, plus the frames themselves as a float32 .npy for measuring.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from phenbench.core.errors import ConfigError
from phenbench.core.plugins import load_translator
from phenbench.imaging.files import safe_name, write_array
from phenbench.imaging.panels import composites, panel_gap, strip, write_frames_gif
from phenbench.translators.phenexplain.latent_ops import interpolate_conditions
from phenbench.translators.phenexplain.translator import PhenexplainTranslator


@dataclass(frozen=True)
class ExplainOptions:
    checkpoint: Path
    out: Path
    source: str = "DMSO"
    targets: tuple[str, ...] = ()  # empty: every other condition
    samples: int = 8  # sampled z, one row of the grid each
    steps: int = 5  # images along each walk, source and target included
    seed: int = 0
    device: str = "cpu"


@dataclass(frozen=True)
class Walk:
    target: str
    grid: Path
    gif: Path
    frames: Path


def explain(options: ExplainOptions) -> list[Walk]:
    """Write one walk per target; returns what was written, in target order."""
    if options.samples < 1 or options.steps < 2:
        raise ConfigError(f"explain needs at least 1 sample and 2 steps, got {options.samples} and {options.steps}.")
    translator = load_translator(options.checkpoint, options.device)
    if not isinstance(translator, PhenexplainTranslator):
        raise ConfigError(
            f"{options.checkpoint} holds a '{translator.name}' model; `phenbench explain` draws Phenexplain's "
            "walks and needs a phenex-w or phenex-wplus model. For other translators use `phenbench translate`."
        )
    conditions = translator.spec.conditions
    source = conditions.index(options.source)  # unknown names fail here, with suggestions
    targets = [conditions.index(t) for t in options.targets] or [i for i in range(len(conditions)) if i != source]
    generator = translator.G_ema.to(options.device).eval()
    z = torch.randn(options.samples, generator.z_dim, generator=torch.Generator().manual_seed(options.seed))
    alphas = np.linspace(0.0, 1.0, options.steps).tolist()
    options.out.mkdir(parents=True, exist_ok=True)
    walks = []
    for target in targets:
        frames = interpolate_conditions(generator, z.to(options.device), source, target, alphas, options.seed).cpu()
        stem = f"walk_{safe_name(conditions.name(source))}_to_{safe_name(conditions.name(target))}"
        walk = Walk(conditions.name(target), options.out / f"{stem}.png", options.out / f"{stem}.gif",
                    options.out / f"{stem}.npy")
        pictures = [composites(frame, translator.spec.channels) for frame in frames]  # steps x N x H x W x 3
        write_array(grid(pictures), walk.grid, png=True)
        write_frames_gif([strip(picture) for picture in pictures], walk.gif)
        np.save(walk.frames, frames.numpy().astype(np.float32))  # steps x N x C x H x W in [-1, 1]
        walks.append(walk)
    return walks


def grid(pictures: Sequence[np.ndarray]) -> np.ndarray:
    """Columns = steps of the walk, rows = samples: steps x (N x H x W x 3) -> one picture."""
    rows = [strip(np.stack([picture[i] for picture in pictures])) for i in range(len(pictures[0]))]
    gap = panel_gap(pictures[0].shape[1])
    out = np.full((len(rows) * (rows[0].shape[0] + gap) - gap, rows[0].shape[1], 3), 255, dtype=np.uint8)
    for i, row in enumerate(rows):
        out[i * (row.shape[0] + gap) : i * (row.shape[0] + gap) + row.shape[0]] = row
    return out
