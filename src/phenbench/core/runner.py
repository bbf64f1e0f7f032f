"""The runner: prepare -> fit or load -> translate the test split -> score -> write, once.

The CLI's `phenbench run` is a thin shell over `run_benchmark`. The runner owns seeds, devices,
progress bars and provenance; the store is the only thing that writes results.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phenbench.core.config import config_from_dict, config_to_dict
from phenbench.core.errors import ConfigError, DataError, PhenbenchError
from phenbench.core.plugins import Registries, load_registries
from phenbench.core.provenance import git_hash, library_versions, resolve_device, utc_now
from phenbench.core.run_config import RunConfig

# Metrics computed when a run names none: each is used where the dataset can supply its needs.
DEFAULT_METRICS = (
    "counterfactual",
    "phenotype-shift",
    "reconstruction",
    "fid",
    "kid",
    "cellprofiler",
    "fd-cellprofiler",
    "classifier",
    "effect",
    "dose-response",
    "source-fidelity",
    "segmentation-failures",
)


@dataclass
class RunOutcome:
    """What `run_benchmark` returns: the stored record and where the trained model went."""

    record: Any  # phenbench.core.store.RunRecord
    model_dir: Path | None


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def open_dataset(registries: Registries, name: str, data: str | None, overrides: dict[str, Any]):
    """Build a dataset adapter from its registered class, its config and `--data`."""
    adapter = registries.datasets.load(name)
    values = dict(overrides)
    if data is not None:
        fields = getattr(adapter.config_class, "__dataclass_fields__", {})
        if "root" not in fields:
            raise ConfigError(f"The dataset '{name}' reads no files, so --data is not used; leave it out.")
        values["root"] = data
    config = config_from_dict(adapter.config_class, values, where=f"{name} dataset config")
    return adapter(config), config


def choose_metrics(registries: Registries, config: RunConfig, dataset) -> dict[str, Any]:
    """Instantiate the chosen metrics (name -> metric); defaults skip what the data cannot supply."""
    from phenbench.core.metric import Need

    names = list(config.metrics) if config.metrics is not None else [
        m for m in DEFAULT_METRICS if m in registries.metrics
    ]
    chosen = {}
    for name in names:
        cls = registries.metrics.load(name)
        if config.metrics is None and Need.COUNTERFACTUAL in cls.needs and not dataset.has_counterfactuals:
            continue
        options = config.metric_options.get(name, {})
        try:
            chosen[name] = cls(**options)
        except TypeError as exc:
            raise ConfigError(f"Bad options for metric '{name}': {exc}") from None
    unknown_options = set(config.metric_options) - set(names)
    if unknown_options:
        raise ConfigError(f"metric_options names metrics that are not computed: {', '.join(sorted(unknown_options))}.")
    return chosen


def model_directory(config: RunConfig, translator_cls, translator_config, dataset, pairs) -> Path:
    """Where a fit keeps its checkpoints and final model: stable, so a killed run can resume.

    `<translator>-<dataset>-<preset>-seed<N>-<key>`, where the key is a digest of what decides the
    model: the translator's full config, the prepared data's content hash (data, selection,
    options) and, for translators that train one model per pair, the pairs. A run on other data
    or another config gets its own folder instead of replacing an earlier model.
    """
    preset = config.preset or "default"
    provenance = {
        "translator": config.translator,
        "config": config_to_dict(translator_config),
        "dataset": config.dataset,
        "data": dataset.content_hash(),
        "pairs": sorted(pairs) if getattr(translator_cls, "trains_per_pair", False) else None,
    }
    key = hashlib.sha256(json.dumps(provenance, sort_keys=True).encode()).hexdigest()[:8]
    return Path(config.work_dir) / f"{config.translator}-{config.dataset}-{preset}-seed{config.seed}-{key}"


def check_something_to_translate(dataset, pairs: list[tuple[int, int]], limit: int | None, seed: int) -> None:
    """Refuse, before fitting, a run that would translate and score nothing."""
    from phenbench.core.evaluation_builder import test_rows

    names = dataset.conditions.names
    where = f"The dataset '{dataset.name}'"
    if len(names) < 2:
        raise DataError(
            f"{where} has a single condition ({names[0]}): a translator needs a source and a target condition. "
            "Add images of another condition, or check the selection and folder mapping."
        )
    if not pairs:
        raise ConfigError(f"{where}: no source -> target pairs to translate; check --pairs.")
    sources = sorted({source for source, _ in pairs})
    if not any(len(test_rows(dataset, source, limit, seed)) for source in sources):
        raise DataError(
            f"{where} has no test images of the source condition(s) {', '.join(names[s] for s in sources)}: "
            "nothing would be translated or scored. Prepare it with a test split holding them."
        )


def run_benchmark(config: RunConfig, registries: Registries | None = None) -> RunOutcome:
    """Walk the whole flow once and write one complete record to the store.

    A run that fails with an error is recorded with status "failed" and the error; a run that is
    killed leaves nothing (the store writes whole records only).
    """
    from phenbench.core.store import ResultsStore, RunRecord, make_run_id

    run_id = make_run_id(config.translator, config.dataset)
    started = utc_now()
    try:
        return _run(config, registries or load_registries(), run_id, started)
    except (PhenbenchError, KeyboardInterrupt):
        raise  # bad input or an interrupt: nothing ran worth recording
    except Exception as exc:
        failed = RunRecord(
            run_id=run_id, translator=config.translator, dataset=config.dataset, status="failed",
            seed=config.seed, started=started, ended=utc_now(), configs={"run": config_to_dict(config)},
            versions=library_versions(), git_hash=git_hash(), dataset_hash="", metrics=[], samples={},
            timings={}, error=f"{type(exc).__name__}: {exc}", preset=config.preset,
        )
        try:
            if is_main_process():  # under a launcher every process fails alike; one record
                ResultsStore(config.store).write(failed)
        except Exception:
            pass  # the original error matters more than the record of it
        raise


def _run(config: RunConfig, registries: Registries, run_id: str, started: str) -> RunOutcome:
    from phenbench.core.evaluation_builder import build_evaluation, resolve_pairs
    from phenbench.core.metric import Need, stamp_results
    from phenbench.core.sharding import LongWait, broadcast_from_main, current_shard, wait_for_everyone
    from phenbench.core.store import ResultsStore, RunRecord, make_run_id
    from phenbench.core.translator import FitOptions

    translator_cls = registries.translators.load(config.translator)  # fail fast on a bad name
    if config.preset is not None:
        translator_cls.config_for(config.preset)  # refuses a preset the translator does not have
    shard = current_shard()  # under a launcher: this process's place; the main one alone writes files
    store = ResultsStore(config.store)
    store.check_writable()  # before fitting: a five-hour fit must not learn at the end that its store is unusable
    seed_everything(config.seed)
    device = resolve_device(config.device)
    config = dataclasses.replace(config, device=device)  # the record says what was used, not "auto"
    dataset, dataset_config = open_dataset(registries, config.dataset, config.data, config.dataset_config)
    metrics = choose_metrics(registries, config, dataset)
    needs = set().union(*(m.needs for m in metrics.values())) if metrics else set()
    pairs = resolve_pairs(config.pairs, dataset)
    check_something_to_translate(dataset, pairs, config.max_test_per_condition, config.eval_seed)
    match_batches = resolve_match_batches(config, dataset)

    timings: dict[str, float] = {}
    model_dir: Path | None = None
    if config.checkpoint:
        from phenbench.core.loaded_model import check_loaded_model, settings_for_loaded_model

        settings = settings_for_loaded_model(translator_cls, config.checkpoint, config.translator_config)
        translator = translator_cls.load(config.checkpoint, device=device, settings=settings)
        check_loaded_model(translator, dataset, config)
        translator_config = translator.config
        preset = translator.preset or config.preset
    else:
        translator_config = translator_cls.config_for(config.preset, config.translator_config)
        preset = config.preset
        warn_full_size_on_cpu(translator_cls, config, device)
        translator = translator_cls(translator_config, dataset.spec).to(device)
        translator.preset = preset
        # Pairs with a held-out condition are not translated by a translator that cannot condition
        # on it (evaluation_builder.py): a per-pair method must not train for them either.
        unseen = {dataset.conditions.index(c) for c in dataset.spec.unseen}
        fit_pairs = pairs if translator_cls.handles_unseen_conditions else [
            (s, t) for s, t in pairs if s not in unseen and t not in unseen]
        model_dir = model_directory(config, translator_cls, translator_config, dataset, fit_pairs)
        try:  # now, not after the fit: the trained model must have somewhere to go
            model_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"Cannot create the model folder {model_dir} ({exc.strerror or exc}); pass a writable --work-dir."
            ) from None
        checkpoints = model_dir / "checkpoints"
        if not config.resume and checkpoints.exists() and shard.is_main:
            import shutil

            shutil.rmtree(checkpoints)
        wait_for_everyone(shard)
        begin = time.perf_counter()
        report = translator.fit(
            dataset,
            FitOptions(
                seed=config.seed,
                device=device,
                checkpoint_dir=checkpoints,
                checkpoint_every=config.checkpoint_every,
                progress=config.progress,
                pairs=tuple(fit_pairs),
            ),
        )
        timings["fit_seconds"] = time.perf_counter() - begin
        timings["fit_steps"] = float(report.steps)
        if report.images_per_second:
            timings["fit_images_per_second"] = report.images_per_second
        if shard.is_main:  # one writer: processes saving into one folder at once would race
            translator.save(model_dir / "model")
            # Beside the weights, the intensity map of the training data, so that `phenbench translate`
            # preprocesses a user's images as the model saw them (nothing for synthetic data).
            from phenbench.imaging.normalization import save_dataset_normalization

            save_dataset_normalization(dataset, model_dir / "model")
        wait_for_everyone(shard)

    evaluation, cost = build_evaluation(
        translator, dataset, pairs, needs | {Need.TRANSLATED},
        batch_size=config.batch_size, limit=config.max_test_per_condition,
        seed=config.eval_seed, progress=config.progress and shard.is_main,  # the fixed evaluation seed
        match_batches=match_batches, strict_batches=config.match_batches is True, shard=shard,
    )
    fallback = evaluation.pairing.get("reason")
    if fallback and config.progress:
        print(f"note: {fallback}; controls of every plate were used (recorded with the run).")
    evaluation.options["device"] = device
    timings.update(
        processes=float(shard.count),  # translation seconds are summed over them
        translate_seconds=cost.seconds,
        translated_images=float(cost.images),
        nfe_per_image=float(cost.nfe),
    )
    if cost.images_per_second:
        timings["translate_images_per_second"] = cost.images_per_second
    if cost.reconstruction_seconds:
        timings["reconstruct_seconds"] = cost.reconstruction_seconds
    if cost.inversion_seconds_per_image is not None:
        timings["invert_seconds_per_image"] = cost.inversion_seconds_per_image

    from tqdm.auto import tqdm

    from phenbench.core.held_out import EvaluationParts
    from phenbench.core.scoring import score_metric, share_feature_extraction

    results = []
    parts = EvaluationParts.of(evaluation)  # seen and held-out targets scored apart (held_out.py)
    # Every process holds every translation now. The metrics' per-image work (feature extraction)
    # is shared out first; scoring needs all of it at once, so then the main process alone scores
    # (and writes), and hands the record to the others, which wait for it in a LongWait: scoring a
    # paper-size evaluation can outlast a collective's timeout.
    scored_and_written = LongWait(shard)
    share_feature_extraction(metrics, parts.scored(), shard)
    bar = tqdm(metrics.items() if shard.is_main else [], desc="metrics", unit="metric", disable=not config.progress)
    for name, metric in bar:
        bar.set_postfix_str(name)
        scored = parts.score(lambda part: score_metric(name, metric, part, progress=config.progress))
        # Each value records the rows and options it was computed on (compare keeps others apart).
        results.extend(stamp_results(scored, name, metric, evaluation))
    if config.protocol and shard.is_main:
        from phenbench.protocols import load_protocol
        from phenbench.protocols.published import published_results

        results.extend(published_results(load_protocol(config.protocol), config.translator, dataset.conditions))

    record = RunRecord(
        run_id=run_id,
        translator=config.translator,
        dataset=config.dataset,
        status="complete",
        seed=config.seed,
        started=started,
        ended=utc_now(),
        configs={
            "run": config_to_dict(config),
            "translator": config_to_dict(translator_config),
            # The adapter's resolved config where it has one (e.g. a world read from --data world.yaml).
            "dataset": config_to_dict(getattr(dataset, "config", dataset_config)),
            "data_spec": dataset.spec.to_dict(),
            "pairing": evaluation.pairing,
            "moa": evaluation.moa,
        },
        versions=library_versions(registries.plugins),
        git_hash=git_hash(),
        dataset_hash=evaluation.dataset_hash,
        metrics=results,
        samples=collect_samples(evaluation, config.samples_per_condition),
        timings=timings,
        preset=preset,
    )
    if shard.is_main:
        write_or_keep(store, record, Path(config.work_dir))
    # After the write: a process that reads the store next (the identity baseline) finds the run.
    scored_and_written.wait()
    return RunOutcome(record=broadcast_from_main(record, shard), model_dir=model_dir)


def resolve_match_batches(config: RunConfig, dataset) -> bool:
    """Whether pairs are batch-matched: as asked, else the dataset's default for pairs from-control."""
    if config.match_batches is None:
        return bool(dataset.batch_matched_by_default) and config.pairs == "from-control"
    if config.match_batches and config.pairs != "from-control":
        raise ConfigError("match_batches (--batch-matched) draws each control from a target image's plate: it needs "
                          "pairs from-control.")
    return config.match_batches


