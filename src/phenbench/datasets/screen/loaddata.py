"""CellProfiler LoadData tables: which files make each field of view, and what was done to it.

A LoadData CSV (CellProfiler's LoadData module; JUMP's `load_data.csv`; pycytominer and the Cell
Painting Gallery use it) has one row per field of view. For each channel X: `FileName_X` and,
optionally, `PathName_X` (the folder) and `Frame_X` (the 0-based page of a multi-page TIFF).
CellProfiler's exported per-image tables write the same columns as `Image_FileName_X`,
`Image_PathName_X`: both forms are read, here and for the metadata columns (`Metadata_Plate` or
`Image_Metadata_Plate`). LoadData's other form, one `URL_X` column per channel (JUMP's tables:
s3:// URLs, mapped to a local copy with `--path-map`; `file://` URLs are local paths), is read too. Plate, well, site and the treatment and dose columns are named by the
user (`LoadDataColumns`); BBBC021's `BBBC021_v1_image.csv` is one such table (bbbc021/metadata.py
holds its preset).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd

from phenbench.core.conditions import condition_name
from phenbench.core.errors import ConfigError, DataError
from phenbench.datasets.csv_tables import read_csv_any_newline

PREFIXES = ("", "Image_")  # LoadData's own form, and CellProfiler's exported per-image table's form
URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
NO_PAGE = -1  # page_<channel> of a file that holds that one channel only
SAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class LoadDataColumns:
    """Which columns of a LoadData table say what. Channels are `NAME` (its columns are
    `FileName_NAME`...) or `NAME=SUFFIX` (columns `FileName_SUFFIX`..., stored as NAME)."""

    channels: tuple[str, ...] = ("DNA", "RNA", "ER", "AGP", "Mito")
    nucleus_channel: str | None = None  # segmented for nuclei; default: the first channel
    treatment: str = "Metadata_Compound"
    dose: str | None = None  # None: conditions are the treatment names alone
    control: str = "DMSO"  # a value of the treatment column
    plate: str = "Metadata_Plate"
    well: str = "Metadata_Well"
    site: str | None = None  # None: Metadata_Site where the table has one
    stack: str | None = None  # one multi-page TIFF per field (FileName_<stack>), pages in channel order

    def __post_init__(self) -> None:
        if not self.channels:
            raise ConfigError("--channels names no channel; give them in storage order, e.g. DNA,RNA,ER,AGP,Mito.")
        pairs = [entry.split("=", 1) if "=" in entry else [entry, entry] for entry in self.channels]
        if any(not name.strip() or not suffix.strip() for name, suffix in pairs):
            raise ConfigError(f"--channels {','.join(self.channels)}: each entry is NAME or NAME=COLUMN-SUFFIX.")
        names = [name.strip() for name, _ in pairs]
        if len(set(names)) != len(names):
            raise ConfigError(f"--channels names a channel twice: {', '.join(names)}.")
        if self.nucleus_channel is not None and self.nucleus_channel not in names:
            raise ConfigError(f"--nucleus-channel {self.nucleus_channel} is not one of the channels {', '.join(names)}.")
        if not self.control.strip():
            raise ConfigError("--control is empty; name the control treatment, e.g. DMSO.")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(entry.split("=", 1)[0].strip() for entry in self.channels)

    @property
    def suffixes(self) -> tuple[str, ...]:
        return tuple(entry.split("=", 1)[-1].strip() for entry in self.channels)

    @property
    def nucleus_index(self) -> int:
        return self.names.index(self.nucleus_channel) if self.nucleus_channel else 0


def condition_of(treatment: str, dose: float | None, control: str) -> str:
    """`DMSO` for the control, `taxol@0.3` for a dosed treatment, `taxol` without a dose."""
    if treatment == control or dose is None or pd.isna(dose):
        return treatment
    return condition_name(treatment, float(dose))


def find_column(raw: pd.DataFrame, name: str) -> str | None:
    """`name` as the table spells it: itself or with CellProfiler's `Image_` prefix."""
    for prefix in PREFIXES:
        if prefix + name in raw.columns:
            return prefix + name
    return None


def need_column(raw: pd.DataFrame, name: str, option: str, where: str) -> str:
    found = find_column(raw, name)
    if found is None:
        # Compared without the shared Metadata_ prefix, which would make every column look close.
        bare = {str(c).rpartition("Metadata_")[2].lower(): str(c) for c in raw.columns}
        close = [bare[c] for c in difflib.get_close_matches(name.rpartition("Metadata_")[2].lower(), list(bare), n=3, cutoff=0.7)]
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        metadata = [str(c) for c in raw.columns if "Metadata" in str(c)]
        raise DataError(
            f"The LoadData table {where} has no column {name} ({option}).{hint} "
            f"Its metadata columns: {', '.join(metadata) or 'none'}."
        )
    return found


