"""A generated miniature of IMPA's BBBC021 release, in exactly its layout.

`<root>/metadata/bbbc021_mini.csv` (first column the index; SAMPLE_KEY, CPD_NAME, DOSE, ANNOT, SPLIT,
STATE, BATCH) and one H x W x 3 uint8 npy per crop at `<root>/<A>/<B>/<rest>.npy` for SAMPLE_KEY
`A_B_rest`. Each crop is a bright nucleus (channel 0) in a cell body (channels 1, 2) on a dark
background: plausible cells for CellProfiler. A compound scales channel 1 (`effect`); a plate
adds `plate_offsets[plate]` to every channel (a batch effect).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

PLATES = ("Week1_22123", "Week2_24121", "Week3_25701")


@dataclass(frozen=True)
class Treatment:
    compound: str
    dose: float
    moa: str
    effect: float  # channel-1 brightness factor
    plates: tuple[str, ...] = PLATES


# docetaxel is on CellFlux's held-out list; its MoA is also taxol's, so a MoA classifier trained
# without it can still recognise it.
TREATMENTS = (
    Treatment("taxol", 0.3, "Microtubule stabilizers", 1.6),
    Treatment("taxol", 1.0, "Microtubule stabilizers", 1.9),
    Treatment("docetaxel", 0.1, "Microtubule stabilizers", 1.8),
    Treatment("nocodazole", 1.0, "Microtubule destabilizers", 0.5),
    Treatment("cytochalasin B", 3.0, "Actin disruptors", 1.2),
)


@dataclass(frozen=True)
class MiniImpa:
    root: Path
    index: Path
    table: pd.DataFrame = field(repr=False)


def _cell(rng: np.random.Generator, size: int, effect: float, offset: float) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2 + rng.normal(0, 0.6, 2)[:, None, None]
    r = np.hypot(yy, xx)
    nucleus = (r < size * 0.18).astype(float)
    body = np.exp(-(r**2) / (2 * (size * 0.28) ** 2))
    image = np.stack([150 * nucleus + 20 * body, 90 * effect * body, 70 * body]) + 12
    image = image + offset + rng.normal(0, 4, image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8).transpose(1, 2, 0)


def make_impa_release(
    root: Path,
    *,
    size: int = 24,
    treatments: tuple[Treatment, ...] = TREATMENTS,
    controls_per_plate: tuple[int, int] = (16, 8),  # (train, test)
    treated_per_plate: tuple[int, int] = (6, 3),
    plate_offsets: dict[str, float] | None = None,
    control_plates: tuple[str, ...] = PLATES,
    numeric_state: bool = False,
    seed: int = 0,
) -> MiniImpa:
    """Write the release; return its paths and the index as written."""
    rng = np.random.default_rng(seed)
    offsets = plate_offsets or {}
    rows = []
    groups = [("DMSO", 0.0, "DMSO", 1.0, control_plates, controls_per_plate, "control")]
    groups += [(t.compound, t.dose, t.moa, t.effect, t.plates, treated_per_plate, "trt") for t in treatments]
    for well, (compound, dose, moa, effect, plates, (n_train, n_test), state) in enumerate(groups):
        for plate in plates:
            week, number = plate.split("_")
            for cell in range(n_train + n_test):
                key = f"{week}_{number}_W{well:02d}_{cell}"
                path = root / week / number / f"W{well:02d}_{cell}.npy"
                path.parent.mkdir(parents=True, exist_ok=True)
                np.save(path, _cell(rng, size, effect, offsets.get(plate, 0.0)))
                rows.append({"SAMPLE_KEY": key, "CPD_NAME": compound, "DOSE": dose, "ANNOT": moa,
                             "SPLIT": "train" if cell < n_train else "test",
                             "STATE": (0 if state == "control" else 1) if numeric_state else state,
                             "BATCH": plate})
    table = pd.DataFrame(rows)
    index = root / "metadata" / "bbbc021_mini.csv"
    index.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(index)  # the first column is the index, as in IMPA's file
    return MiniImpa(root=root, index=index, table=table)
