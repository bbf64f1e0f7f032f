"""`phenbench explain`: Phenexplain's own figure, drawn from a trained model.

The paper explains a condition by generating cells, not by translating real ones: the same z is
mapped under the source and under the target condition, and the images along the straight line
between the two w's show what the condition changes while the z-driven cell identity stays put.
For each target this writes a labelled figure (one row per sampled z, one column per step of the
walk, source on the left; PNG and SVG/PDF, drawn by `phenbench.imaging.figures` like `phenbench
translate`'s dose series), an animated GIF stepping through the columns, and the frames themselves
as a float32 .npy for measuring.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from phenbench.core.errors import ConfigError
from phenbench.core.plugins import load_translator
from phenbench.imaging.figures import FigureStyle, grid_layout, save_array, write_figure
from phenbench.imaging.files import safe_name
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
    figure: FigureStyle = field(default_factory=FigureStyle)


@dataclass(frozen=True)
class Walk:
    target: str
    grid: Path  # the figure's PNG (its SVG/PDF beside it, as `figure.vector` asks)
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
    channels = translator.spec.channels
    options.figure.shown_channels(channels)  # a misspelled --grey channel fails before anything is drawn
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
        names = (conditions.name(source), conditions.name(target))
        layout, _ = walk_layout(frames.numpy(), channels, names, alphas, translator.name, options.figure)
        write_figure(layout, walk.grid, options.figure.vector, gif_path=walk.gif, gif_rows=options.samples)
        save_array(frames.numpy(), walk.frames)  # steps x N x C x H x W in [-1, 1]
        walks.append(walk)
    return walks


def walk_layout(frames: np.ndarray, channels, names: tuple[str, str], alphas: list[float], method: str,
                style: FigureStyle):
    """The walk's figure: rows = sampled z, columns = steps (steps x N x C x H x W frames)."""
    source, target = names
    labels = [source, *(f"α={a:.2f}" for a in alphas[1:-1]), target]  # one word: never wrapped
    return grid_layout(
        np.swapaxes(frames, 0, 1), channels, style, column_labels=labels,
        row_labels=[f"z {i + 1}" for i in range(frames.shape[1])],
        title=f"{method}: generated cells walking in W from {source} to {target}",
        notes=["Each row is one sampled z (one cell identity); each column a step along the straight line between "
               f"the two conditions' w (α = 0 is {source}, α = 1 is {target})."],
    )
