"""A generated miniature screen in LoadData form: uint16 fields with drawn nuclei.

Each field holds bright nucleus discs at known, well-separated positions (the truth crops are
checked against) and a few discs near the border (whose crops would leave the field), with a
cytoplasm blob per cell in the other channels whose brightness moves with the treatment and dose.
Files are one per channel (TIFF or PNG) or one multi-page TIFF per field (CellProfiler's `Frame_`
columns), listed by a `load_data.csv` in LoadData form or CellProfiler's exported `Image_` form.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile
from PIL import Image

CELL_PAINTING = ("DNA", "RNA", "ER", "AGP", "Mito")
TREATMENTS = (("DMSO", 0.0), ("taxol", 0.1), ("taxol", 1.0), ("nocodazole", 0.3), ("nocodazole", 3.0))
NUCLEUS_RADIUS = 11
BORDER_GAP = 14  # a border nucleus's centre lies this far from an edge


@dataclass(frozen=True)
class ScreenSpec:
    channels: tuple[str, ...] = CELL_PAINTING
    plates: tuple[str, ...] = ("P1", "P2")
    treatments: tuple[tuple[str, float], ...] = TREATMENTS
    size: int = 1024
    nuclei: int = 6  # per field, at least 60 px inside the border
    border_nuclei: int = 1  # per field, BORDER_GAP px from an edge
    layout: str = "files"  # "files": one file per channel; "frames": one multi-page TIFF per field
    suffix: str = ".tif"  # or ".png" (files layout)
    prefix: str = ""  # "" (LoadData) or "Image_" (CellProfiler's exported per-image table)
    seed: int = 0


def make_screen(root: Path, spec: ScreenSpec = ScreenSpec()) -> pd.DataFrame:
    """Write images and `root/load_data.csv`; return the truth, one row per drawn nucleus."""
    rng = np.random.default_rng(spec.seed)
    rows, truth = [], []
    for plate in spec.plates:
        folder = root / "images" / plate
        folder.mkdir(parents=True, exist_ok=True)
        for column, (treatment, dose) in enumerate(spec.treatments, start=2):
            well = f"B{column:02d}"
            centres, border = _centres(rng, spec)
            planes = _render(rng, spec, centres + border, treatment, dose)
            row = {"Metadata_Plate": plate, "Metadata_Well": well, "Metadata_Site": 1,
                   "Metadata_Compound": treatment, "Metadata_Concentration": dose}
            if spec.layout == "frames":
                name = f"{plate}_{well}_s1.tif"
                tifffile.imwrite(folder / name, np.stack(planes), photometric="minisblack")  # one page per channel
                for page, channel in enumerate(spec.channels):
                    row |= {f"FileName_{channel}": name, f"PathName_{channel}": f"images/{plate}", f"Frame_{channel}": page}
            else:
                for channel, plane in zip(spec.channels, planes):
                    name = f"{plate}_{well}_s1_{channel}{spec.suffix}"
                    _write(folder / name, plane)
                    row |= {f"FileName_{channel}": name, f"PathName_{channel}": f"images/{plate}"}
            rows.append({spec.prefix + key: value for key, value in row.items()})
            truth += [{"plate": plate, "well": well, "row": r, "col": c, "border": (r, c) in border}
                      for r, c in centres + border]
    pd.DataFrame(rows).to_csv(root / "load_data.csv", index=False)
    return pd.DataFrame(truth)


def _centres(rng: np.random.Generator, spec: ScreenSpec) -> tuple[list, list]:
    inner: list[tuple[int, int]] = []
    spacing = min(120, spec.size // 3)  # discs and blobs apart, so segmentation sees each nucleus alone
    for _ in range(10_000):
        if len(inner) == spec.nuclei:
            break
        r, c = (int(v) for v in rng.integers(60, spec.size - 60, 2))
        if all(np.hypot(r - a, c - b) > spacing for a, b in inner):
            inner.append((r, c))
    else:
        raise ValueError(f"{spec.nuclei} nuclei do not fit a {spec.size}-px field apart")
    # Near the top edge, between the inner nuclei's columns where possible.
    border = [(BORDER_GAP, int(c)) for c in np.linspace(100, spec.size - 100, spec.border_nuclei).astype(int)]
    return inner, [b for b in border if all(abs(b[1] - c) > 60 or r > 120 for r, c in inner)]


def _render(rng, spec: ScreenSpec, centres: list, treatment: str, dose: float) -> list[np.ndarray]:
    """The nucleus channel holds flat discs; channel k a blob per cell, brighter with the dose of the
    treatment that acts on it (taxol on channel 1, nocodazole on channel 2)."""
    yy, xx = np.mgrid[-40:41, -40:41]
    distance = np.hypot(yy, xx)
    acts_on = {"taxol": 1, "nocodazole": 2}.get(treatment)
    planes = []
    for k in range(len(spec.channels)):
        plane = 500 + 30 * rng.standard_normal((spec.size, spec.size), dtype=np.float32)
        if k == 0:
            blob = np.where(distance <= NUCLEUS_RADIUS, 8000.0, 0.0)
        else:
            gain = 1.0 + (dose if k == acts_on else 0.0)
            blob = (1500.0 + 500 * k) * gain * np.exp(-(distance**2) / (2 * 20.0**2))
        for r, c in centres:
            top, left = r - 40, c - 40
            window = plane[max(top, 0) : r + 41, max(left, 0) : c + 41]
            window += blob[max(-top, 0) : max(-top, 0) + window.shape[0], max(-left, 0) : max(-left, 0) + window.shape[1]]
        planes.append(np.clip(plane, 0, 65535).astype(np.uint16))
    return planes


def _write(path: Path, plane: np.ndarray) -> None:
    if path.suffix == ".png":
        Image.fromarray(plane).save(path)
    else:
        tifffile.imwrite(path, plane)


def nuclei_table(truth: pd.DataFrame, keep: int) -> pd.DataFrame:
    """A CellProfiler-like Nuclei.csv listing the first `keep` nuclei of each field, at sub-pixel centres."""
    rows = []
    for number, ((plate, well), group) in enumerate(truth.groupby(["plate", "well"], sort=False), start=1):
        for obj, nucleus in enumerate(group.head(keep).itertuples(), start=1):
            rows.append({"ImageNumber": number, "ObjectNumber": obj, "Metadata_Plate": plate, "Metadata_Well": well,
                         "Metadata_Site": 1, "Location_Center_X": nucleus.col + 0.3, "Location_Center_Y": nucleus.row - 0.2})
    return pd.DataFrame(rows)
