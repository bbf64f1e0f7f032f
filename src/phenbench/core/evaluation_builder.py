"""Translating the test split and collecting what the chosen metrics need into an Evaluation.

The rows evaluated are chosen with the *evaluation* seed (`RunConfig.eval_seed`, fixed), not the
training seed: methods trained with different seeds are scored on the same images. What was
evaluated is summed up in `Evaluation.rows_digest` (dataset hash, pairs and every image set's
rows), stored with every value. Each image carries its resampling unit for bootstrap intervals:
its field of view (or well) where the dataset's metadata has one, else the image itself.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from phenbench.core.dataset import PreparedDataset
from phenbench.core.errors import ConfigError, DataError
from phenbench.core.metric import ConditionBundle, Evaluation, Need
from phenbench.core.sharding import Shard, gather_in_order, my_batches
from phenbench.core.translator import Translator


@dataclass
class TranslationCost:
    """Time and network evaluations spent translating a run's test split."""

    images: int = 0
    seconds: float = 0.0
    nfe: int = 0
    reconstruction_seconds: float = 0.0
    # Inversion (DDIM/EDICT, projection into W or W+): done once per source image, shared by its targets.
    inversion_seconds: float = 0.0
    inverted_images: int = 0
    per_pair_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def images_per_second(self) -> float | None:
        return self.images / self.seconds if self.seconds > 0 else None

    @property
    def inversion_seconds_per_image(self) -> float | None:
        return self.inversion_seconds / self.inverted_images if self.inverted_images else None


def resolve_pairs(pairs, dataset: PreparedDataset) -> list[tuple[int, int]]:
    """The (source, target) index pairs a run translates, from "all", "from-control" or names."""
    conditions = dataset.conditions
    counts = dataset.counts("test")
    present = [i for i, n in enumerate(conditions.names) if counts.get(n, 0) > 0]
    if pairs == "all":
        return [(s, t) for s in present for t in range(len(conditions)) if s != t]
    if pairs == "from-control":
        if conditions.control is None:
            raise ConfigError(
                f"pairs 'from-control' needs a control condition, and the dataset '{dataset.name}' has none. "
                "Use pairs 'all' or list the pairs."
            )
        control = conditions.index(conditions.control)
        return [(control, t) for t in range(len(conditions)) if t != control]
    return [(conditions.index(s), conditions.index(t)) for s, t in pairs]


def resampling_units(dataset: PreparedDataset, split: str) -> np.ndarray | None:
    """The independent unit of every row of `split`: plate and field of view where the metadata
    has a field, else plate and well; None when it has neither (each image is its own unit)."""
    try:
        meta = dataset.metadata(split)
    except Exception:  # metadata is optional for adapters; intervals then resample images
        return None
    for column in ("field", "well"):
        if column in meta.columns and meta[column].notna().all():
            plate = meta["plate"].astype(str) + "|" if "plate" in meta.columns else ""
            return (column + ":" + plate + meta[column].astype(str)).to_numpy(dtype=object)
    return None


def rows_digest(dataset_hash: str, conditions, pairs, sources: dict, reals: dict, train: dict,
                matched: dict | None = None) -> str:
    """A digest of everything that decides which images were scored (`matched`: the control rows
    drawn for each target under batch-matched pairs)."""
    digest = hashlib.sha256(dataset_hash.encode())
    digest.update(json.dumps(sorted([conditions.name(s), conditions.name(t)] for s, t in pairs)).encode())
    for kind, rows_of in (("sources", sources), ("real", reals), ("train", train), ("matched", matched or {})):
        for key in sorted(rows_of):
            digest.update(f"{kind}|{conditions.name(key)}|".encode())
            digest.update(np.asarray(rows_of[key], dtype=np.int64).tobytes())
    return digest.hexdigest()[:12]


def test_rows(dataset: PreparedDataset, condition: int, limit: int | None, seed: int) -> np.ndarray:
    """The test rows of a condition, a seeded subset of `limit` when there are more."""
    rows = dataset.rows("test", condition)
    if limit is not None and len(rows) > limit:
        rows = np.sort(np.random.default_rng(seed + condition).choice(rows, size=limit, replace=False))
    return rows


