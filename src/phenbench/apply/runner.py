"""`translate_folder`: apply a saved translator to a folder of PNG/TIFF files.

Streamed: only one batch of images is in memory at a time. Resumable: every output is written
atomically, so an existing file is complete and skipped; a batch whose outputs all exist is not
even read. Sharded: see shard.py. The CSV manifest is written last, by the first process, after
all processes are done.
"""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from phenbench.apply import io as image_io
from phenbench.apply.job import claim_output_folder, job_identity
from phenbench.apply.plan import Output, contact_sheet_paths, plan_outputs, relative_name
from phenbench.apply.preprocess import to_input_size, to_model, to_raw
from phenbench.apply.series import nfe_caption, write_contact_sheet, write_series_outputs
from phenbench.apply.shard import Shard, batches, current_shard, my_batches, wait_for_everyone
from phenbench.core.config import config_to_dict
from phenbench.core.errors import ConfigError, PhenbenchError
from phenbench.core.plugins import load_translator
from phenbench.core.translator import Translator
from phenbench.imaging.figures import FigureStyle, Series
from phenbench.imaging.normalization import (
    NORMALIZATION_FILE,
    Normalization,
    dtype_range,
    estimate_normalization,
    load_normalization,
    spread_sample,
)

MANIFEST_FILE = "manifest.csv"
MANIFEST_COLUMNS = ("input", "source", "target", "kind", "output", "translator", "normalization")
NORMALIZATION_CHOICES = ("auto", "dtype", "estimate")
SERIES_KINDS = ("figure", "figure-svg", "figure-pdf", "panels", "gif")


@dataclass(frozen=True)
class TranslateOptions:
    """One `phenbench translate` job."""

    checkpoint: Path
    images: Path
    out: Path
    source: str
    translator: str | None = None  # load the checkpoint as this translator (default: the one that saved it)
    # New values for the model's translation settings (Translator.translation_settings), e.g. sampling steps
    settings: dict[str, Any] = field(default_factory=dict)
    targets: tuple[str, ...] = ()
    dose_series: str | None = None  # a compound: translate to each of its doses, in dose order
    differences: bool = False
    figure: FigureStyle = field(default_factory=FigureStyle)  # how a dose series' figures look
    contact_sheet: int = 12  # rows (inputs) of a dose series' contact sheet; 0 for none
    # auto (the checkpoint's normalization.json, else estimate), dtype, estimate, or a JSON path
    normalization: str = "auto"
    batch_size: int = 16
    seed: int = 0
    device: str = "cpu"
    progress: bool = True


@dataclass
class TranslateReport:
    """What a job (this process's share of it) did."""

    images: int  # input images handled by this process
    written: int  # files this process wrote
    skipped: int  # files that already existed
    seconds: float
    normalization: str
    manifest: Path | None
    shard: Shard = field(default_factory=Shard)

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else float("nan")


def resolve_targets(translator: Translator, options: TranslateOptions) -> list[str]:
    """Target condition names in output order (dose order for a series), checked against the model."""
    conditions = translator.spec.conditions
    conditions.index(options.source)  # an unknown source fails here, with suggestions
    if options.dose_series is not None:
        if options.targets:
            raise ConfigError("Give either --target or --targets all-doses COMPOUND, not both.")
        return conditions.dose_series(options.dose_series)
    if not options.targets:
        raise ConfigError("Give --target COND[,COND...] or --targets all-doses COMPOUND.")
    for target in options.targets:
        conditions.index(target)
    return list(dict.fromkeys(options.targets))


def resolve_normalization(
    choice: str, checkpoint: Path, files: Sequence[Path], channels: tuple[str, ...]
) -> Normalization | None:
    """The normalisation to use; None means each image's own dtype range (`dtype`)."""
    if choice == "dtype":
        return None
    if choice == "auto":
        saved = checkpoint / NORMALIZATION_FILE
        if saved.exists():
            choice = str(saved)
        else:
            choice = "estimate"
    if choice == "estimate":
        sample = [image_io.read_user_image(files[i], channels).pixels for i in spread_sample(len(files))]
        return estimate_normalization(sample, channels)
    normalization = load_normalization(choice)
    normalization.check_channels(channels, choice)
    return normalization


