"""The `phenbench data` commands: `prepare bbbc021`, `prepare loaddata` and `download` (added through
`register_commands`).

Thin shells over `prepare_bbbc021`, `prepare_loaddata` and `download_bbbc021`; heavy imports happen
inside the commands, so `phenbench --help` stays instant. Both preparations share the pipeline's
options (`_crop_options`), and write the same cache and report.
"""

from __future__ import annotations

from collections.abc import Callable

import click

DOWNLOADABLE = ("bbbc021",)


def _names(values: tuple[str, ...]) -> tuple[str, ...]:
    """`--plates a,b --plates c` -> ("a", "b", "c")."""
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


def _numbers(values: tuple[str, ...], option: str) -> tuple[float, ...]:
    from phenbench.core.errors import ConfigError

    try:
        return tuple(float(c) for c in _names(values))
    except ValueError:
        raise ConfigError(f"{option} must be numbers, got {', '.join(values)}.") from None


def _crop_options(strict_by_default: bool) -> Callable:
    """The options of the crop pipeline (CropSettings), shared by every `prepare` command."""
    strict_help = ("Stop at the first unusable field (missing or corrupt file, other size), checked from the "
                   "files' headers before segmenting; --skip-bad-fields skips and counts such fields.")
    options = [
        click.option("--out", required=True, type=click.Path(), help="The HDF5 cache to write (e.g. screen.h5)."),
        click.option("--crop-size", type=int, default=96, show_default=True, help="Crop side in pixels (PhenDiff: 128)."),
        click.option("--illumination/--no-illumination", default=False, show_default=True,
                     help="Divide each field by its plate's flat field."),
        click.option("--split-by", type=click.Choice(["well", "plate", "field"]), default="well", show_default=True),
        click.option("--test-fraction", type=float, default=0.2, show_default=True),
        click.option("--seed", type=int, default=0, show_default=True, help="Seed of the split."),
        click.option("--workers", type=int, default=1, show_default=True, help="Processes segmenting fields."),
        click.option("--compression", type=click.Choice(["gzip", "lzf", "none"]), default="gzip", show_default=True,
                     help="gzip: ~0.6x the disk, slower to read; none: fastest streaming."),
        click.option("--strict/--skip-bad-fields", default=strict_by_default, show_default=True, help=strict_help),
        click.option("--work-dir", type=click.Path(), help="Per-field results (resume); default <out>.work."),
        click.option("--overwrite", is_flag=True,
                     help="Replace an existing --out that is not a cache written by prepare (never needed otherwise)."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bars."),
    ]

    def decorate(function: Callable) -> Callable:
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


def _settings(values: dict) -> dict:
    """The pipeline's settings from the shared options (the command's own ones stay in `values`)."""
    names = {"out": "out", "crop_size": "crop_size", "illumination": "illumination", "split_by": "split_by",
             "test_fraction": "test_fraction", "seed": "split_seed", "workers": "workers",
             "compression": "compression", "strict": "strict", "work_dir": "work_dir", "overwrite": "overwrite"}
    return {field: values.pop(option) for option, field in names.items()}


def add_data_commands(cli: click.Group) -> None:
    """Add the `data` group to the `phenbench` command line."""

    @cli.group("data")
    def data() -> None:
        """Prepare and download data sets."""

    @data.group("prepare")
    def prepare() -> None:
        """Raw fields of view -> one streamable HDF5 cache of single-cell crops (resumable, with a report)."""

    @prepare.command("bbbc021")
    @click.option("--root", required=True, type=click.Path(), help="The raw release (with BBBC021_v1_image.csv).")
    @click.option("--subset", help="A named set: latrunculin-b or paper-25.")
    @click.option("--compounds", multiple=True, help="Compounds to keep (comma-separated or repeated).")
    @click.option("--concentrations", multiple=True, help="Concentrations (uM) to keep.")
    @click.option("--plates", multiple=True, help="Plates to keep, e.g. Week4_27481.")
    @click.option("--moas", multiple=True, help="Mechanisms of action to keep.")
    @click.option("--metadata", type=click.Path(), help="BBBC021_v1_image.csv, if not in the root.")
    @_crop_options(strict_by_default=False)
    def prepare_bbbc021_command(root, subset, compounds, concentrations, plates, moas, metadata, quiet, **values) -> None:
        """BBBC021's release: segment, crop and normalise into one cache (a preset of `loaddata`)."""
        from phenbench.datasets.bbbc021.metadata import Selection
        from phenbench.datasets.bbbc021.prepare import PrepareOptions, prepare_bbbc021

        selection = Selection(subset=subset, compounds=_names(compounds),
                              concentrations=_numbers(concentrations, "--concentrations"),
                              plates=_names(plates), moas=_names(moas))
        options = PrepareOptions(root=root, selection=selection, metadata=metadata, **_settings(values))
        click.echo("\n".join(prepare_bbbc021(options, progress=not quiet).lines()))

    @prepare.command("loaddata")
    @click.option("--table", required=True, type=click.Path(), help="The LoadData CSV: one row per field of view.")
    @click.option("--root", type=click.Path(), help="Where relative paths start (default: the table's folder).")
    @click.option("--channels", required=True, multiple=True,
                  help="Channels in storage order: NAME (columns FileName_NAME...) or NAME=SUFFIX, e.g. DNA=OrigDNA.")
    @click.option("--nucleus-channel", help="The channel to segment nuclei on (default: the first).")
    @click.option("--treatment", default="Metadata_Compound", show_default=True, help="The treatment column.")
    @click.option("--dose", help="The dose column (conditions become treatment@dose); none: by treatment alone.")
    @click.option("--control", default="DMSO", show_default=True, help="The control's value in the treatment column.")
    @click.option("--plate", "plate_column", default="Metadata_Plate", show_default=True, help="The plate column.")
    @click.option("--well", "well_column", default="Metadata_Well", show_default=True, help="The well column.")
    @click.option("--site", "site_column", help="The site column (default: Metadata_Site where present).")
    @click.option("--stack", help="One multi-page TIFF per field, in FileName_STACK; its pages are the channels in order.")
    @click.option("--plates", multiple=True, help="Plates to keep (comma-separated or repeated).")
    @click.option("--compounds", multiple=True, help="Treatments to keep (the control always stays).")
    @click.option("--doses", multiple=True, help="Doses to keep.")
    @click.option("--nuclei", type=click.Path(),
                  help="CellProfiler's nuclei table (Location_Center_X/Y): crop around these instead of segmenting.")
    @click.option("--path-map", multiple=True, help="OLD=NEW: rewrite a prefix of the table's paths (s3://... -> a local copy).")
    @click.option("--well-metadata", type=click.Path(), help="A per-well table (e.g. JUMP's well.csv.gz) joined on plate and well.")
    @_crop_options(strict_by_default=True)
    def prepare_loaddata_command(table, root, channels, nucleus_channel, treatment, dose, control, plate_column,
                                 well_column, site_column, stack, plates, compounds, doses, nuclei, path_map,
                                 well_metadata, quiet, **values) -> None:
        """Any screen described by a CellProfiler LoadData table (one row per field, FileName_X per channel)."""
        from phenbench.datasets.screen.loaddata import LoadDataColumns
        from phenbench.datasets.screen.prepare import LoadDataOptions, prepare_loaddata
        from phenbench.datasets.screen.selection import FieldSelection

        columns = LoadDataColumns(channels=_names(channels), nucleus_channel=nucleus_channel, treatment=treatment,
                                  dose=dose, control=control, plate=plate_column, well=well_column,
                                  site=site_column, stack=stack)
        selection = FieldSelection(compounds=_names(compounds), concentrations=_numbers(doses, "--doses"),
                                   plates=_names(plates))
        options = LoadDataOptions(table=table, root=root, columns=columns, selection=selection, nuclei=nuclei,
                                  path_map=tuple(path_map), well_metadata=well_metadata, **_settings(values))
        click.echo("\n".join(prepare_loaddata(options, progress=not quiet).lines()))

    @data.command("download")
    @click.argument("dataset", type=click.Choice(DOWNLOADABLE))
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