def read_loaddata(raw: pd.DataFrame, spec: LoadDataColumns, where: str, *, require_control: bool = True) -> pd.DataFrame:
    """One row per field: line, image_number, plate, well, site (where known), compound,
    concentration, condition, and per channel `file_<name>` (PathName/FileName as written) and
    `page_<name>` (NO_PAGE for a file holding one plane)."""
    table = pd.DataFrame(index=raw.index)
    table["line"] = np.arange(len(raw)) + 2  # in the CSV, for messages (line 1 is the header)
    # CellProfiler numbers image sets by their row (1-based) unless the table says otherwise.
    image_number = find_column(raw, "ImageNumber")
    table["image_number"] = raw[image_number].to_numpy() if image_number else np.arange(1, len(raw) + 1)
    table["plate"] = text_column(raw, need_column(raw, spec.plate, "--plate", where), where)
    table["well"] = text_column(raw, need_column(raw, spec.well, "--well", where), where)
    site = need_column(raw, spec.site, "--site", where) if spec.site else find_column(raw, "Metadata_Site")
    if site is not None:
        table["site"] = text_column(raw, site, where)
    treatment = need_column(raw, spec.treatment, "--treatment", where)
    table["compound"] = text_column(raw, treatment, where)
    table["concentration"] = _doses(raw, spec, table["compound"], where)
    if require_control:
        _check_control(table["compound"], spec.control, treatment, where)
    table["condition"] = [condition_of(t, d, spec.control) for t, d in zip(table["compound"], table["concentration"])]
    for index, (name, suffix) in enumerate(zip(spec.names, spec.suffixes)):
        column = spec.stack or suffix
        table[f"file_{name}"] = _file_names(raw, column, name, where)
        frame = find_column(raw, f"Frame_{column}")
        if spec.stack:
            table[f"page_{name}"] = index
        elif frame is not None:
            pages = pd.to_numeric(raw[frame], errors="coerce")
            if pages.isna().any() or (pages < 0).any() or (pages % 1 != 0).any():
                line = int(np.flatnonzero(pages.isna() | (pages < 0) | (pages % 1 != 0))[0]) + 2
                raise DataError(f"{where} line {line}: {frame} must be a page number (0, 1, ...), got {raw[frame].iloc[line - 2]!r}.")
            table[f"page_{name}"] = pages.astype(np.int64)
        else:
            table[f"page_{name}"] = NO_PAGE
    return table.reset_index(drop=True)


def text_column(raw: pd.DataFrame, column: str, where: str) -> pd.Series:
    values = raw[column]
    if values.isna().any():
        line = int(np.flatnonzero(values.isna().to_numpy())[0]) + 2
        raise DataError(f"{where} line {line}: {column} is empty; every field needs one.")
    if pd.api.types.is_float_dtype(values) and (values % 1 == 0).all():
        values = values.astype(np.int64)  # site 1.0 -> "1"
    return values.astype(str).str.strip()


def _doses(raw: pd.DataFrame, spec: LoadDataColumns, treatments: pd.Series, where: str) -> pd.Series:
    if spec.dose is None:
        return pd.Series(np.nan, index=raw.index, dtype=float)
    column = need_column(raw, spec.dose, "--dose", where)
    doses = pd.to_numeric(raw[column], errors="coerce").astype(float)
    bad = (doses.isna() | ~np.isfinite(doses)) & (treatments != spec.control)
    if bad.any():
        line = int(np.flatnonzero(bad.to_numpy())[0]) + 2
        raise DataError(
            f"{where} line {line}: {column} is {raw[column].iloc[line - 2]!r}, not a number; every treated "
            "field needs a numeric dose (or leave out --dose to name conditions by treatment alone)."
        )
    return doses


def _check_control(treatments: pd.Series, control: str, column: str, where: str) -> None:
    values = sorted(set(treatments))
    if control in values:
        return
    close = difflib.get_close_matches(control, values, n=3, cutoff=0.6)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    shown = ", ".join(values[:8]) + (f" (and {len(values) - 8} more)" if len(values) > 8 else "")
    raise DataError(f"The control {control!r} (--control) is not a value of {column} in {where}.{hint} It holds: {shown}.")


def _file_names(raw: pd.DataFrame, column: str, channel: str, where: str) -> pd.Series:
    """PathName/FileName of a channel, or its URL_ column (LoadData's other form: JUMP writes s3:// URLs)."""
    name = find_column(raw, f"FileName_{column}")
    if name is None:
        url = find_column(raw, f"URL_{column}")
        if url is not None:
            return text_column(raw, url, where).map(_local_url)
        present = sorted({str(c).split(kind, 1)[1] for c in raw.columns for kind in ("FileName_", "URL_") if kind in str(c)})
        # JUMP names its channels OrigDNA, OrigER, ...: a suffix holding the name is the likely one.
        close = [p for p in present if column.lower() in p.lower()] or difflib.get_close_matches(column, present, n=1, cutoff=0.5)
        mapping = f" --channels {channel}={close[0]}" if close else f" --channels {channel}=<suffix>"
        raise DataError(
            f"The LoadData table {where} has no column FileName_{column} (nor Image_FileName_{column}, URL_{column}) for "
            f"channel {channel}; its file columns are for {', '.join(present) or 'no channel'}. Name the channels as the "
            f"table does, or map one:{mapping}."
        )
    files = text_column(raw, name, where)
    folder = find_column(raw, f"PathName_{column}")
    return files if folder is None else text_column(raw, folder, where).str.rstrip("/") + "/" + files


