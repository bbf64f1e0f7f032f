"""The protocol aggregates of `fid` and `kid`: FIDo / FIDc and KIDo / KIDc of the field's BBBC021
protocol (IMPA, CellFlux), with the option `aggregates: true` (or a `protocol` preset).

- **Per class.** For each treated target condition c (every target but the control): n_c
  translated and n_c real test images, n_c = min(#translated, #real, `per_class_images`). The
  count depends on the data, the pairs and the options only, never on the method: every method is
  scored at the same N per class, reported as the value's N. Where both sets have the same size
  (batch-matched pairs: one translation per real image) the same positions are kept on both sides,
  so the plate mix stays equal; otherwise each side is a seeded subsample.
- `fid/per-class-mean`: per condition, the FID of its n_c translated against its n_c real images
  (no halving: the protocol's number); pooled, their unweighted mean (FIDc).
- `fid/overall`: every class's selected images together, translated against real (FIDo); above
  `overall_images` (5,120 in the protocol) a seeded subsample of the same (class, position) pairs
  on both sides, so the class mix is identical.
- `kid/per-class-mean`, `kid/overall`: the same with torch-fidelity's KID, **each class's kernel
  computed on its own features only** (CellFlux's script adds every class's features to the
  overall KID object instead, so its per-class KIDs mix classes: see the tests), with subsets of
  min(`kid_subset_size`, n) images (100 in the protocol, CellFlux's).

No real-vs-real floor and no interval: a floor at the protocol's N would need twice the real images
of each class, and a bootstrap of a 5,120-image FID costs minutes per resample on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from phenbench.core.metric import Evaluation, MetricResult, MetricValue
from phenbench.core.sharding import Shard
from phenbench.metrics.base import bundles_in_order, condition_seed
from phenbench.metrics.cache import FeatureCache
from phenbench.metrics.inception_features import ExtractorSpec, WeightsUnavailable, extract_features, real_features

MEMO_KEY = "phenbench.metrics.fidelity_protocol"
OVERALL, PER_CLASS = "overall", "per-class-mean"


@dataclass
class ClassFeatures:
    """Features of one class at the protocol's N: translated and real, n x D each."""

    translated: np.ndarray
    real: np.ndarray


def class_rows(n_translated: int, n_real: int, cap: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the n = min(n_translated, n_real, cap) translated and real images of a class."""
    n = min(n_translated, n_real, cap if cap is not None else n_real)
    rng = np.random.default_rng(seed)
    if n_translated == n_real:  # paired (batch-matched): the same positions on both sides
        rows = np.sort(rng.choice(n_real, size=n, replace=False))
        return rows, rows
    return np.sort(rng.choice(n_translated, size=n, replace=False)), np.sort(rng.choice(n_real, size=n, replace=False))


def overall_selection(sizes: dict[str, int], cap: int | None, seed: int) -> dict[str, np.ndarray]:
    """Per class, the positions (within its selected images) that enter the overall value."""
    total = sum(sizes.values())
    if cap is None or total <= cap:
        return {c: np.arange(n) for c, n in sizes.items()}
    chosen = np.sort(np.random.default_rng(seed).choice(total, size=cap, replace=False))
    out, start = {}, 0
    for c, n in sizes.items():
        mine = chosen[(chosen >= start) & (chosen < start + n)]
        out[c] = mine - start
        start += n
    return out


def protocol_features(evaluation: Evaluation, spec: ExtractorSpec, per_class: int | None,
                      cache: FeatureCache, shard: Shard = Shard()) -> dict[str, ClassFeatures] | str:
    """Per treated target, its features at the protocol's N (memoised: fid and kid extract once);
    or the reason they are missing."""
    memo = evaluation.options.setdefault(MEMO_KEY, {})
    key = spec, per_class
    if key in memo:
        return memo[key]
    result: dict[str, ClassFeatures] | str = {}
    try:
        for bundle in bundles_in_order(evaluation):
            if bundle.target == evaluation.conditions.control or bundle.real is None:
                continue
            t_rows, r_rows = class_rows(len(bundle.translated), len(bundle.real), per_class,
                                        condition_seed(evaluation, bundle.target, "protocol"))
            if len(t_rows) < 2:
                continue
            real = real_features(bundle.real[torch.from_numpy(r_rows)], spec, cache, shard=shard,
                                 dataset_hash=evaluation.dataset_hash, split="test", condition=bundle.target)
            translated = bundle.translated[torch.from_numpy(t_rows)]
            result[bundle.target] = ClassFeatures(extract_features(translated, spec, shard), real)
    except WeightsUnavailable as exc:
        result = str(exc)
    memo[key] = result
    return result


def aggregates(evaluation: Evaluation, features: dict[str, ClassFeatures] | str, statistic, metric: str,
               overall_cap: int | None) -> list[MetricResult]:
    """`<metric>/overall` and `<metric>/per-class-mean` from `statistic(translated, real)`."""
    names = (f"{metric}/{OVERALL}", f"{metric}/{PER_CLASS}")
    targets = [t for t in evaluation.bundles if t != evaluation.conditions.control]
    if isinstance(features, str) or not features:
        reason = features if isinstance(features, str) else "needs 2+ translated and real images of a treated condition"
        return [MetricResult(name, False, {t: MetricValue.absent(reason) for t in targets} if name.endswith(PER_CLASS)
                             else {}, MetricValue.absent(reason)) for name in names]
    per_class = {}
    for target in targets:
        f = features.get(target)
        per_class[target] = (MetricValue(statistic(f.translated, f.real), n=len(f.real)) if f is not None
                             else MetricValue.absent("needs 2+ translated and real images of this condition"))
    scored = [v for v in per_class.values() if v.value is not None]
    missing = [t for t, v in per_class.items() if v.value is None]
    mean = (MetricValue.absent(f"missing for {', '.join(missing)}") if missing
            else MetricValue(float(np.mean([v.value for v in scored])), n=sum(v.n for v in scored)))
    chosen = overall_selection({t: len(f.real) for t, f in features.items()}, overall_cap,
                               condition_seed(evaluation, "overall", "protocol"))
    translated = np.concatenate([features[t].translated[rows] for t, rows in chosen.items()])
    real = np.concatenate([features[t].real[rows] for t, rows in chosen.items()])
    overall = (MetricValue.absent(f"missing for {', '.join(missing)}") if missing
               else MetricValue(statistic(translated, real), n=len(real)))
    n_per_class = np.array([features[t].real.shape[0] for t in features], dtype=np.int64)
    arrays = {"classes": np.array(list(features), dtype=str), "n_per_class": n_per_class}
    return [MetricResult(names[0], False, {}, overall, arrays=dict(arrays)),
            MetricResult(names[1], False, per_class, mean, arrays=dict(arrays))]
