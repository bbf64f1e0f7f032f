"""Ready single-cell crop tables: a CSV manifest plus npz/npy arrays, converted into a crop cache.

Manifest columns (one row per crop): `file` (npz or npy, relative to the manifest), `row_in_file`
(index along the array's first axis), `plate`, `well`, `compound`, `concentration`; optional:
`replicate`, `TableNumber` + `ImageNumber` (the field of view; used to split whole fields when a
condition has one well), `cell_index_in_field`. An npz holds one array (named `crops`, or its only
array); arrays are N x H x W x C or N x C x H x W (the channel axis is the short one).

Conversion reads one array file at a time, so memory stays at one file's crops. The cache is keyed
by the manifest's bytes, the array files' sizes and times, and the conversion options, so a changed
table is converted again and an unchanged one is reused. The cache keeps the crops as they are
(raw values, the first file's crop size; crops of other sizes are centre-padded or centre-cropped
to it, never resampled); resizing to the configured image size happens when reading.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from phenbench.core.errors import DataError
from phenbench.datasets.bbbc021.metadata import CONTROL, to_condition
from phenbench.datasets.cached_dataset import fit_raw_to_size
from phenbench.datasets.csv_tables import read_csv_any_newline, require_columns
from phenbench.datasets.h5cache import FORMAT, CacheWriter
from phenbench.datasets.splits import assign_splits

MANIFEST = "manifest.csv"
MANIFEST_COLUMNS = ("file", "row_in_file", "plate", "well", "compound", "concentration")


def is_crop_table(path: Path) -> bool:
    return path.is_dir() and (path / MANIFEST).is_file()


def read_manifest(root: Path) -> pd.DataFrame:
    """The manifest with standard columns: condition, plate, well, field and the array location."""
    path = root / MANIFEST
    table = read_csv_any_newline(path, what="crop manifest")
    require_columns(table, MANIFEST_COLUMNS, path, "crop manifest")
    if table.empty:
        raise DataError(f"The crop manifest {path} has no rows.")
    table = table.copy()
    for column in ("file", "plate", "well", "compound"):
        table[column] = table[column].astype(str).str.strip()
    table["concentration"] = _numbers(table, "concentration", path, allow_missing_for_control=True)
    table["row_in_file"] = _numbers(table, "row_in_file", path, allow_missing_for_control=False)
    fractional = table["row_in_file"] % 1 != 0
    if fractional.any():
        line = int(np.flatnonzero(fractional.to_numpy())[0])
        raise DataError(f"{path} line {line + 2}: row_in_file {table['row_in_file'].iloc[line]:g} is not a whole number.")
    table["row_in_file"] = table["row_in_file"].astype(np.int64)
    table["condition"] = [to_condition(c, x) for c, x in zip(table["compound"], table["concentration"])]
    if {"TableNumber", "ImageNumber"} <= set(table.columns):
        table["field"] = table["TableNumber"].astype(str) + "-" + table["ImageNumber"].astype(str)
    elif "Image_FileName_DAPI" in table.columns:
        table["field"] = table["Image_FileName_DAPI"].astype(str)
    return table


def _numbers(table: pd.DataFrame, column: str, path: Path, *, allow_missing_for_control: bool) -> pd.Series:
    """A numeric column, or a DataError naming the first manifest line (header = line 1) that is not a number."""
    raw = table[column]
    numbers = pd.to_numeric(raw, errors="coerce").astype(float)
    blank = raw.isna() | (raw.astype(str).str.strip() == "")
    bad = numbers.isna() & ~blank
    if allow_missing_for_control:
        bad |= blank & (table["compound"] != CONTROL)
        numbers = numbers.fillna(0.0)
    else:
        bad |= blank
    bad |= ~np.isfinite(numbers.fillna(0.0))
    if bad.any():
        line = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"{path} line {line + 2}: {column} {raw.iloc[line]!r} is not a number; fix that row.")
    return numbers


def cache_key(root: Path, options: dict) -> str:
    """A key that changes when the manifest, any array file, or the conversion options change."""
    files = read_manifest(root)["file"]  # checks the manifest first: a broken one is one clear line
    digest = hashlib.sha256((root / MANIFEST).read_bytes())
    for name in sorted(set(files)):
        path = root / name
        stat = path.stat() if path.exists() else None
        digest.update(f"{name}:{stat.st_size if stat else -1}:{stat.st_mtime_ns if stat else -1}".encode())
    digest.update(json.dumps({**options, "format": FORMAT}, sort_keys=True).encode())
    return digest.hexdigest()[:16]


def load_array(path: Path) -> np.ndarray:
    """The crop array of an npz/npy file, as N x C x H x W."""
    if not path.is_file():
        raise DataError(f"The crop array {path} named in the manifest is missing; restore it or drop its rows.")
    try:
        if path.suffix == ".npy":
            array = np.load(path, mmap_mode="r")
        else:
            with np.load(path) as archive:
                names = archive.files
                key = "crops" if "crops" in names else (names[0] if len(names) == 1 else None)
                if key is None:
                    raise DataError(f"{path} holds arrays {names}; name the crop array 'crops'.")
                array = archive[key]
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"The crop array {path} is corrupt or not a numpy file ({exc}); replace it.") from None
    if array.ndim == 3:
        array = array[:, None]
    if array.ndim != 4:
        raise DataError(f"{path} holds an array of shape {array.shape}; crops must be N x H x W x C or N x C x H x W.")
    if array.shape[-1] < array.shape[1]:  # channels last
        array = np.moveaxis(array, -1, 1)
    return np.asarray(array)


def convert_crop_table(
    root: Path,
    out: Path,
    *,
    channels: tuple[str, ...] | None,
    crop_size: int | None,
    split_by: str,
    test_fraction: float,
    split_seed: int,
) -> Path:
    """Write the crops of the table at `root` into the cache `out` (atomically)."""
    table = read_manifest(root)
    files = list(dict.fromkeys(table["file"]))
    first = load_array(root / files[0])
    c, h, w = first.shape[1:]
    size = crop_size or max(h, w)
    names = tuple(channels) if channels else ("DAPI",) + tuple(f"ch{i}" for i in range(1, c))
    if len(names) != c:
        raise DataError(f"{root / files[0]} has {c} channel(s) but {len(names)} channel names were given: {names}.")
    split = assign_splits(table, by=split_by, test_fraction=test_fraction, seed=split_seed)
    table["split"] = split.split
    keep = ["condition", "compound", "concentration", "plate", "well", "split"]
    keep += [k for k in ("field", "replicate", "TableNumber", "ImageNumber", "cell_index_in_field") if k in table]
    keep += ["file", "row_in_file"]
    with CacheWriter(out, channels=names, crop_shape=(size, size), dtype=first.dtype, source=str(root)) as writer:
        for name in files:
            rows = table[table["file"] == name]
            array = first if name == files[0] else load_array(root / name)
            if array.shape[1] != c:
                raise DataError(f"{root / name} has {array.shape[1]} channels but {root / files[0]} has {c}.")
            # One dtype for the whole table: casting float crops to the first file's integers would
            # turn NaN into 0, -5 into 65531 and 0.5 into 0, silently.
            if array.dtype != first.dtype:
                raise DataError(
                    f"{root / name} holds {array.dtype} crops but {root / files[0]} holds {first.dtype}; "
                    "convert the crop files to one dtype (the same bit depth and scale) first."
                )
            index = rows["row_in_file"].to_numpy(dtype=np.int64)
            outside = (index < 0) | (index >= len(array))
            if outside.any():
                k = int(np.flatnonzero(outside)[0])
                raise DataError(
                    f"{root / MANIFEST} line {int(rows.index[k]) + 2} points at row {index[k]} of {root / name}, "
                    f"which has rows 0 to {len(array) - 1}; fix row_in_file."
                )
            crops = array[index]
            if np.issubdtype(crops.dtype, np.floating):
                broken = ~np.isfinite(crops).reshape(len(crops), -1).all(axis=1)
                if broken.any():
                    k = int(np.flatnonzero(broken)[0])
                    raise DataError(
                        f"{root / name} row {index[k]} (manifest line {int(rows.index[k]) + 2}) holds NaN or "
                        "infinite values; fix or drop that crop."
                    )
            writer.append(fit_raw_to_size(crops, size, "pad"), rows[keep])
        writer.close(attrs={
            "prepare": {"kind": "crop-table", "root": str(root), "crop_size": size},
            "split": {"by": split_by, "test_fraction": test_fraction, "seed": split_seed, "levels": split.levels},
            "control": CONTROL,
        })
    return out