def warn_full_size_on_cpu(translator_cls, config: RunConfig, device: str) -> None:
    """Say so before a translator's full-size default config starts training for days on a CPU."""
    if config.preset is None and not config.translator_config and device == "cpu" and translator_cls.presets.get("quick"):
        print(
            f"warning: no --preset given, so {config.translator} trains its full (paper-size) configuration, "
            "made for GPUs; on this CPU that takes days. For a CPU-sized run add --preset quick.",
            file=sys.stderr,
        )


def is_main_process() -> bool:
    """Under `accelerate launch` / torchrun every process runs the runner; only rank 0 writes. From
    the environment, not the process group: a failure path must not wait on the other processes."""
    import os

    return os.environ.get("RANK", "0") == "0"


def write_or_keep(store, record, work_dir: Path) -> None:
    """Write the record; if the store refuses it, keep it on disk so hours of compute are not lost.

    The kept copy is a results store of its own holding just this run (HDF5, no pickle: a file
    that may be passed around must not run code when read); `phenbench merge` adds it to a store.
    """
    from phenbench.core.store import ResultsStore

    try:
        store.write(record)
    except Exception as exc:
        kept = work_dir / f"{record.run_id}.h5"
        try:
            work_dir.mkdir(parents=True, exist_ok=True)
            ResultsStore(kept).write(record)
        except Exception as keep_exc:
            raise PhenbenchError(
                f"The store {store.path} refused run {record.run_id} ({_one_line(exc)}), and keeping it in {kept} "
                f"failed too ({_one_line(keep_exc)}); the run's scores are lost."
            ) from exc
        raise PhenbenchError(
            f"The store {store.path} refused run {record.run_id} ({_one_line(exc)}); the run is kept in {kept}. "
            f"Fix the store (or choose another) and add it with `phenbench merge {kept} --store {store.path}`."
        ) from exc


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def collect_samples(evaluation, count: int) -> dict[str, dict[str, Any]]:
    """A few images per target condition (float16), for reports."""
    samples = {}
    for name, bundle in evaluation.bundles.items():
        entry = {
            "source": bundle.sources[:count].half().numpy(),
            "translated": bundle.translated[:count].half().numpy(),
        }
        if bundle.real is not None:
            entry["real"] = bundle.real[:count].half().numpy()
        if bundle.reconstructions is not None:
            entry["reconstruction"] = bundle.reconstructions[:count].half().numpy()
        if bundle.counterfactuals is not None:
            entry["counterfactual"] = bundle.counterfactuals[:count].half().numpy()
        samples[name] = entry
    return samples
