"""`phenbench data prepare loaddata`: any screen described by a CellProfiler LoadData table -> one
HDF5 crop cache with a report (the same cache and report as `prepare bbbc021`).

The table is read by loaddata.py (any channel set, treatment and dose columns, control, both
column-name forms), joined to a per-well table where the treatments live there (JUMP), its
fields selected by plate, treatment and dose, its paths resolved (absolute, under --root, or
under the table's folder; URL prefixes mapped to local folders), and its nuclei taken from a
CellProfiler objects table when one is given. The pipeline (pipeline.py) does the rest. Unlike
BBBC021's preset, a LoadData preparation is strict by default: a user's own table with a missing
file is more likely a wrong --root than a damaged download, so it stops before segmenting, naming
the file (`--skip-bad-fields` to skip and count such fields instead).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from phenbench.core.config import config_to_dict
from phenbench.core.errors import DataError
from phenbench.datasets.csv_tables import read_csv_any_newline
from phenbench.datasets.screen.loaddata import (
    LoadDataColumns,
    field_keys,
    join_well_metadata,
    page_tuples,
    read_loaddata,
    resolve_files,
)
from phenbench.datasets.screen.nuclei import nuclei_centres
from phenbench.datasets.screen.pipeline import CropSettings, FieldSet, PrepareReport, check_output, prepare_fields
from phenbench.datasets.screen.selection import FieldSelection

# The cells' metadata columns, in storage order: what the `screen` dataset and its plate-level
# splits and batch-matched pairs read.
META_COLUMNS = ("condition", "compound", "concentration", "plate", "well", "site", "field")


@dataclass(frozen=True, kw_only=True)
class LoadDataOptions(CropSettings):
    """Everything `prepare loaddata` does with a table; stored in the cache."""

    table: str
    root: str | None = None  # relative paths are under it (default: the table's folder)
    columns: LoadDataColumns = LoadDataColumns()
    selection: FieldSelection = FieldSelection()  # plates, compounds (treatments), concentrations (doses)
    nuclei: str | None = None  # a CellProfiler objects table (Location_Center_X/Y): crop around these
    path_map: tuple[str, ...] = ()  # "OLD=NEW" prefixes of the table's paths (s3://... -> a local copy)
    well_metadata: str | None = None  # a per-well table joined on plate and well (JUMP's well.csv.gz)
    strict: bool = True


def prepare_loaddata(options: LoadDataOptions, *, progress: bool = True) -> PrepareReport:
    """Prepare the selected fields of the LoadData table `options.table` into the cache `options.out`."""
    check_output(Path(options.out).expanduser(), options.overwrite)
    path = Path(options.table).expanduser()
    where, spec = str(path), options.columns
    raw = read_csv_any_newline(path, what="LoadData table")
    if options.well_metadata:
        raw = join_well_metadata(raw, options.well_metadata, spec, where)
    table = read_loaddata(raw, spec, where)
    table = table[options.selection.mask(table, spec.control)].reset_index(drop=True)
    base = Path(options.root).expanduser() if options.root else path.parent
    if not base.is_dir():
        raise DataError(f"--root {base} is not a folder; give the folder the table's relative paths start from.")
    files = resolve_files(table, spec.names, base, options.path_map, where)
    pages = page_tuples(table, spec.names)
    centres = nuclei_centres(options.nuclei, table, spec, where) if options.nuclei else None
    # What else decides a field's crops goes into its key, so a changed option never reuses them.
    salts = [json.dumps([spec.nucleus_index, None if centres is None else centres[i].tolist()]) for i in range(len(table))]
    table["field"] = field_keys(table, files, pages, where, salts)
    fields = FieldSet(
        "LoadData", table, files, spec.names, {c: c for c in META_COLUMNS if c in table.columns},
        control=spec.control, pages=pages, nucleus_channel=spec.nucleus_index, centres=centres,
        illumination_folder="illumination-" + _digest([spec.names, files, pages]),
    )
    return prepare_fields(fields, options, recipe=config_to_dict(options), source=where, progress=progress)


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value).encode()).hexdigest()[:12]