def _local_url(url: str) -> str:
    """`file:///data/a%20b.tif` -> `/data/a b.tif`; other URLs (s3://) stay for --path-map."""
    return unquote(urlparse(url).path) if url.startswith("file:") else url


def resolve_files(table: pd.DataFrame, names: Sequence[str], base: Path, path_map: Sequence[str], where: str) -> list[tuple[str, ...]]:
    """Each field's files as paths: prefixes rewritten by `path_map` ("OLD=NEW"), then relative paths
    taken under `base` (--root, or the table's folder)."""
    rewrites = [entry.split("=", 1) for entry in path_map]
    if any(len(pair) != 2 or not pair[0] for pair in rewrites):
        raise ConfigError(f"--path-map entries are OLD=NEW (a prefix of the table's paths and its local folder), got {list(path_map)}.")
    columns = []
    for name in names:
        paths = table[f"file_{name}"].to_numpy(dtype=object)
        for old, new in rewrites:
            paths = np.array([new + p[len(old):] if p.startswith(old) else p for p in paths], dtype=object)
        remote = [i for i, p in enumerate(paths) if URL.match(p)]
        if remote:
            first = paths[remote[0]]
            prefix = first.rsplit("/", 2)[0] + "/"
            raise DataError(
                f"{where} line {table['line'].iloc[remote[0]]}: the file of channel {name} is a URL ({first}); phenbench reads local "
                f"files. Download them, then map the prefix to their folder: --path-map {prefix}=/local/folder/."
            )
        columns.append([str(base / p) for p in paths])
    return list(zip(*columns))


def page_tuples(table: pd.DataFrame, names: Sequence[str]) -> list[tuple[int | None, ...]]:
    pages = table[[f"page_{name}" for name in names]].to_numpy(dtype=np.int64)
    return [tuple(None if p == NO_PAGE else int(p) for p in row) for row in pages]


def field_keys(table: pd.DataFrame, files: Sequence[tuple[str, ...]], pages: Sequence[tuple], where: str,
               salts: Sequence[str] | None = None) -> list[str]:
    """A readable, unique file name per field: plate_well_site plus a digest of its files (and of
    `salts`: what else changes its crops), so an edited table never reuses another field's crops."""
    sites = table["site"] if "site" in table else pd.Series("", index=table.index)
    salts = salts if salts is not None else [""] * len(table)
    keys, seen = [], {}
    rows = zip(table["line"], table["plate"], table["well"], sites, files, pages, salts)
    for line, plate, well, site, paths, page, salt in rows:
        digest = hashlib.sha256(json.dumps([paths, page, salt]).encode()).hexdigest()[:10]
        key = SAFE.sub("_", f"{plate}_{well}" + (f"_s{site}" if site != "" else "")) + f"-{digest}"
        if key in seen:
            raise DataError(f"{where} lines {seen[key]} and {line} name the same files ({paths[0]}, ...); list each field once.")
        seen[key] = line
        keys.append(key)
    return keys


def join_well_metadata(raw: pd.DataFrame, path: str | Path, spec: LoadDataColumns, where: str) -> pd.DataFrame:
    """`raw` with the columns of a per-well table (a platemap; JUMP's `well.csv.gz`) joined on plate and
    well (on the well alone when the table has no plate column: one layout for every plate)."""
    wells = read_csv_any_newline(path, what="well metadata table")
    pairs = [(need_column(raw, spec.well, "--well", where), find_column(wells, spec.well))]
    if pairs[0][1] is None:
        raise DataError(f"The well metadata table {path} has no column {spec.well} to join on; name it as the LoadData table does.")
    plate = (find_column(raw, spec.plate), find_column(wells, spec.plate))
    if all(plate):
        pairs.insert(0, plate)
    joined = {theirs for _, theirs in pairs}
    added = [c for c in wells.columns if c not in raw.columns and c not in joined]
    if not added:
        raise DataError(f"The well metadata table {path} adds no column to {where}; it should hold the treatment per well.")
    keys = [f"__join{i}" for i in range(len(pairs))]
    left = pd.DataFrame({k: text_column(raw, ours, where).to_numpy() for k, (ours, _) in zip(keys, pairs)})
    right = wells[added].assign(**{k: text_column(wells, theirs, str(path)).to_numpy() for k, (_, theirs) in zip(keys, pairs)})
    twice = right.duplicated(keys)
    if twice.any():
        first = right.loc[twice, keys].iloc[0].tolist()
        raise DataError(f"The well metadata table {path} lists {' '.join(first)} twice; one row per well.")
    merged = left.merge(right, on=keys, how="left")
    return pd.concat([raw.reset_index(drop=True), merged[added]], axis=1)