def build_evaluation(
    translator: Translator,
    dataset: PreparedDataset,
    pairs: list[tuple[int, int]],
    needs: set[Need],
    *,
    batch_size: int,
    limit: int | None,
    seed: int,
    progress: bool,
    match_batches: bool = False,
    strict_batches: bool = False,
    shard: Shard = Shard(),
) -> tuple[Evaluation, TranslationCost]:
    """Translate every pair's test images and gather bundles, one per target condition.

    `seed` is the evaluation seed: it chooses the test rows (above `limit`) and seeds the metrics.
    With `match_batches`, each target's real test images are compared with translations of
    controls drawn from their own plates (batch_pairs.py); where some plate has no control test
    image, the run falls back to unmatched pairs (recorded), unless `strict_batches`. Pairs with a
    condition held out of training are not translated by a translator that cannot condition on
    it: their targets are recorded in `Evaluation.untranslated` with the reason.

    Under several processes (`shard`), each translates and reconstructs its share of the batches
    (batch k on process k mod N) and every process gets all of them back in batch order: the same
    images, in the same order, as one process computes. Costs are summed over the processes.
    """
    conditions = dataset.conditions
    units = resampling_units(dataset, "test")
    scored, untranslated = _translatable(translator, dataset, pairs)
    cost = TranslationCost()
    matched, pairing = None, {"batch_matched": False}
    if match_batches:  # drawn for every requested target: the same rows whoever translates them
        matched, pairing = _match(dataset, pairs, limit, seed, strict_batches)
    if matched is not None:
        parts, source_rows = _translate_matched(translator, dataset, matched, {t for _, t in scored}, batch_size,
                                                units, needs, cost, progress, shard)
    else:
        parts, source_rows = _translate_all(translator, dataset, scored, batch_size, limit, seed, units, needs,
                                            cost, progress, shard)

    bundles: dict[str, ConditionBundle] = {}
    real_rows_of: dict[int, np.ndarray] = {}
    for target in sorted({t for _, t in pairs}):
        real_rows_of[target] = matched.reals[target] if matched is not None and target in matched.reals \
            else test_rows(dataset, target, limit, seed)
    for target in sorted(parts):
        part = parts[target]
        name = conditions.name(target)
        real_rows = real_rows_of[target]
        real = dataset.read("test", real_rows) if len(real_rows) else None
        reconstructions = None
        if Need.RECONSTRUCTION in needs and real is not None:
            reconstructions = _reconstructed(translator, real, target, batch_size, cost, shard)
        bundles[name] = ConditionBundle(
            target=name,
            translated=torch.cat(part["translated"]),
            sources=torch.cat(part["sources"]),
            source_conditions=list(part["source_conditions"]),
            real=real,
            reconstructions=reconstructions,
            counterfactuals=torch.cat(part["counterfactuals"]) if part.get("counterfactuals") else None,
            real_units=np.array(_unit_labels(units, real_rows, name), dtype=object),
            source_units=np.array(part["source_units"], dtype=object),
        )
    real_train = None
    train_rows_of: dict[int, np.ndarray] = {}
    if Need.REAL_TRAIN in needs:
        real_train = {}
        for index, name in enumerate(conditions.names):
            rows = dataset.rows("train", index)
            if limit is not None and len(rows) > 4 * limit:
                rows = np.sort(np.random.default_rng(seed).choice(rows, size=4 * limit, replace=False))
            if len(rows):
                train_rows_of[index] = rows
                real_train[name] = dataset.read("train", rows)
    evaluation = Evaluation(
        conditions=conditions,
        channels=dataset.spec.channels,
        bundles=bundles,
        dataset_hash=dataset.content_hash(),
        real_train=real_train,
        readouts=dataset.phenotype_readouts,
        seed=seed,
        held_out=tuple(dataset.spec.unseen),
        untranslated=untranslated,
        moa=dataset.condition_moa(),
        pairing=pairing,
    )
    # A target no pair of which was translated (held out, for a translator that cannot condition on
    # it) still counts with its rows: such a method is scored on the same rows as one that can,
    # and their values share columns (its own held-out values are missing). A target that lost
    # some of its pairs (pairs from a held-out source) was scored on other images: its digest differs.
    partial = any(conditions.name(t) not in untranslated for s, t in pairs if (s, t) not in scored)
    evaluation.rows_digest = rows_digest(evaluation.dataset_hash, conditions, scored if partial else pairs,
                                         source_rows, real_rows_of,
                                         train_rows_of, matched.sources if matched is not None else None)
    return evaluation, cost


