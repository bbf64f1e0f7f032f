"""The `explain` command (Phenexplain's walks between conditions), registered like any plugin's.

Importing this module imports neither torch nor the networks: `phenbench --help` stays fast.
"""

from __future__ import annotations

import click

from phenbench.core.conditions import split_conditions
from phenbench.hookspecs import hookimpl
from phenbench.imaging.figure_options import figure_options, style_from_options


@hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.command("explain")
    @click.option("--checkpoint", required=True, type=click.Path(file_okay=False),
                  help="A saved phenex-w or phenex-wplus model "
                       "(runs/phenex-w-<dataset>-<preset>-seed<N>-<key>/model, printed by `phenbench run`).")
    @click.option("--source", default="DMSO", show_default=True, help="The condition every walk starts from.")
    @click.option("--target", "targets", multiple=True, metavar="COND[,COND...]",
                  help="Condition(s) to walk to; repeatable. Default: every other condition.")
    @click.option("--samples", type=int, default=8, show_default=True, help="Generated cells: one row per sample.")
    @click.option("--steps", type=int, default=5, show_default=True, help="Images along each walk, ends included.")
    @click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder to write into.")
    @click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sampled z and noise.")
    @click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:1 ...")
    @figure_options
    def explain_command(checkpoint: str, source: str, targets: tuple[str, ...], samples: int, steps: int,
                        out: str, seed: int, device: str, panel_px: int, figure_format: str, colours: tuple[str, ...],
                        grey: str | None, display_range: str) -> None:
        """Phenexplain's figure: generated cells walking in W from the source condition to each target."""
        from pathlib import Path

        from phenbench.translators.phenexplain.explain import ExplainOptions, explain

        walks = explain(ExplainOptions(
            checkpoint=Path(checkpoint), out=Path(out), source=source, targets=split_conditions(targets), samples=samples,
            steps=steps, seed=seed, device=device,
            figure=style_from_options(panel_px, figure_format, colours, grey, display_range),
        ))
        for walk in walks:
            click.echo(f"{source} -> {walk.target}: {walk.grid}, {walk.gif}, {walk.frames}")
