"""The BBBC021 metadata tables and the selections made from them.

`BBBC021_v1_image.csv` has one row per field of view (13,200 in the release) with the three TIFF
file names, plate, well, compound and concentration; `BBBC021_v1_moa.csv` maps 103
compound-concentration pairs to a mechanism of action. Public copies differ in quoting, float
formatting (0.003000 vs 0.003) and line endings (LF, CRLF, or old-Mac CR only): all are accepted.
The image table is a CellProfiler LoadData table: it is read by the general LoadData reader
(screen/loaddata.py) through `LOADDATA_PRESET`, its column names and control.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from phenbench.core.errors import DataError
from phenbench.datasets.csv_tables import read_csv_any_newline, require_columns
from phenbench.datasets.screen.loaddata import LoadDataColumns, condition_of, read_loaddata
from phenbench.datasets.screen.selection import FieldSelection

CONTROL = "DMSO"
CHANNELS = ("DAPI", "Tubulin", "Actin")
IMAGE_CSV = "BBBC021_v1_image.csv"
MOA_CSV = "BBBC021_v1_moa.csv"
DOWNLOAD = "download it with `phenbench data download bbbc021`"
OFFICIAL = "Use the official release's file."

IMAGE_COLUMNS = {
    "TableNumber": "table_number",
    "ImageNumber": "image_number",
    "Image_Metadata_Plate_DAPI": "plate",
    "Image_Metadata_Well_DAPI": "well",
    "Replicate": "replicate",
    "Image_Metadata_Compound": "compound",
    "Image_Metadata_Concentration": "concentration",
}
FILE_COLUMNS = {channel: (f"Image_PathName_{channel}", f"Image_FileName_{channel}") for channel in CHANNELS}
# The image table is a LoadData table in CellProfiler's exported (`Image_`) form: this is its preset.
LOADDATA_PRESET = LoadDataColumns(
    channels=CHANNELS, treatment="Image_Metadata_Compound", dose="Image_Metadata_Concentration", control=CONTROL,
    plate="Image_Metadata_Plate_DAPI", well="Image_Metadata_Well_DAPI",
)

# The paper's condition sets, by name: compounds whose every listed concentration is taken (+ DMSO).
NAMED_SETS: dict[str, tuple[str, ...]] = {
    "latrunculin-b": ("latrunculin B",),
    "paper-25": ("latrunculin B", "nocodazole", "herbimycin A"),
}


def to_condition(compound: str, concentration: float) -> str:
    return condition_of(compound, concentration, CONTROL)


def read_image_table(path: str | Path) -> pd.DataFrame:
    """One row per field: plate, well, compound, concentration, condition and the 3 relative paths."""
    raw = read_csv_any_newline(path, what="BBBC021 image table", fix=DOWNLOAD)
    needed = list(IMAGE_COLUMNS) + [c for pair in FILE_COLUMNS.values() for c in pair]
    require_columns(raw, needed, path, "BBBC021 image table", fix=OFFICIAL)
    fields = read_loaddata(raw, LOADDATA_PRESET, str(path), require_control=False)
    table = raw[list(IMAGE_COLUMNS)].rename(columns=IMAGE_COLUMNS).reset_index(drop=True)
    for column in ("plate", "well", "compound", "concentration", "condition"):
        table[column] = fields[column]
    for channel in CHANNELS:
        table[f"file_{channel}"] = fields[f"file_{channel}"]
    duplicated = table.duplicated(["table_number", "image_number"])
    if duplicated.any():
        first = table[duplicated].iloc[0]
        raise DataError(
            f"{path} lists (TableNumber, ImageNumber) = ({first.table_number}, {first.image_number}) twice; "
            "the key must be unique. Use the official release's file."
        )
    return table.reset_index(drop=True)


def read_moa_table(path: str | Path) -> pd.DataFrame:
    """compound, concentration, moa (DMSO included)."""
    table = read_csv_any_newline(path, what="BBBC021 MoA table", fix=DOWNLOAD)
    require_columns(table, ["compound", "concentration", "moa"], path, "BBBC021 MoA table", fix=OFFICIAL)
    table["compound"] = table["compound"].astype(str).str.strip()
    table["concentration"] = pd.to_numeric(table["concentration"]).astype(float)
    table["condition"] = [to_condition(c, x) for c, x in zip(table["compound"], table["concentration"])]
    return table


def attach_moa(table: pd.DataFrame, moa: pd.DataFrame | None) -> pd.DataFrame:
    """Add a `moa` column ("" where the pair has none) joined on the condition name."""
    table = table.copy()
    lookup = {} if moa is None else dict(zip(moa["condition"], moa["moa"].astype(str)))
    table["moa"] = [lookup.get(c, "") for c in table["condition"]]
    return table


class Selection(FieldSelection):
    """Which cells to use: by named set (`latrunculin-b`, `paper-25`), compound, concentration, plate
    and MoA (empty = all)."""

    named_sets = NAMED_SETS
    subset_kind = "BBBC021 subset"
    moa_missing = f"Selecting by MoA needs {MOA_CSV}: put it beside the data or set moa_csv in the config."
