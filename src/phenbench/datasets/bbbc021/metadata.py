"""The BBBC021 metadata tables and the selections made from them.

`BBBC021_v1_image.csv` has one row per field of view (13,200 in the release) with the three TIFF
file names, plate, well, compound and concentration; `BBBC021_v1_moa.csv` maps 103
compound-concentration pairs to a mechanism of action. Public copies differ in quoting, float
formatting (0.003000 vs 0.003) and line endings (LF, CRLF, or old-Mac CR only): all are accepted.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from phenbench.core.conditions import condition_name
from phenbench.core.errors import ConfigError, DataError, UnknownNameError

CONTROL = "DMSO"
CHANNELS = ("DAPI", "Tubulin", "Actin")
IMAGE_CSV = "BBBC021_v1_image.csv"
MOA_CSV = "BBBC021_v1_moa.csv"

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

# The paper's condition sets, by name: compounds whose every listed concentration is taken (+ DMSO).
NAMED_SETS: dict[str, tuple[str, ...]] = {
    "latrunculin-b": ("latrunculin B",),
    "paper-25": ("latrunculin B", "nocodazole", "herbimycin A"),
}


def read_csv_any_newline(path: str | Path, *, what: str) -> pd.DataFrame:
    """Read a CSV whatever its line endings (LF, CRLF or CR) and quoting."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"The {what} {path} is missing; download it with `phenbench data download bbbc021`.") from None
    except UnicodeDecodeError:
        raise DataError(f"The {what} {path} is not a UTF-8 text CSV; export it again as CSV.") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        return pd.read_csv(io.StringIO(text))
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"The {what} {path} is not a readable CSV ({exc}).") from None


def require_columns(table: pd.DataFrame, columns: Sequence[str], path: str | Path, what: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError(
            f"The {what} {path} lacks the column(s) {', '.join(missing)}; "
            f"it has {', '.join(map(str, table.columns))}. Use the official release's file."
        )


def to_condition(compound: str, concentration: float) -> str:
    return CONTROL if compound == CONTROL else condition_name(compound, float(concentration))


def read_image_table(path: str | Path) -> pd.DataFrame:
    """One row per field: plate, well, compound, concentration, condition and the 3 relative paths."""
    raw = read_csv_any_newline(path, what="BBBC021 image table")
    needed = list(IMAGE_COLUMNS) + [c for pair in FILE_COLUMNS.values() for c in pair]
    require_columns(raw, needed, path, "BBBC021 image table")
    table = raw[list(IMAGE_COLUMNS)].rename(columns=IMAGE_COLUMNS)
    for column in ("plate", "well", "compound"):
        table[column] = table[column].astype(str).str.strip()
    table["concentration"] = pd.to_numeric(table["concentration"], errors="raise").astype(float)
    table["condition"] = [to_condition(c, x) for c, x in zip(table["compound"], table["concentration"])]
    for channel, (folder, name) in FILE_COLUMNS.items():
        table[f"file_{channel}"] = raw[folder].astype(str).str.strip() + "/" + raw[name].astype(str).str.strip()
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
    table = read_csv_any_newline(path, what="BBBC021 MoA table")
    require_columns(table, ["compound", "concentration", "moa"], path, "BBBC021 MoA table")
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


@dataclass(frozen=True)
class Selection:
    """Which cells to use: by named set, compound, concentration, plate and MoA (empty = all)."""

    subset: str | None = None  # "latrunculin-b" or "paper-25"
    compounds: tuple[str, ...] = ()
    concentrations: tuple[float, ...] = ()
    plates: tuple[str, ...] = ()
    moas: tuple[str, ...] = ()
    include_control: bool = True

    def mask(self, table: pd.DataFrame) -> np.ndarray:
        """True for rows of `table` (columns compound, concentration, plate[, moa]) that are selected."""
        keep = np.ones(len(table), dtype=bool)
        is_control = (table["compound"] == CONTROL).to_numpy()
        compounds = list(self.compounds)
        if self.subset is not None:
            if self.subset not in NAMED_SETS:
                raise UnknownNameError("BBBC021 subset", self.subset, NAMED_SETS)
            compounds += list(NAMED_SETS[self.subset])
        if compounds:
            known = sorted(set(table["compound"]))
            for name in compounds:
                if name not in known:
                    raise UnknownNameError("compound", name, known)
            keep &= table["compound"].isin(compounds).to_numpy()
        if self.concentrations:
            wanted = np.asarray(self.concentrations, dtype=float)
            values = table["concentration"].to_numpy(dtype=float)
            keep &= np.isclose(values[:, None], wanted[None, :], rtol=1e-6, atol=1e-12).any(axis=1)
        if self.moas:
            if "moa" not in table.columns:
                raise ConfigError(
                    f"Selecting by MoA needs {MOA_CSV}: put it beside the data or set moa_csv in the config."
                )
            known = sorted(set(table["moa"]) - {""})
            for name in self.moas:
                if name not in known:
                    raise UnknownNameError("mechanism of action", name, known)
            keep &= table["moa"].isin(self.moas).to_numpy()
        if self.include_control:
            keep |= is_control
        else:
            keep &= ~is_control
        if self.plates:
            known = sorted(set(table["plate"]))
            for name in self.plates:
                if name not in known:
                    raise UnknownNameError("plate", name, known)
            keep &= table["plate"].isin(self.plates).to_numpy()
        if not keep.any():
            raise DataError(f"The selection {self} matches no cells; widen it.")
        return keep
