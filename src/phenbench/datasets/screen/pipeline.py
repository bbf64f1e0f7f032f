"""Raw fields of view -> one HDF5 crop cache with a report: the pipeline every screen goes through.

A preset (BBBC021's image table, a LoadData table) turns its table into a `FieldSet`: one row per
field with its plate, condition and metadata, and its files, one per channel. Then: optionally
average each plate's fields into a flat field; segment and crop every field in parallel (one
result file per field in a work folder, so an interrupted run resumes where it stopped; the folder
is named after the crop and segmentation options, so changing them never reuses stale crops);
split by well or plate; write the cache (temporary file, then rename); report cells per condition
and the fields skipped, by reason. In strict mode the fields are first checked from their files'
headers, so a missing file or a field of another size stops the run before any segmenting.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from phenbench.core.config import config_to_dict
from phenbench.core.errors import ConfigError, DataError
from phenbench.datasets.h5cache import FORMAT, CacheWriter
from phenbench.datasets.screen.fields import (
    FieldJob,
    check_field,
    field_average_part,
    limit_worker_threads,
    plane_format,
    prepare_field,
)
from phenbench.datasets.screen.illumination import flat_field
from phenbench.datasets.screen.segment import SegmentationOptions
from phenbench.datasets.splits import assign_splits

MIN_CROP_SIZE = 8
UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, kw_only=True)
class CropSettings:
    """How fields become cached crops: shared by every preset's options, and stored in the cache."""

    out: str
    crop_size: int = 96  # PhenDiff used 128
    illumination: bool = False
    segmentation: SegmentationOptions = SegmentationOptions()
    split_by: str = "well"
    test_fraction: float = 0.2
    split_seed: int = 0
    workers: int = 1
    compression: str = "gzip"  # gzip | lzf | none: the full BBBC021 release is ~27 GB of crops uncompressed
    strict: bool = False  # stop at the first unusable field instead of skipping and counting it
    work_dir: str | None = None  # default: <out>.work beside the cache
    overwrite: bool = False  # replace an existing file at `out` that is not a cache written by prepare

    def __post_init__(self) -> None:
        if self.crop_size < MIN_CROP_SIZE:
            raise ConfigError(f"--crop-size must be at least {MIN_CROP_SIZE} pixels (a nucleus must fit), got {self.crop_size}.")
        if not 0 < self.test_fraction < 1:
            raise ConfigError(f"--test-fraction must be between 0 and 1, got {self.test_fraction}.")
        if self.workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {self.workers}.")


@dataclass
class FieldSet:
    """The fields a preset hands to the pipeline, and what is stored with each of their cells."""

    name: str  # for progress bars: "BBBC021", "LoadData"
    table: pd.DataFrame  # one row per field: `field` (a unique key, used as a file name), `plate`, `condition`
    files: list[tuple[str, ...]]  # each field's files, one per channel, in channel order
    channels: tuple[str, ...]
    meta_columns: dict[str, str]  # cache column -> table column, in storage order (centres follow)
    control: str = "DMSO"
    pages: list[tuple[int | None, ...]] | None = None  # page of each channel's file (None: one plane)
    nucleus_channel: int = 0
    centres: list[np.ndarray] | None = None  # given nuclei (K x 2, row and col) per field; None: segment
    illumination_folder: str = "illumination"  # the work folder's subfolder of flat fields


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


def check_output(out: Path, overwrite: bool) -> None:
    """Refuse, before hours of segmenting, an --out that the cache would wrongly replace: a folder,
    or a file that is not a cache written by `prepare` (a results store, say), unless `overwrite`."""
    if out.is_dir():
        raise DataError(f"--out {out} is a folder; give the cache's file name, e.g. {out / 'screen.h5'}.")
    if not out.exists() or overwrite or _is_prepared_cache(out):
        return
    raise DataError(
        f"--out {out} exists and is not a cache written by `phenbench data prepare`; phenbench does not "
        "replace it. Choose another --out, or add --overwrite to replace it."
    )


def _is_prepared_cache(path: Path) -> bool:
    """A crop cache written from raw fields (not a crop-table or folder conversion, not a store)."""
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != FORMAT:
                return False
            recipe = json.loads(f.attrs.get("prepare", "{}"))
    except (OSError, ValueError, TypeError):
        return False
    return isinstance(recipe, dict) and "root" in recipe and ("selection" in recipe or "table" in recipe)


