"""`phenbench data prepare bbbc021`: the raw release -> one HDF5 crop cache with a report.

Steps: read the metadata and select fields; optionally average each plate's fields into a flat
field; segment and crop every field in parallel (one result file per field in a work folder, so an
interrupted run resumes where it stopped; the folder is named after the crop and segmentation
options, so changing them never reuses stale crops); split by well or plate; write the cache (temporary file,
then rename); report cells per condition and the fields skipped, by reason.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import tifffile
from tqdm.auto import tqdm

from phenbench.core.config import config_to_dict
from phenbench.core.errors import ConfigError, DataError
from phenbench.datasets.bbbc021.fields import (
    FieldJob,
    field_average_part,
    field_key,
    limit_worker_threads,
    prepare_field,
)
from phenbench.datasets.bbbc021.illumination import flat_field
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
from phenbench.datasets.bbbc021.segment import SegmentationOptions
from phenbench.datasets.h5cache import FORMAT, CacheWriter
from phenbench.datasets.splits import assign_splits


MIN_CROP_SIZE = 8


@dataclass(frozen=True)
class PrepareOptions:
    """Everything `prepare` does with the release; stored in the cache."""

    root: str
    out: str
    selection: Selection = Selection()
    crop_size: int = 96  # PhenDiff used 128
    illumination: bool = False
    segmentation: SegmentationOptions = SegmentationOptions()
    split_by: str = "well"
    test_fraction: float = 0.2
    split_seed: int = 0
    workers: int = 1
    compression: str = "gzip"  # gzip | lzf | none: the full release is ~27 GB of crops uncompressed
    strict: bool = False  # stop at the first unusable field instead of skipping and counting it
    work_dir: str | None = None  # default: <out>.work beside the cache
    metadata: str | None = None  # default: BBBC021_v1_image.csv in root or root/metadata
    overwrite: bool = False  # replace an existing file at `out` that is not a cache written by prepare

    def __post_init__(self) -> None:
        if self.crop_size < MIN_CROP_SIZE:
            raise ConfigError(f"--crop-size must be at least {MIN_CROP_SIZE} pixels (a nucleus must fit), got {self.crop_size}.")
        if not 0 < self.test_fraction < 1:
            raise ConfigError(f"--test-fraction must be between 0 and 1, got {self.test_fraction}.")
        if self.workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {self.workers}.")


@dataclass
class PrepareReport:
    """What a prepare did: cells per condition and split, and what it skipped, why."""

    cache: str
    fields: int
    fields_done_before: int
    cells: dict[str, dict[str, int]]
    skipped: dict[str, int]
    examples: list[str] = field(default_factory=list)
    dropped_at_edge: int = 0
    split_levels: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    def lines(self) -> list[str]:
        out = [f"Prepared {self.cache}: {sum(sum(c.values()) for c in self.cells.values())} cells "
               f"from {self.fields} fields ({self.fields_done_before} already done before this run)."]
        out.append(f"{'condition':32s} {'train':>8s} {'test':>8s}")
        conditions = sorted(set(self.cells.get("train", {})) | set(self.cells.get("test", {})))
        for name in conditions:
            out.append(f"{name:32s} {self.cells.get('train', {}).get(name, 0):8d} {self.cells.get('test', {}).get(name, 0):8d}")
        out.append(f"Nuclei dropped because their crop would leave the field: {self.dropped_at_edge}.")
        if self.skipped:
            out.append("Skipped fields: " + ", ".join(f"{n} {reason}" for reason, n in sorted(self.skipped.items())))
            out += [f"  e.g. {e}" for e in self.examples]
        else:
            out.append("Skipped fields: none.")
        return out


def find_metadata(root: Path, name: str) -> Path:
    for candidate in (root / name, root / "metadata" / name):
        if candidate.is_file():
            return candidate
    raise DataError(f"{name} not found in {root} or {root / 'metadata'}; pass its path or download it first.")


def check_output(out: Path, overwrite: bool) -> None:
    """Refuse, before hours of segmenting, an --out that the cache would wrongly replace: a folder,
    or a file that is not a cache written by `prepare` (a results store, say), unless `overwrite`."""
    if out.is_dir():
        raise DataError(f"--out {out} is a folder; give the cache's file name, e.g. {out / 'bbbc021.h5'}.")
    if not out.exists() or overwrite or _is_prepared_cache(out):
        return
    raise DataError(
        f"--out {out} exists and is not a cache written by `phenbench data prepare`; phenbench does not "
        "replace it. Choose another --out, or add --overwrite to replace it."
    )


def _is_prepared_cache(path: Path) -> bool:
    """A crop cache written by `prepare_bbbc021` (not a crop-table or folder conversion, not a store)."""
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != FORMAT:
                return False
            recipe = json.loads(f.attrs.get("prepare", "{}"))
    except (OSError, ValueError, TypeError):
        return False
    return isinstance(recipe, dict) and "selection" in recipe and "root" in recipe


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
    out = Path(options.out).expanduser()
    work = Path(options.work_dir) if options.work_dir else out.with_name(out.name + ".work")
    fields = work / _fields_folder(options)
    fields.mkdir(parents=True, exist_ok=True)

    flats = _flat_fields(table, root, work, options, progress) if options.illumination else {}
    jobs = [_job(row, root, fields, options, flats.get(row.plate)) for row in table.itertuples()]
    done_before = sum(Path(j.out).is_file() for j in jobs)
    pending = [j for j in jobs if not Path(j.out).is_file()]
    skipped: Counter[str] = Counter()
    examples: list[str] = []
    for result in _run(prepare_field, pending, options.workers, progress, "fields"):
        if "skipped" in result:
            if options.strict:
                raise DataError(f"{result['message']} (field {result['key']}; without --strict it is skipped)")
            skipped[result["skipped"]] += 1
            if len(examples) < 5:
                examples.append(result["message"])
    return _write_cache(table, jobs, out, options, skipped, examples, done_before)


def _fields_folder(options: PrepareOptions) -> str:
    """Per-field results depend on these options: a run with other ones must not reuse them."""
    recipe = {"crop_size": options.crop_size, "illumination": options.illumination,
              "segmentation": config_to_dict(options.segmentation)}
    return "fields-" + hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def _job(row, root: Path, fields: Path, options: PrepareOptions, flat: str | None) -> FieldJob:
    key = field_key(row.table_number, row.image_number)
    files = tuple(str(root / getattr(row, f"file_{c}")) for c in CHANNELS)
    return FieldJob(key, files, str(fields / f"{key}.npz"), options.crop_size, options.segmentation, flat)


def _run(function: Callable, jobs: list, workers: int, progress: bool, unit: str) -> Iterator:
    bar = tqdm(total=len(jobs), unit=unit, disable=not progress or not jobs, desc=f"BBBC021 {unit}")
    try:
        if workers <= 1:
            for job in jobs:
                yield function(job)
                bar.update()
            return
        with ProcessPoolExecutor(max_workers=workers, initializer=limit_worker_threads) as pool:
            for result in pool.map(function, jobs, chunksize=4):
                yield result
                bar.update()
    finally:
        bar.close()


def _flat_fields(table: pd.DataFrame, root: Path, work: Path, options: PrepareOptions, progress: bool) -> dict:
    """Plate -> path of its flat field (computed once, kept in the work folder)."""
    (work / "illumination").mkdir(exist_ok=True)
    paths = {}
    for plate, rows in table.groupby("plate", sort=True):
        path = work / "illumination" / f"{plate}.npy"
        paths[plate] = str(path)
        if path.is_file():
            continue
        files = [tuple(str(root / f) for f in r) for r in rows[[f"file_{c}" for c in CHANNELS]].itertuples(index=False)]
        total, count = None, 0
        for part in _run(field_average_part, files, options.workers, progress, f"illumination {plate}"):
            if isinstance(part, dict):
                continue  # unusable fields are counted when they are prepared
            total = part if total is None else total + part
            count += 1
        if count == 0:
            paths.pop(plate)
            continue
        first = next(f for f in files if os.path.isfile(f[0]))
        with tifffile.TiffFile(first[0]) as tif:
            shape = tif.pages[0].shape[:2]
        tmp = path.with_name(f".{path.name}.tmp.npy")
        np.save(tmp, flat_field(total / count, tuple(shape)))
        os.replace(tmp, path)
    return paths


def _write_cache(table, jobs, out: Path, options: PrepareOptions, skipped, examples, done_before) -> PrepareReport:
    metas, results, dropped = [], [], 0
    for row, job in zip(table.itertuples(), jobs):
        if not Path(job.out).is_file():
            continue
        with np.load(job.out) as saved:
            centres = saved["centres"]
            dropped += int(saved["dropped_at_edge"])
        if len(centres) == 0:
            continue
        metas.append(pd.DataFrame({
            "condition": row.condition, "compound": row.compound, "concentration": row.concentration,
            "moa": row.moa, "plate": row.plate, "well": row.well, "replicate": row.replicate,
            "field": job.key, "TableNumber": row.table_number, "ImageNumber": row.image_number,
            "centre_row": centres[:, 0], "centre_col": centres[:, 1],
        }))
        results.append(job.out)
    if not metas:
        raise DataError(
            f"No cells were found in the {len(jobs)} selected field(s) under {options.root} "
            f"(skipped: {dict(skipped) or 'none'}); check the selection and the TIFF files."
        )
    meta = pd.concat(metas, ignore_index=True)
    split = assign_splits(meta, by=options.split_by, test_fraction=options.test_fraction, seed=options.split_seed)
    meta["split"] = split.split
    report = PrepareReport(
        cache=str(out), fields=len(jobs), fields_done_before=done_before,
        cells={s: meta[meta["split"] == s]["condition"].value_counts().sort_index().to_dict() for s in ("train", "test")},
        skipped=dict(skipped), examples=examples, dropped_at_edge=dropped, split_levels=split.levels,
    )
    start = 0
    with CacheWriter(out, channels=CHANNELS, crop_shape=(options.crop_size,) * 2, source=str(options.root),
                     compression=options.compression) as writer:
        for path, part in zip(results, metas):
            with np.load(path) as saved:
                crops = saved["crops"]
            writer.append(crops, meta.iloc[start : start + len(part)])
            start += len(part)
        writer.close(attrs={
            "prepare": config_to_dict(options),
            "split": {"by": options.split_by, "test_fraction": options.test_fraction,
                      "seed": options.split_seed, "levels": split.levels},
            "report": report.to_dict(),
            "control": CONTROL,
        })
    (out.parent / (out.name + ".report.json")).write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    return report
