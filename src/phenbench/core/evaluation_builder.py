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
from phenbench.core.errors import ConfigError
from phenbench.core.metric import ConditionBundle, Evaluation, Need
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


def rows_digest(dataset_hash: str, conditions, pairs, sources: dict, reals: dict, train: dict) -> str:
    """A digest of everything that decides which images were scored."""
    digest = hashlib.sha256(dataset_hash.encode())
    digest.update(json.dumps(sorted([conditions.name(s), conditions.name(t)] for s, t in pairs)).encode())
    for kind, rows_of in (("sources", sources), ("real", reals), ("train", train)):
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
) -> tuple[Evaluation, TranslationCost]:
    """Translate every pair's test images and gather bundles, one per target condition.

    `seed` is the evaluation seed: it chooses the test rows (above `limit`) and seeds the metrics.
    """
    conditions = dataset.conditions
    units = resampling_units(dataset, "test")
    source_rows: dict[int, np.ndarray] = {}
    targets_of: dict[int, list[int]] = defaultdict(list)
    for source, target in pairs:
        targets_of[source].append(target)
    parts: dict[int, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    cost = TranslationCost()
    total = sum(len(test_rows(dataset, s, limit, seed)) * len(t) for s, t in targets_of.items())
    bar = tqdm(total=total, desc="translate", unit="img", disable=not progress)
    for source, targets in targets_of.items():
        rows = test_rows(dataset, source, limit, seed)
        source_rows[source] = rows
        for start in range(0, len(rows), batch_size):
            batch_rows = rows[start : start + batch_size]
            images = dataset.read("test", batch_rows)
            begin = time.perf_counter()
            with torch.inference_mode():
                results = translator.translate_to_each(images, source, targets)
            elapsed = time.perf_counter() - begin
            cost.seconds += elapsed
            inverted = next(iter(results.values())).latents if results else None
            if inverted is not None and inverted.kind != "image":  # the same inversion serves every target
                cost.inversion_seconds += inverted.seconds
                cost.inverted_images += len(images)
            for target, result in results.items():
                cost.images += len(images)
                cost.nfe = max(cost.nfe, result.nfe)
                part = parts[target]
                part["translated"].append(result.images.detach().float().cpu())
                part["sources"].append(images)
                part["source_conditions"] += [conditions.name(source)] * len(images)
                part["source_units"] += _unit_labels(units, batch_rows, conditions.name(source))
                if Need.COUNTERFACTUAL in needs and dataset.has_counterfactuals:
                    part["counterfactuals"].append(dataset.counterfactuals("test", batch_rows, target))
            bar.update(len(images) * len(targets))
    bar.close()

    bundles: dict[str, ConditionBundle] = {}
    real_rows_of: dict[int, np.ndarray] = {}
    for target in sorted(parts):
        part = parts[target]
        name = conditions.name(target)
        real_rows = real_rows_of[target] = test_rows(dataset, target, limit, seed)
        real = dataset.read("test", real_rows) if len(real_rows) else None
        reconstructions = None
        if Need.RECONSTRUCTION in needs and real is not None:
            begin = time.perf_counter()
            with torch.inference_mode():
                reconstructions = torch.cat(
                    [translator.reconstruct(real[i : i + batch_size], target).images.float().cpu()
                     for i in range(0, len(real), batch_size)]
                )
            cost.reconstruction_seconds += time.perf_counter() - begin
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
    )
    evaluation.rows_digest = rows_digest(evaluation.dataset_hash, conditions, pairs, source_rows, real_rows_of,
                                         train_rows_of)
    return evaluation, cost


def _unit_labels(units: np.ndarray | None, rows: np.ndarray, condition: str) -> list[str]:
    """The unit of each test row: its field (or well) from the metadata, else the image itself."""
    if units is not None:
        return [str(units[r]) for r in rows]
    return [f"image:{condition}#{r}" for r in rows]