def _translatable(translator: Translator, dataset: PreparedDataset, pairs) -> tuple[list, dict[str, str]]:
    """The pairs the translator can translate, and target name -> why it got no translation at
    all (each of its pairs needs a condition held out of training)."""
    from phenbench.core.translator import UnseenConditionError

    unseen = set(dataset.spec.unseen)
    if not unseen or translator.handles_unseen_conditions:
        return list(pairs), {}
    names = dataset.conditions.name
    kept, refused = [], {}
    for source, target in pairs:
        asked = [n for n in (names(source), names(target)) if n in unseen]
        if asked:
            refused.setdefault(names(target), str(UnseenConditionError(translator.name, asked)))
        else:
            kept.append((source, target))
    translated = {names(t) for _, t in kept}
    return kept, {t: reason for t, reason in refused.items() if t not in translated}


def _match(dataset: PreparedDataset, pairs, limit: int | None, seed: int, strict: bool):
    """Batch-matched control rows for `pairs` (all from the control), or None with the reason."""
    from phenbench.core.batch_pairs import match_batches

    control = dataset.conditions.control
    if control is None or {s for s, _ in pairs} - {dataset.conditions.index(control)}:
        raise ConfigError("Batch-matched pairs translate the control to each condition: use pairs from-control.")
    reals = {t: test_rows(dataset, t, limit, seed) for _, t in pairs}
    matched = match_batches(dataset, dataset.conditions.index(control), reals, seed)
    if matched is None:
        why = f"the dataset '{dataset.name}' has no plates (batches)"
    elif matched.dropped:
        plates = sorted({p for ps in matched.unmatched_plates.values() for p in ps})
        why = (f"plate(s) {', '.join(plates)} have test images of {', '.join(matched.dropped)} but no {control} "
               "test image")
    else:
        return matched, matched.record()
    empty = [dataset.conditions.name(t) for t in reals if matched is None or not len(matched.reals[t])]
    if strict and (matched is None or empty):
        raise DataError(
            f"Batch-matched pairs are impossible: {why}{' (no image left for ' + ', '.join(empty) + ')' if empty else ''}. "
            "Pass --no-batch-matched, or split the data so that every plate has control test images."
        )
    if strict:
        return matched, matched.record()
    return None, {"batch_matched": False, "reason": f"not batch-matched: {why}"}


def _translated(translator, dataset, rows, source: int, targets: list[int], batch_size: int, cost: TranslationCost,
                shard: Shard):
    """(batch rows, source images, {target: translated images}) per batch of `rows`, with the costs
    counted; under several processes each translates its batches and all get every batch back."""
    starts = list(range(0, len(rows), batch_size))
    mine, read = {}, {}  # read: this process's source images, kept rather than read again
    for k in my_batches(len(starts), shard):
        images = read[k] = dataset.read("test", rows[starts[k] : starts[k] + batch_size])
        begin = time.perf_counter()
        with torch.inference_mode():
            results = translator.translate_to_each(images, source, targets)
        seconds = time.perf_counter() - begin
        inverted = next(iter(results.values())).latents if results else None
        inversion = inverted.seconds if inverted is not None and inverted.kind != "image" else None
        mine[k] = (seconds, inversion, max((r.nfe for r in results.values()), default=0),
                   {t: r.images.detach().float().cpu() for t, r in results.items()})
    for k, (seconds, inversion, nfe, results) in enumerate(gather_in_order(mine, len(starts), shard)):
        batch_rows = rows[starts[k] : starts[k] + batch_size]
        images = read[k] if k in read else dataset.read("test", batch_rows)  # another process's batch
        cost.seconds += seconds
        if inversion is not None:  # the same inversion serves every target
            cost.inversion_seconds += inversion
            cost.inverted_images += len(images)
        cost.images += len(images) * len(results)
        cost.nfe = max(cost.nfe, nfe)
        yield batch_rows, images, results


