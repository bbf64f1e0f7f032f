"""A generated miniature BBBC021 release: full-size uint16 TIFF triplets named as in the real CSV.

Each field holds bright DAPI discs at known, well-separated positions (the truth the tests check
crops against), with tubulin and actin around them, on a noisy background.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile

HEIGHT, WIDTH = 1024, 1280
HEADER = (
    'TableNumber,ImageNumber,"Image_FileName_DAPI","Image_PathName_DAPI","Image_FileName_Tubulin",'
    '"Image_PathName_Tubulin","Image_FileName_Actin","Image_PathName_Actin","Image_Metadata_Plate_DAPI",'
    '"Image_Metadata_Well_DAPI",Replicate,"Image_Metadata_Compound",Image_Metadata_Concentration'
)


@dataclass(frozen=True)
class FieldSpec:
    plate: str
    well: str
    compound: str
    concentration: float
    site: int = 1
    week: int = 1


DEFAULT_FIELDS = (
    FieldSpec("Week1_22123", "B02", "DMSO", 0.0),
    FieldSpec("Week1_22123", "B03", "DMSO", 0.0),
    FieldSpec("Week1_22123", "C02", "taxol", 1.0),
    FieldSpec("Week1_22123", "C03", "taxol", 1.0),
)


def _name(well: str, site: int, channel: int, rng: np.random.Generator) -> str:
    return f"{well}_s{site}_w{channel}{uuid.UUID(int=int(rng.integers(2**63))).hex.upper()}.tif"


def make_release(
    root: Path,
    fields: tuple[FieldSpec, ...] = DEFAULT_FIELDS,
    nuclei: int = 6,
    seed: int = 0,
    quoted: bool = True,
    line_ending: str = "\n",
) -> pd.DataFrame:
    """Write the release under `root`; return the truth: one row per nucleus (table, image, row, col)."""
    rng = np.random.default_rng(seed)
    lines, truth = [HEADER], []
    for image_number, spec in enumerate(fields, start=1):
        folder = f"Week{spec.week}/Week{spec.week}_{spec.plate.split('_')[-1]}"
        (root / folder).mkdir(parents=True, exist_ok=True)
        names = [_name(spec.well, spec.site, w, rng) for w in (1, 2, 4)]
        centres = _draw_centres(rng, nuclei)
        for channel, name in enumerate(names):
            tifffile.imwrite(root / folder / name, _render(centres, channel, rng))
        q = '"' if quoted else ""
        concentration = f"{spec.concentration:.6f}" if quoted else f"{spec.concentration:g}"
        lines.append(
            f"{4},{image_number},{q}{names[0]}{q},{q}{folder}{q},{q}{names[1]}{q},{q}{folder}{q},"
            f"{q}{names[2]}{q},{q}{folder}{q},{q}{spec.plate}{q},{q}{spec.well}{q},1,{q}{spec.compound}{q},"
            f"{concentration}"
        )
        truth += [{"TableNumber": 4, "ImageNumber": image_number, "row": r, "col": c} for r, c in centres]
    (root / "BBBC021_v1_image.csv").write_bytes((line_ending.join(lines) + line_ending).encode())
    moa = ["compound,concentration,moa", "DMSO,0.0,DMSO", "taxol,1.0,Microtubule stabilizers"]
    (root / "BBBC021_v1_moa.csv").write_bytes((line_ending.join(moa) + line_ending).encode())
    return pd.DataFrame(truth)


def _draw_centres(rng: np.random.Generator, count: int) -> list[tuple[int, int]]:
    """Nucleus centres at least 120 px apart and 60 px inside the border (so 96-px crops fit)."""
    centres: list[tuple[int, int]] = []
    while len(centres) < count:
        r, c = int(rng.integers(60, HEIGHT - 60)), int(rng.integers(60, WIDTH - 60))
        if all((r - a) ** 2 + (c - b) ** 2 > 120**2 for a, b in centres):
            centres.append((r, c))
    return centres


def _render(centres: list[tuple[int, int]], channel: int, rng: np.random.Generator) -> np.ndarray:
    image = rng.normal(600, 40, (HEIGHT, WIDTH)).astype(np.float32)
    yy, xx = np.mgrid[-40:41, -40:41]
    distance = np.hypot(yy, xx)
    if channel == 0:
        blob = np.where(distance <= 12, 9000.0, 0.0)
    else:
        blob = (2500.0 + 1000 * channel) * np.exp(-(distance**2) / (2 * 22.0**2))
    for r, c in centres:
        image[r - 40 : r + 41, c - 40 : c + 41] += blob
    return np.clip(image, 0, 65535).astype(np.uint16)