def translate_folder(options: TranslateOptions, *, registries=None, shard: Shard | None = None) -> TranslateReport:
    """Translate every image under `options.images`; see the module docstring."""
    start = time.perf_counter()
    if options.batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {options.batch_size}.")
    if options.contact_sheet < 0:
        raise ConfigError(f"--contact-sheet must be 0 (none) or more rows, got {options.contact_sheet}.")
    shard = shard or current_shard()
    check_folders_apart(Path(options.images), Path(options.out))
    translator = load_translator(Path(options.checkpoint), options.device, registries, options.translator,
                                 options.settings)
    spec = translator.spec
    targets = resolve_targets(translator, options)
    files = image_io.list_images(options.images)
    normalization = resolve_normalization(options.normalization, Path(options.checkpoint), files, spec.channels)
    if normalization is not None:  # before the folder is claimed: a refused job leaves nothing behind
        normalization.check_input(image_io.read_user_image(files[0], spec.channels).dtype, files[0])
    origin = normalization.origin if normalization is not None else "input dtype range"
    if options.dose_series is not None:
        options.figure.shown_channels(spec.channels)  # a misspelled --grey channel fails before anything runs
    vector = options.figure.vector if options.dose_series is not None else ()
    plan = plan_outputs(files, Path(options.images), targets, series_compound=options.dose_series,
                        differences=options.differences, vector=vector)
    out = Path(options.out)
    figure = options.figure.to_dict() if options.dose_series is not None else None
    used = config_to_dict(translator.config)  # the settings as the model took them, read back once
    job = job_identity(Path(options.checkpoint), translator.name, options.source, origin, options.seed, figure,
                       settings={key: used[key] for key in sorted(options.settings)})
    claim_output_folder(out, job, write=shard.is_main)
    work = batches(files, options.batch_size)
    mine = my_batches(len(work), shard)
    written = skipped = handled = 0
    from tqdm.auto import tqdm

    for k in tqdm(mine, desc="translate", unit="batch", disable=not (options.progress and shard.is_main)):
        batch = work[k]
        missing = [o for f in batch for o in plan[f] if not (out / o.path).exists()]
        handled += len(batch)
        skipped += sum(len(plan[f]) for f in batch) - len(missing)
        if not missing:
            continue
        torch.manual_seed(options.seed + k)  # per batch, not per process: same outputs for any sharding
        written += _translate_batch(translator, batch, plan, targets, options, normalization, out)
    wait_for_everyone(shard)
    manifest = None
    if shard.is_main:
        sheet = _contact_sheet(translator, files, plan, targets, options, out)
        manifest = _write_manifest(out, plan, options.source, translator.name, origin, sheet)
    return TranslateReport(handled, written, skipped, time.perf_counter() - start, origin, manifest, shard)


def check_folders_apart(images: Path, out: Path) -> None:
    """Refuse an --out that is, holds or lies inside the --images folder: outputs would be read back
    as inputs, or inputs counted as finished translations and skipped."""
    if not images.is_dir():
        return  # one file: its outputs go into their own target folders
    inputs, outputs = images.resolve(), out.resolve()
    if outputs == inputs or inputs in outputs.parents or outputs in inputs.parents:
        raise ConfigError(
            f"--out {out} and --images {images} overlap (one is, or is inside, the other): outputs would be "
            "read as inputs, or inputs skipped as done. Give an --out outside the images folder."
        )


def _translate_batch(
    translator: Translator,
    files: Sequence[Path],
    plan: dict[Path, list[Output]],
    targets: Sequence[str],
    options: TranslateOptions,
    normalization: Normalization | None,
    out: Path,
) -> int:
    """Read, translate and write one batch; returns the number of files written."""
    spec = translator.spec
    inputs = [image_io.read_user_image(f, spec.channels) for f in files]
    if normalization is not None:
        for image in inputs:
            normalization.check_input(image.dtype, image.path)
    scales = [normalization or dtype_range(spec.channels, image.dtype) for image in inputs]
    sources = [torch.from_numpy(scale.normalize(image.pixels)) for image, scale in zip(inputs, scales)]
    batch = torch.stack([to_model(i.pixels, s, spec.image_size) for i, s in zip(inputs, scales)])
    with torch.no_grad():
        results = translator.translate_to_each(batch.to(translator.device), options.source, targets)
    by_name = {spec.conditions.name(index): r.images.detach().cpu().float() for index, r in results.items()}
    caption = nfe_caption(translator.name, [r.nfe for r in results.values()])
    count = 0
    for n, (image, scale, source) in enumerate(zip(inputs, scales, sources)):
        series_missing = {o.kind: out / o.path for o in plan[image.path]
                          if o.kind in SERIES_KINDS and not (out / o.path).exists()}
        if series_missing:
            series = Series(batch[n].numpy(), torch.stack([by_name[t][n] for t in targets]).numpy(), options.source,
                            targets, caption=caption, name=relative_name(image.path, Path(options.images)).as_posix())
            count += write_series_outputs(series, spec.channels, options.figure, series_missing)
        for output in plan[image.path]:
            path = out / output.path
            if path.exists() or output.kind in SERIES_KINDS:
                continue  # written before a kill (leave it and its mtime alone), or a series output: above
            translated = to_input_size(by_name[output.target][n], source, scale.resize)
            if output.kind == "translated":
                image_io.write_like(to_raw(translated, scale, image.dtype), image, path)
            else:  # difference: translated minus source, per channel, in raw intensity units
                delta = scale.denormalize(translated.numpy()) - scale.denormalize(source.numpy())
                image_io.write_array(delta.astype(np.float32), path, png=False)
            count += 1
    return count