def _reconstructed(translator, real: torch.Tensor, target: int, batch_size: int, cost: TranslationCost,
                   shard: Shard) -> torch.Tensor:
    """Reconstructions of `real` (images of `target`), each process doing its share of the batches."""
    starts = list(range(0, len(real), batch_size))
    mine = {}
    for k in my_batches(len(starts), shard):
        begin = time.perf_counter()
        with torch.inference_mode():
            images = translator.reconstruct(real[starts[k] : starts[k] + batch_size], target).images.float().cpu()
        mine[k] = (time.perf_counter() - begin, images)
    gathered = gather_in_order(mine, len(starts), shard)
    cost.reconstruction_seconds += sum(seconds for seconds, _ in gathered)
    return torch.cat([images for _, images in gathered])


def _add(part, dataset, needs, units, source_name: str, rows, images, translated, target: int) -> None:
    part["translated"].append(translated)
    part["sources"].append(images)
    part["source_conditions"] += [source_name] * len(images)
    part["source_units"] += _unit_labels(units, rows, source_name)
    if Need.COUNTERFACTUAL in needs and dataset.has_counterfactuals:
        part["counterfactuals"].append(dataset.counterfactuals("test", rows, target))


def _translate_all(translator, dataset, pairs, batch_size, limit, seed, units, needs, cost, progress, shard):
    """Every test image of each source (up to `limit`) translated to each of its targets."""
    targets_of: dict[int, list[int]] = defaultdict(list)
    for source, target in pairs:
        targets_of[source].append(target)
    parts: dict[int, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    source_rows: dict[int, np.ndarray] = {}
    total = sum(len(test_rows(dataset, s, limit, seed)) * len(t) for s, t in targets_of.items())
    bar = tqdm(total=total, desc="translate", unit="img", disable=not progress)
    for source, targets in targets_of.items():
        rows = source_rows[source] = test_rows(dataset, source, limit, seed)
        name = dataset.conditions.name(source)
        for batch_rows, images, results in _translated(translator, dataset, rows, source, targets, batch_size, cost,
                                                       shard):
            for target, translated in results.items():
                _add(parts[target], dataset, needs, units, name, batch_rows, images, translated, target)
            bar.update(len(images) * len(targets))
    bar.close()
    return parts, source_rows


def _translate_matched(translator, dataset, matched, targets, batch_size, units, needs, cost, progress, shard):
    """Each of `targets`' drawn controls translated to it, in the order of its real rows; each
    control image is inverted once for all the targets that drew it (batch_pairs.targets_by_row)."""
    from phenbench.core.batch_pairs import MatchedPairs, targets_by_row

    control = dataset.conditions.index(dataset.conditions.control)
    name = dataset.conditions.control
    done: dict[int, dict[int, tuple[torch.Tensor, torch.Tensor]]] = defaultdict(dict)  # target -> row -> images
    matched = MatchedPairs(sources={t: r for t, r in matched.sources.items() if t in targets})
    groups = targets_by_row(matched)
    bar = tqdm(total=sum(len(r) * len(t) for t, r in groups.items()), desc="translate", unit="img",
               disable=not progress)
    for targets, rows in groups.items():
        for batch_rows, images, results in _translated(translator, dataset, rows, control, sorted(targets),
                                                       batch_size, cost, shard):
            for target, translated in results.items():
                for k, row in enumerate(batch_rows):
                    done[target][int(row)] = (images[k], translated[k])
            bar.update(len(images) * len(targets))
    bar.close()
    parts: dict[int, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for target, rows in matched.sources.items():
        if not len(rows):
            continue
        pairs = [done[target][int(r)] for r in rows]
        images = torch.stack([p[0] for p in pairs])
        _add(parts[target], dataset, needs, units, name, rows, images, torch.stack([p[1] for p in pairs]), target)
    return parts, {}


def _unit_labels(units: np.ndarray | None, rows: np.ndarray, condition: str) -> list[str]:
    """The unit of each test row: its field (or well) from the metadata, else the image itself."""
    if units is not None:
        return [str(units[r]) for r in rows]
    return [f"image:{condition}#{r}" for r in rows]
