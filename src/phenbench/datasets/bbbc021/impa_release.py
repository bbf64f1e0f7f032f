"""IMPA's preprocessed BBBC021 release: an index CSV plus one npy file per single-cell crop.

The layout the field's protocol uses (IMPA, CellFlux, FreeBridge):

    <root>/metadata/<name>.csv      the index: first column the row index, then SAMPLE_KEY, CPD_NAME,
                                    DOSE, ANNOT (the MoA), SPLIT (train/test), STATE (control or
                                    treated: "control"/"trt" in IMPA's file, 0/1 in CellFlux's) and
                                    BATCH (the plate)
    <root>/<A>/<B>/<rest>.npy       the crop of SAMPLE_KEY `A_B_rest`: H x W x 3 uint8 (96 x 96)

The crops are converted once into a crop cache (h5cache.py), streamed in batches of `BATCH` files
(memory stays at one batch), keyed by the index's bytes and every crop file's size and time, so
a changed release is converted again. The release's SPLIT is kept as it is. Conditions are stored
as compound@dose (the control as its CPD_NAME); the adapter derives per-compound labels.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from phenbench.core.errors import DataError
from phenbench.datasets.csv_tables import read_csv_any_newline, require_columns
from phenbench.core.conditions import condition_name
from phenbench.datasets.h5cache import FORMAT, CacheWriter

COLUMNS = ("SAMPLE_KEY", "CPD_NAME", "DOSE", "ANNOT", "SPLIT", "STATE", "BATCH")
CONTROL_STATES = {"control", "ctrl", "0"}
TREATED_STATES = {"trt", "treated", "1"}
BATCH = 256  # crops read per append


def find_index(root: Path) -> Path:
    """The index CSV: `root` itself when it is a CSV, else the one CSV in `root/metadata`."""
    if root.is_file():
        if root.suffix.lower() != ".csv":
            raise DataError(f"{root} is not an index CSV; pass the release folder or its metadata/<name>.csv.")
        return root
    if not root.is_dir():
        raise DataError(f"The IMPA release {root} does not exist; check --data.")
    found = sorted((root / "metadata").glob("*.csv")) if (root / "metadata").is_dir() else []
    if len(found) != 1:
        what = "no CSV" if not found else f"{len(found)} CSVs ({', '.join(p.name for p in found)})"
        raise DataError(
            f"{root / 'metadata'} holds {what}; an IMPA release has one index CSV there. Pass the CSV itself "
            "as --data (with image_root in the dataset config if the crops are elsewhere)."
        )
    return found[0]


def image_root_of(index: Path, image_root: str | None) -> Path:
    """Where the crops are: `image_root`, else the folder above `metadata/` (IMPA's layout)."""
    if image_root:
        return Path(image_root).expanduser()
    return index.parent.parent if index.parent.name == "metadata" else index.parent


def crop_path(root: Path, key: str) -> Path:
    """`A_B_rest` -> root/A/B/rest.npy (IMPA's rule for BBBC021)."""
    parts = key.split("_")
    return root / parts[0] / parts[1] / ("_".join(parts[2:]) + ".npy")


def read_index(index: Path) -> pd.DataFrame:
    """The index with phenbench's columns: condition, compound, concentration, moa, plate, split, key."""
    raw = read_csv_any_newline(index, what="IMPA index")
    raw = raw.set_index(raw.columns[0]) if len(raw.columns) and raw.columns[0].startswith("Unnamed") else raw
    require_columns(raw, COLUMNS, index, "IMPA index")
    if raw.empty:
        raise DataError(f"The IMPA index {index} has no rows.")
    table = pd.DataFrame({
        "sample_key": raw["SAMPLE_KEY"].astype(str).str.strip().to_numpy(),
        "compound": raw["CPD_NAME"].astype(str).str.strip().to_numpy(),
        "moa": raw["ANNOT"].fillna("").astype(str).str.strip().to_numpy(),
        "plate": raw["BATCH"].astype(str).str.strip().to_numpy(),
        "split": raw["SPLIT"].astype(str).str.strip().str.lower().to_numpy(),
    })
    line = lambda k: int(k) + 2  # noqa: E731  header = line 1
    short = np.flatnonzero([len(k.split("_")) < 3 for k in table["sample_key"]])
    if len(short):
        k = int(short[0])
        raise DataError(f"{index} line {line(k)}: SAMPLE_KEY {table['sample_key'][k]!r} is not of the form A_B_rest.")
    bad_split = np.flatnonzero(~table["split"].isin(["train", "test"]).to_numpy())
    if len(bad_split):
        k = int(bad_split[0])
        raise DataError(f"{index} line {line(k)}: SPLIT {raw['SPLIT'].iloc[k]!r} is neither train nor test.")
    state = raw["STATE"].astype(str).str.strip().str.lower().str.replace(r"\.0$", "", regex=True).to_numpy()
    control = np.isin(state, list(CONTROL_STATES))
    unknown = np.flatnonzero(~control & ~np.isin(state, list(TREATED_STATES)))
    if len(unknown):
        k = int(unknown[0])
        raise DataError(f"{index} line {line(k)}: STATE {raw['STATE'].iloc[k]!r} is neither control (control, 0) "
                        "nor treated (trt, 1).")
    dose = pd.to_numeric(raw["DOSE"], errors="coerce").to_numpy(dtype=float)
    bad_dose = np.flatnonzero(~control & ~np.isfinite(dose))
    if len(bad_dose):
        k = int(bad_dose[0])
        raise DataError(f"{index} line {line(k)}: DOSE {raw['DOSE'].iloc[k]!r} of a treated cell is not a number.")
    controls = sorted(set(table["compound"][control]))
    if len(controls) != 1:
        raise DataError(f"{index}: the control rows (STATE control) name {len(controls)} compounds "
                        f"({', '.join(controls) or 'none'}); the release has one control, DMSO.")
    table["concentration"] = np.where(control, 0.0, np.nan_to_num(dose))
    table["condition"] = [controls[0] if c else condition_name(name, x)
                          for c, name, x in zip(control, table["compound"], table["concentration"])]
    clash = np.flatnonzero(~control & (table["compound"] == controls[0]).to_numpy())
    if len(clash):
        raise DataError(f"{index} line {line(int(clash[0]))}: a treated row names the control {controls[0]}.")
    table.attrs["control"] = controls[0]
    return table


def cache_key(index: Path, root: Path, table: pd.DataFrame, options: dict) -> str:
    """A key that changes with the index, any crop file (size, time) or the conversion options;
    a missing crop is refused here, before anything is converted."""
    digest = hashlib.sha256(index.read_bytes())
    for k, key in enumerate(table["sample_key"]):
        path = crop_path(root, key)
        try:
            stat = path.stat()
        except OSError:
            raise DataError(
                f"The crop {path} of SAMPLE_KEY {key!r} ({index} line {k + 2}) is missing; restore it, or check "
                "image_root (the folder holding the A/B/ crop folders)."
            ) from None
        digest.update(f"{key}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    digest.update(json.dumps({**options, "format": FORMAT}, sort_keys=True).encode())
    return digest.hexdigest()[:16]


def load_crop(path: Path, key: str) -> np.ndarray:
    """One crop as C x H x W uint8 (never unpickles: allow_pickle stays off)."""
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"The crop {path} of SAMPLE_KEY {key!r} is corrupt or not a numpy array ({exc}); "
                        "replace it.") from None
    if array.ndim != 3 or array.shape[-1] not in (1, 3, 4) or array.dtype != np.uint8:
        raise DataError(f"The crop {path} of SAMPLE_KEY {key!r} holds {array.dtype} {array.shape}; IMPA's crops "
                        "are H x W x 3 uint8.")
    return np.moveaxis(array, -1, 0)


def convert_release(index: Path, root: Path, table: pd.DataFrame, out: Path, channels: tuple[str, ...] | None) -> Path:
    """Write every crop of `table` into the cache `out` (atomically), BATCH files at a time."""
    first = load_crop(crop_path(root, table["sample_key"].iloc[0]), table["sample_key"].iloc[0])
    names = tuple(channels) if channels else tuple(f"ch{i}" for i in range(first.shape[0]))
    if len(names) != first.shape[0]:
        raise DataError(f"The crops have {first.shape[0]} channel(s) but {len(names)} channel names were given.")
    keep = ["condition", "compound", "concentration", "moa", "plate", "split", "sample_key"]
    with CacheWriter(out, channels=names, crop_shape=first.shape[1:], dtype=np.uint8, source=str(index),
                     control=table.attrs["control"]) as writer:
        for start in range(0, len(table), BATCH):
            part = table.iloc[start : start + BATCH]
            crops = [load_crop(crop_path(root, key), key) for key in part["sample_key"]]
            for key, crop in zip(part["sample_key"], crops):
                if crop.shape != first.shape:
                    raise DataError(f"The crop of SAMPLE_KEY {key!r} is {crop.shape} (C x H x W) but the first "
                                    f"is {first.shape}; the release's crops share one size.")
            writer.append(np.stack(crops), part[keep])
        writer.close(attrs={
            "prepare": {"kind": "impa-release", "index": str(index), "image_root": str(root)},
            "split": {"by": "release", "levels": {}},
            "control": table.attrs["control"],
        })
    return out
