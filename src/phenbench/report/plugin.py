"""The built-in `report` command, registered through the same hook as third-party commands.

Importing this module imports neither torch nor matplotlib: `phenbench --help` stays fast.
"""

from __future__ import annotations

import click

from phenbench.hookspecs import hookimpl


@hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.command("report")
    @click.option("--store", type=click.Path(), default="results.h5", show_default=True, help="HDF5 results store.")
    @click.option("--out", "out_dir", type=click.Path(), required=True, help="Folder to write index.html into.")
    @click.option("--dataset", help="Dataset whose runs to report (needed when the store holds several).")
    @click.option("--sources", type=int, default=6, show_default=True, help="Source images per method grid.")
    @click.option("--real-per-condition", type=int, default=3, show_default=True,
                  help="Real reference images per condition (with their reconstructions).")
    @click.option("--colour", "colours", multiple=True, metavar="CHANNEL=COLOUR",
                  help="Composite colour of a channel (name or #rrggbb); repeatable. "
                       "Default: DNA blue, tubulin green, actin red.")
    @click.option("--max-mb", "max_megabytes", type=float, default=20.0, show_default=True,
                  help="Largest page size; grids show fewer images rather than pass it.")
    def report_command(store: str, out_dir: str, dataset: str | None, sources: int, real_per_condition: int,
                       colours: tuple[str, ...], max_megabytes: float) -> None:
        """Write a self-contained HTML comparison report (table, image grids, difference maps, plots)."""
        from phenbench.core.store import ResultsStore
        from phenbench.imaging.display import parse_channel_colours
        from phenbench.report.build import ReportOptions, build_report

        options = ReportOptions(dataset=dataset, sources=sources, real_per_condition=real_per_condition,
                                colours=parse_channel_colours(colours), max_megabytes=max_megabytes)
        path = build_report(ResultsStore(store), out_dir, options)
        size = path.stat().st_size / 1e6
        click.echo(f"Report written to {path} ({size:.1f} MB); open it in a browser (no server needed).")