def _contact_sheet(translator: Translator, files: Sequence[Path], plan: dict[Path, list[Output]],
                   targets: Sequence[str], options: TranslateOptions, out: Path) -> list[list[str]]:
    """Draw a dose series' contact sheet from the first inputs' panels (every process is done, so
    all exist); redrawn on every run, since which inputs come first can change. Its manifest rows."""
    if options.dose_series is None or options.contact_sheet == 0 or len(files) < 2:
        return []
    chosen = files[: options.contact_sheet]
    panel_files = [(relative_name(f, Path(options.images)).as_posix(), out / o.path)
                   for f in chosen for o in plan[f] if o.kind == "panels"]
    if not all(path.is_file() for _, path in panel_files):
        return []  # a process failed: the manifest's check says which outputs are missing
    paths = contact_sheet_paths(options.dose_series, options.figure.vector)
    write_contact_sheet(panel_files, source=options.source, targets=targets, caption=f"Translated by {translator.name}.",
                        channels=translator.spec.channels, style=options.figure, paths=[out / p for p in paths],
                        title=f"{options.dose_series}: {len(chosen)} of {len(files)} input(s), lowest dose first")
    kinds = ["contact-sheet"] + [f"contact-sheet-{fmt}" for fmt in options.figure.vector]
    return [[str(options.images), options.source, options.dose_series, kind, path.as_posix()]
            for kind, path in zip(kinds, paths)]


def _write_manifest(out: Path, plan: dict[Path, list[Output]], source: str, translator: str, origin: str,
                    extra: Sequence[list[str]] = ()) -> Path:
    """The CSV of every output, written atomically: this job's rows in plan order, after the rows of
    earlier runs into the same folder (other targets) whose files still exist, so none are lost."""
    missing = [o.path for outputs in plan.values() for o in outputs if not (out / o.path).exists()]
    if missing:
        raise PhenbenchError(
            f"{len(missing)} output(s) are missing after translating (first: {missing[0]}); "
            "run the same command again to finish them."
        )
    rows = [[str(file), source, o.target, o.kind, o.path.as_posix(), translator, origin]
            for file, outputs in plan.items() for o in outputs]
    rows += [[*row, translator, origin] for row in extra]
    written = {row[4] for row in rows}
    earlier = [row for row in _read_manifest_rows(out / MANIFEST_FILE)
               if row[4] not in written and (out / row[4]).is_file()]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(MANIFEST_COLUMNS)
    writer.writerows(earlier + rows)
    out.mkdir(parents=True, exist_ok=True)
    path = out / MANIFEST_FILE
    tmp = out / f".{MANIFEST_FILE}.{os.getpid()}.tmp"
    tmp.write_text(buffer.getvalue())
    os.replace(tmp, path)
    return path


def _read_manifest_rows(path: Path) -> list[list[str]]:
    """The rows of an existing manifest, in MANIFEST_COLUMNS order; a damaged one is refused, not replaced."""
    if not path.is_file() or path.stat().st_size == 0:
        return []
    try:
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames is None or "output" not in reader.fieldnames:
                raise ValueError("no 'output' column")
            return [[row.get(column) or "" for column in MANIFEST_COLUMNS] for row in reader]
    except (ValueError, UnicodeDecodeError, csv.Error) as exc:
        raise PhenbenchError(
            f"{path} cannot be read ({exc}), so its rows cannot be kept; move it away and run the same command again."
        ) from None
