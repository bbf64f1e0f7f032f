"""The `phenbench data` commands: `prepare` and `download` (added through `register_commands`).

Thin shells over `prepare_bbbc021` and `download_bbbc021`; heavy imports happen inside the
commands, so `phenbench --help` stays instant.
"""

from __future__ import annotations

import click

PREPARABLE = ("bbbc021",)


def _names(values: tuple[str, ...]) -> tuple[str, ...]:
    """`--plates a,b --plates c` -> ("a", "b", "c")."""
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


def add_data_commands(cli: click.Group) -> None:
    """Add the `data` group to the `phenbench` command line."""

    @cli.group("data")
    def data() -> None:
        """Prepare and download data sets."""

    @data.command("prepare")
    @click.argument("dataset", type=click.Choice(PREPARABLE))
    @click.option("--root", required=True, type=click.Path(), help="The raw release (with BBBC021_v1_image.csv).")
    @click.option("--out", required=True, type=click.Path(), help="The HDF5 cache to write (e.g. bbbc021.h5).")
    @click.option("--subset", help="A named set: latrunculin-b or paper-25.")
    @click.option("--compounds", multiple=True, help="Compounds to keep (comma-separated or repeated).")
    @click.option("--concentrations", multiple=True, help="Concentrations (uM) to keep.")
    @click.option("--plates", multiple=True, help="Plates to keep, e.g. Week4_27481.")
    @click.option("--moas", multiple=True, help="Mechanisms of action to keep.")
    @click.option("--crop-size", type=int, default=96, show_default=True, help="Crop side in pixels (PhenDiff: 128).")
    @click.option("--illumination/--no-illumination", default=False, show_default=True,
                  help="Divide each field by its plate's flat field.")
    @click.option("--split-by", type=click.Choice(["well", "plate", "field"]), default="well", show_default=True)
    @click.option("--test-fraction", type=float, default=0.2, show_default=True)
    @click.option("--seed", type=int, default=0, show_default=True, help="Seed of the split.")
    @click.option("--workers", type=int, default=1, show_default=True, help="Processes segmenting fields.")
    @click.option("--compression", type=click.Choice(["gzip", "lzf", "none"]), default="gzip", show_default=True,
                  help="gzip: ~0.6x the disk, slower to read; none: fastest streaming.")
    @click.option("--strict", is_flag=True, help="Stop at the first unusable field instead of skipping it.")
    @click.option("--work-dir", type=click.Path(), help="Per-field results (resume); default <out>.work.")
    @click.option("--metadata", type=click.Path(), help="BBBC021_v1_image.csv, if not in the root.")
    @click.option("--overwrite", is_flag=True,
                  help="Replace an existing --out that is not a cache written by prepare (never needed otherwise).")
    @click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
    def prepare(dataset, root, out, subset, compounds, concentrations, plates, moas, crop_size, illumination,
                split_by, test_fraction, seed, workers, compression, strict, work_dir, metadata, overwrite,
                quiet) -> None:
        """Segment, crop and normalise a raw release into one streamable HDF5 cache (resumable)."""
        from phenbench.core.errors import ConfigError
        from phenbench.datasets.bbbc021.metadata import Selection
        from phenbench.datasets.bbbc021.prepare import PrepareOptions, prepare_bbbc021

        try:
            doses = tuple(float(c) for c in _names(concentrations))
        except ValueError:
            raise ConfigError(f"--concentrations must be numbers, got {concentrations}.") from None
        selection = Selection(subset=subset, compounds=_names(compounds), concentrations=doses,
                              plates=_names(plates), moas=_names(moas))
        options = PrepareOptions(
            root=root, out=out, selection=selection, crop_size=crop_size, illumination=illumination,
            split_by=split_by, test_fraction=test_fraction, split_seed=seed, workers=workers,
            compression=compression, strict=strict, work_dir=work_dir, metadata=metadata, overwrite=overwrite,
        )
        report = prepare_bbbc021(options, progress=not quiet)
        click.echo("\n".join(report.lines()))

    @data.command("download")
    @click.argument("dataset", type=click.Choice(PREPARABLE))
    @click.option("--dest", type=click.Path(), default="BBBC021", show_default=True, help="Where to put the release.")
    @click.option("--plates", multiple=True, help="Plates to fetch (default: all 55, about 40 GB).")
    @click.option("--list", "list_only", is_flag=True, help="Print the URLs and exit.")
    @click.option("--extract/--no-extract", default=True, show_default=True, help="Unzip the image archives.")
    @click.option("--base-url", default=None, help="A mirror of the release (default: the Broad's server).")
    @click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
    def download(dataset, dest, plates, list_only, extract, base_url, quiet) -> None:
        """Fetch the release's metadata and image archives (resumable, checksummed)."""
        from phenbench.datasets.bbbc021.download import BASE_URL, download_bbbc021, release_urls

        base = base_url or BASE_URL
        if not base.endswith("/"):
            base += "/"
        if list_only:
            click.echo("\n".join(release_urls(_names(plates), base_url=base)))
            return
        files = download_bbbc021(dest, _names(plates), base_url=base, extract=extract, progress=not quiet)
        click.echo(f"{len(files)} file(s) in {dest}; sha256 sums recorded in {dest}/SHA256SUMS.")
