"""Nuclei a CellProfiler pipeline already found: crop around them instead of segmenting again.

A CellProfiler objects table (`Nuclei.csv` from ExportToSpreadsheet; JUMP's per-site analysis
folders) has one row per object with `Location_Center_X` and `Location_Center_Y` (0-based pixel
coordinates; `Nuclei_Location_Center_X` in a database export) and the field it belongs to: the
same `Metadata_` plate, well (and site) columns as the LoadData table, or its `ImageNumber` (the
1-based row of the LoadData table, as CellProfiler numbers image sets, or the table's own
`ImageNumber` column). The metadata columns are used where the objects table has them, since a
CellProfiler run per site numbers every image 1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from phenbench.core.errors import DataError
from phenbench.datasets.csv_tables import read_csv_any_newline
from phenbench.datasets.screen.loaddata import LoadDataColumns, text_column

OBJECT_PREFIXES = ("", "Nuclei_", "Image_")


def _find(raw: pd.DataFrame, name: str) -> str | None:
    return next((prefix + name for prefix in OBJECT_PREFIXES if prefix + name in raw.columns), None)


def nuclei_centres(path: str | Path, fields: pd.DataFrame, spec: LoadDataColumns, where: str) -> list[np.ndarray]:
    """For each row of `fields` (plate, well[, site], image_number), its objects' centres as K x 2
    integer (row, col) arrays."""
    raw = read_csv_any_newline(path, what="nuclei table")
    x, y = _find(raw, "Location_Center_X"), _find(raw, "Location_Center_Y")
    if x is None or y is None:
        raise DataError(
            f"The nuclei table {path} has no Location_Center_X and Location_Center_Y columns (nor Nuclei_...); "
            "give CellProfiler's objects table of the nuclei (e.g. Nuclei.csv)."
        )
    by_metadata = [(spec.plate, "plate"), (spec.well, "well")] + ([(_site(spec), "site")] if "site" in fields else [])
    found = [_find(raw, column) for column, _ in by_metadata]
    if all(found):
        theirs = [text_column(raw, column, str(path)) for column in found]
        ours = [fields[name] for _, name in by_metadata]
        joined = " / ".join(column for column in found)
    elif "ImageNumber" in raw.columns:
        theirs, ours, joined = [text_column(raw, "ImageNumber", str(path))], [fields["image_number"].astype(str)], "ImageNumber"
    else:
        wanted = ", ".join(column for column, _ in by_metadata)
        raise DataError(
            f"The nuclei table {path} says neither which field an object is in ({wanted}) nor its ImageNumber; "
            "export the objects with their image's metadata."
        )
    keys = pd.Series(list(zip(*theirs)), index=raw.index)
    coordinates = raw[[y, x]].apply(pd.to_numeric, errors="coerce")  # (row, col) = (Y, X)
    located = coordinates.notna().all(axis=1)  # CellProfiler writes NaN for an empty object
    centres = np.rint(coordinates[located].to_numpy(dtype=float)).astype(np.int64)
    groups: dict[tuple, list[int]] = {}
    for i, key in enumerate(keys[located]):
        groups.setdefault(key, []).append(i)
    per_field = [centres[groups.get(key, [])].reshape(-1, 2) for key in zip(*ours)]
    if len(centres) and not any(len(c) for c in per_field):
        example_theirs, example_ours = keys[located].iloc[0], next(zip(*ours))
        raise DataError(
            f"No object of the nuclei table {path} belongs to a selected field of {where} (joined on {joined}: "
            f"its first object has {example_theirs}, the first field {example_ours}); check that both describe the same plates."
        )
    return per_field


def _site(spec: LoadDataColumns) -> str:
    return spec.site or "Metadata_Site"