def prepare_fields(fields: FieldSet, settings: CropSettings, *, recipe: dict, source: str,
                   progress: bool = True) -> PrepareReport:
    """Crop every field of `fields` into the cache `settings.out`; `recipe` is stored as its `prepare`."""
    out = Path(settings.out).expanduser()
    work = Path(settings.work_dir) if settings.work_dir else out.with_name(out.name + ".work")
    folder = work / _fields_folder(settings)
    folder.mkdir(parents=True, exist_ok=True)
    pages = fields.pages or [None] * len(fields.files)
    expect = next((f for f in (plane_format(files, p) for files, p in zip(fields.files, pages)) if f), None)
    jobs = [
        FieldJob(key, files, str(folder / f"{key}.npz"), settings.crop_size, settings.segmentation, None, page,
                 fields.nucleus_channel, None if fields.centres is None else fields.centres[i], expect)
        for i, (key, files, page) in enumerate(zip(fields.table["field"], fields.files, pages))
    ]
    if settings.strict:
        _stop_at_a_bad_field(check_field, jobs, settings, progress, f"{fields.name} checks")
    if settings.illumination:
        flats = _flat_fields(fields, jobs, work / fields.illumination_folder, expect, settings, progress)
        plates = fields.table["plate"].to_numpy()
        jobs = [replace(job, flat_field=flats.get(plate)) for job, plate in zip(jobs, plates)]
    done_before = sum(Path(j.out).is_file() for j in jobs)
    pending = [j for j in jobs if not Path(j.out).is_file()]
    skipped: Counter[str] = Counter()
    examples: list[str] = []
    for result in _run(prepare_field, pending, settings.workers, progress, f"{fields.name} fields"):
        if "skipped" in result:
            _stop_if_strict(result, settings)
            skipped[result["skipped"]] += 1
            if len(examples) < 5:
                examples.append(result["message"])
    dtype = np.dtype(expect[1]) if expect else np.dtype(np.uint16)
    return _write_cache(fields, jobs, out, settings, skipped, examples, done_before, recipe, source, dtype)


def _stop_if_strict(result: dict, settings: CropSettings) -> None:
    if settings.strict:
        raise DataError(f"{result['message']} (field {result['key']}; --skip-bad-fields skips and counts such fields)")


def _stop_at_a_bad_field(check: Callable, jobs: list[FieldJob], settings: CropSettings, progress: bool, unit: str) -> None:
    """Strict mode: every field's files checked from their headers before any is segmented."""
    for result in _run(check, jobs, settings.workers, progress, unit):
        if "skipped" in result:
            _stop_if_strict(result, settings)


def _fields_folder(settings: CropSettings) -> str:
    """Per-field results depend on these options: a run with other ones must not reuse them."""
    recipe = {"crop_size": settings.crop_size, "illumination": settings.illumination,
              "segmentation": config_to_dict(settings.segmentation)}
    return "fields-" + hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def _run(function: Callable, jobs: list, workers: int, progress: bool, unit: str) -> Iterator:
    bar = tqdm(total=len(jobs), unit="field", disable=not progress or not jobs, desc=unit)
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


def _flat_fields(fields: FieldSet, jobs: list[FieldJob], folder: Path, expect, settings: CropSettings,
                 progress: bool) -> dict:
    """Plate -> path of its flat field (computed once, kept in the work folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    plates = fields.table["plate"].to_numpy()
    for plate in sorted(set(plates)):
        path = folder / f"{UNSAFE.sub('_', str(plate))}.npy"
        paths[plate] = str(path)
        if path.is_file():
            continue
        total, count = None, 0
        plate_jobs = [job for job, p in zip(jobs, plates) if p == plate]
        for part in _run(field_average_part, plate_jobs, settings.workers, progress, f"illumination {plate}"):
            if isinstance(part, dict):
                continue  # unusable fields are counted when they are prepared
            total = part if total is None else total + part
            count += 1
        if count == 0:
            paths.pop(plate)
            continue
        tmp = path.with_name(f".{path.name}.tmp.npy")
        np.save(tmp, flat_field(total / count, tuple(expect[0])))
        os.replace(tmp, path)
    return paths


def _write_cache(fields: FieldSet, jobs, out: Path, settings: CropSettings, skipped, examples, done_before,
                 recipe: dict, source: str, dtype: np.dtype) -> PrepareReport:
    metas, results, dropped = [], [], 0
    for row, job in zip(fields.table.itertuples(), jobs):
        if not Path(job.out).is_file():
            continue
        with np.load(job.out) as saved:
            centres = saved["centres"]
            dropped += int(saved["dropped_at_edge"])
        if len(centres) == 0:
            continue
        columns = {name: getattr(row, column) for name, column in fields.meta_columns.items()}
        metas.append(pd.DataFrame({**columns, "centre_row": centres[:, 0], "centre_col": centres[:, 1]}))
        results.append(job.out)
    if not metas:
        raise DataError(
            f"No cells were found in the {len(jobs)} selected field(s) under {source} "
            f"(skipped: {dict(skipped) or 'none'}); check the selection and the image files."
        )
    meta = pd.concat(metas, ignore_index=True)
    split = assign_splits(meta, by=settings.split_by, test_fraction=settings.test_fraction, seed=settings.split_seed)
    meta["split"] = split.split
    report = PrepareReport(
        cache=str(out), fields=len(jobs), fields_done_before=done_before,
        cells={s: meta[meta["split"] == s]["condition"].value_counts().sort_index().to_dict() for s in ("train", "test")},
        skipped=dict(skipped), examples=examples, dropped_at_edge=dropped, split_levels=split.levels,
    )
    start = 0
    with CacheWriter(out, channels=fields.channels, crop_shape=(settings.crop_size,) * 2, dtype=dtype, source=source,
                     control=fields.control, compression=settings.compression) as writer:
        for path, part in zip(results, metas):
            with np.load(path) as saved:
                crops = saved["crops"]
            writer.append(crops, meta.iloc[start : start + len(part)])
            start += len(part)
        writer.close(attrs={
            "prepare": recipe,
            "split": {"by": settings.split_by, "test_fraction": settings.test_fraction,
                      "seed": settings.split_seed, "levels": split.levels},
            "report": report.to_dict(),
            "control": fields.control,
        })
    (out.parent / (out.name + ".report.json")).write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    return report
