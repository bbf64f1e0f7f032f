"""The built-in `translate` command, registered through the same hook as third-party commands.

Importing this module imports neither torch nor the translators: `phenbench --help` stays fast.
"""

from __future__ import annotations

import click

from phenbench.core.conditions import split_conditions
from phenbench.hookspecs import hookimpl
from phenbench.imaging.figure_options import figure_options, style_from_options


def parse_settings(pairs: tuple[str, ...]) -> dict[str, object]:
    """`--setting KEY=VALUE` pairs as a dict, each value read as YAML (50 -> 50, bf16 -> "bf16")."""
    import yaml

    settings: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE (e.g. inference_steps=50)", param_hint="--setting")
        try:
            settings[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise click.BadParameter(f"the value of {pair!r} is not readable; quote text values", param_hint="--setting") from None
    return settings


@hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.command("translate")
    @click.option("--checkpoint", required=True, type=click.Path(file_okay=False),
                  help="A saved model folder (runs/<translator>-<dataset>-<preset>-seed<N>-<key>/model, "
                       "printed by `phenbench run`).")
    @click.option("--images", required=True, type=click.Path(),
                  help="A PNG/TIFF file or a folder of them (searched recursively).")
    @click.option("--translator", default=None,
                  help="Use the model as this translator (default: the one that trained it), e.g. phenex-wplus "
                       "for a phenex-w model.")
    @click.option("--source", default="DMSO", show_default=True, help="The condition the images were imaged under.")
    @click.option("--target", "targets", multiple=True, metavar="COND[,COND...]",
                  help="Condition(s) to translate to; repeatable.")
    @click.option("--targets", "series", nargs=2, type=(click.Choice(["all-doses"]), str), default=None,
                  metavar="all-doses COMPOUND",
                  help="Every dose of COMPOUND in dose order, plus per input a labelled figure (source, then each "
                       "dose; PNG and SVG/PDF), its panels' values (.npy) and a GIF, and a contact sheet.")
    @click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder to write into.")
    @click.option("--differences", is_flag=True, help="Also write translated minus source (float32 TIFF, per channel).")
    @click.option("--difference-rows", is_flag=True,
                  help="Dose-series figures get a row per channel of translated minus source, with colour bars.")
    @click.option("--contact-sheet", type=int, default=12, show_default=True, metavar="ROWS",
                  help="Dose series: one figure of the first ROWS inputs (rows) by doses (columns); 0 for none.")
    @figure_options
    @click.option("--normalization", default="auto", show_default=True, metavar="auto|dtype|estimate|FILE",
                  help="Intensity map to [-1, 1]: auto = the checkpoint's normalization.json, else estimate; "
                       "dtype = the file type's full range; estimate = 0.1/99.9 percentiles of the inputs; "
                       "or a normalization.json.")
    @click.option("--batch-size", type=int, default=16, show_default=True, help="Images in memory at once.")
    @click.option("--seed", type=int, default=0, show_default=True, help="Seed (per batch) for stochastic translators.")
    @click.option("--setting", "settings", multiple=True, metavar="KEY=VALUE",
                  help="A new value for one of the model's translation settings (repeatable), e.g. inference_steps=50.")
    @click.option("--device", default="auto", show_default=True, help="auto (this process's GPU, else CPU), cpu, cuda:0 ...")
    @click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
    def translate_command(checkpoint: str, images: str, translator: str | None, source: str, targets: tuple[str, ...],
                          series: tuple[str, str] | None, out: str, differences: bool, difference_rows: bool,
                          contact_sheet: int, panel_px: int, figure_format: str, colours: tuple[str, ...],
                          grey: str | None, display_range: str, normalization: str, batch_size: int, seed: int,
                          settings: tuple[str, ...], device: str, quiet: bool) -> None:
        """Apply a trained translator to your own images (resumable; shard with `accelerate launch`)."""
        from pathlib import Path

        from phenbench.apply.runner import TranslateOptions, translate_folder
        from phenbench.apply.shard import current_shard, default_device

        shard = current_shard()
        options = TranslateOptions(
            checkpoint=Path(checkpoint), images=Path(images), out=Path(out), source=source, translator=translator,
            targets=split_conditions(targets), dose_series=series[1] if series else None, differences=differences,
            figure=style_from_options(panel_px, figure_format, colours, grey, display_range, difference_rows),
            contact_sheet=contact_sheet,
            normalization=normalization, batch_size=batch_size, seed=seed, settings=parse_settings(settings),
            device=default_device() if device == "auto" else device, progress=not quiet,
        )
        report = translate_folder(options, shard=shard)
        if shard.is_main:
            click.echo(
                f"{report.written} file(s) written, {report.skipped} already there, "
                f"{report.images} image(s) in {report.seconds:.1f} s by process 1 of {shard.count}; "
                f"normalisation: {report.normalization}."
            )
            click.echo(f"Manifest: {report.manifest}")
