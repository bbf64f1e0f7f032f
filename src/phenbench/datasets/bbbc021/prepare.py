"""`phenbench data prepare bbbc021`: the raw release -> one HDF5 crop cache with a report.

BBBC021 is one preset of the screen pipeline (screen/pipeline.py): its image table is a LoadData
table read with BBBC021's column names (metadata.py), its fields are keyed by (TableNumber,
ImageNumber), its MoA table is attached where present, and its cells keep BBBC021's metadata
columns. Everything else (illumination, segmentation, crops, resume, splits, cache, report) is the
pipeline's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from phenbench.core.config import config_to_dict
from phenbench.core.errors import DataError
from phenbench.datasets.bbbc021.metadata import (
    CHANNELS,
    CONTROL,
    IMAGE_CSV,
    MOA_CSV,
    Selection,
    attach_moa,
    read_image_table,
    read_moa_table,
)
from phenbench.datasets.screen.pipeline import (  # noqa: F401  (PrepareReport: part of this module's API)
    CropSettings,
    FieldSet,
    PrepareReport,
    check_output,
    prepare_fields,
)

# The cells' metadata columns, in storage order (the cache's bytes depend on it).
META_COLUMNS = {
    "condition": "condition", "compound": "compound", "concentration": "concentration", "moa": "moa",
    "plate": "plate", "well": "well", "replicate": "replicate", "field": "field",
    "TableNumber": "table_number", "ImageNumber": "image_number",
}


@dataclass(frozen=True, kw_only=True)
class PrepareOptions(CropSettings):
    """Everything `prepare` does with the release; stored in the cache."""

    root: str
    selection: Selection = Selection()
    metadata: str | None = None  # default: BBBC021_v1_image.csv in root or root/metadata


def find_metadata(root: Path, name: str) -> Path:
    for candidate in (root / name, root / "metadata" / name):
        if candidate.is_file():
            return candidate
    raise DataError(f"{name} not found in {root} or {root / 'metadata'}; pass its path or download it first.")


def field_key(table_number: int, image_number: int) -> str:
    return f"T{int(table_number)}_I{int(image_number)}"


def prepare_bbbc021(options: PrepareOptions, *, progress: bool = True) -> PrepareReport:
    """Prepare the selected fields of the release at `options.root` into the cache `options.out`."""
    root = Path(options.root).expanduser()
    check_output(Path(options.out).expanduser(), options.overwrite)
    if not root.is_dir():
        raise DataError(f"The BBBC021 release folder {root} does not exist; check --root.")
    table = read_image_table(Path(options.metadata) if options.metadata else find_metadata(root, IMAGE_CSV))
    try:
        table = attach_moa(table, read_moa_table(find_metadata(root, MOA_CSV)))
    except DataError:
        table = attach_moa(table, None)  # MoA is optional: only selections by MoA need it
    table = table[options.selection.mask(table)].reset_index(drop=True)
    table["field"] = [field_key(t, i) for t, i in zip(table["table_number"], table["image_number"])]
    files = [tuple(str(root / rel) for rel in row) for row in table[[f"file_{c}" for c in CHANNELS]].itertuples(index=False)]
    fields = FieldSet("BBBC021", table, files, CHANNELS, META_COLUMNS, control=CONTROL)
    return prepare_fields(fields, options, recipe=config_to_dict(options), source=str(options.root), progress=progress)
