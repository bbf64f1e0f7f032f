"""Shared statistics: the Fréchet distance, bootstrap confidence intervals, standardisation.

The Fréchet distance is torch-fidelity's own (`fid_statistics_to_metric`), so FID and the
CellProfiler-space distance use the same, well-tested formula.

Bootstrap intervals are scipy's (`scipy.stats.bootstrap`): bias-corrected and accelerated (BCa),
200 resamples by default (an option may ask for more, never for fewer: 0 switches intervals off).
What is resampled is the *unit* that is independent: rows that share a group label (the cells of
one field of view or well, or a translated image and the source it came from) are drawn together,
so cells of one field do not count as independent evidence; with fewer than 5 units in a sample
there is no interval. BCa corrects the bootstrap's own bias
from the share of resamples below the estimate; where that correction is undefined (every
resample on one side of the estimate, as for a distance between two near-identical sets, which
duplicated images inflate) the interval falls back to the plain percentile interval, and where
too few resamples give a finite value, there is no interval.

A statistic that is a U-statistic (a sum over pairs of distinct rows, as `effect`'s unbiased
inner products) must not pair a row with its own copy: a resample draws a unit several times,
and those copies carry its own noise exactly as the diagonal i = j does. Such a statistic is
marked with `takes_origins`; it then receives, per sample, the original row index of every
resampled row, and leaves out the pairs of one origin (without them a resample of 16 cells in
300 features adds about 300/16 to every squared norm, and the interval missed its own estimate).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from phenbench.core.metric import MetricValue
from phenbench.core.torch_compat import ensure_torchvision_importable

CI_LEVEL = 0.95
MIN_RESAMPLES = 200
# A bootstrap over fewer independent units than this bounds nothing: 3 fields of view give 10
# distinct resamples, and the interval is far too narrow. Below it a value has no interval.
MIN_UNITS = 5


def gaussian_statistics(features: np.ndarray) -> dict[str, np.ndarray]:
    """Mean and covariance (float64) of N x D features, as torch-fidelity stores them."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"need at least 2 feature vectors (N x D), got shape {features.shape}")
    return {"mu": features.mean(axis=0), "sigma": np.atleast_2d(np.cov(features, rowvar=False))}


def frechet_distance(stats_1: dict[str, np.ndarray], stats_2: dict[str, np.ndarray]) -> float:
    """The Fréchet distance between two Gaussians, by torch-fidelity's formula."""
    ensure_torchvision_importable()
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_statistics_to_metric

    def as64(stats: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"mu": np.asarray(stats["mu"], np.float64), "sigma": np.asarray(stats["sigma"], np.float64)}

    return float(fid_statistics_to_metric(as64(stats_1), as64(stats_2), verbose=False)[KEY_METRIC_FID])


def frechet_distance_of_features(features_1: np.ndarray, features_2: np.ndarray) -> float:
    """The Fréchet distance between the Gaussians fitted to two feature sets (N x D each).

    With fewer images than features on both sides (per-condition FID: hundreds of cells, 2048
    Inception features) the covariances have rank < N, and the trace of sqrt(S1 S2) equals the sum
    of the singular values of A B^T / sqrt((n1 - 1)(n2 - 1)), with A and B the centred features:
    an n1 x n2 problem instead of a D x D eigen-decomposition (seconds instead of minutes on a
    CPU). It is the same quantity; tests check it against torch-fidelity's formula, used otherwise.
    """
    a = np.asarray(features_1, dtype=np.float64)
    b = np.asarray(features_2, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or len(a) < 2 or len(b) < 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"need two N x D feature sets with N >= 2, got {a.shape} and {b.shape}")
    if len(a) >= a.shape[1] or len(b) >= b.shape[1]:
        return frechet_distance(gaussian_statistics(a), gaussian_statistics(b))
    centred_a, centred_b = a - a.mean(axis=0), b - b.mean(axis=0)
    scale = (len(a) - 1) * (len(b) - 1)
    trace_sqrt = np.linalg.svd(centred_a @ centred_b.T, compute_uv=False).sum() / np.sqrt(scale)
    mean_term = float(np.sum((a.mean(axis=0) - b.mean(axis=0)) ** 2))
    traces = np.sum(centred_a**2) / (len(a) - 1) + np.sum(centred_b**2) / (len(b) - 1)
    return float(mean_term + traces - 2.0 * trace_sqrt)


def check_resamples(n_boot: int) -> None:
    """0 (no interval) or at least MIN_RESAMPLES: fewer resamples give unstable 2.5% quantiles."""
    if n_boot != 0 and not (isinstance(n_boot, int) and n_boot >= MIN_RESAMPLES):
        raise ValueError(f"bootstrap must be 0 (no interval) or at least {MIN_RESAMPLES} resamples, got {n_boot!r}")


def resampling_units(n: int, groups: np.ndarray | None) -> list[np.ndarray]:
    """Row indices of each resampling unit: the rows sharing a label of `groups`, or each row alone."""
    if groups is None:
        return [np.array([i]) for i in range(n)]
    groups = np.asarray(groups)
    if len(groups) != n:
        raise ValueError(f"{len(groups)} group labels for {n} rows")
    _, inverse = np.unique(groups, return_inverse=True)
    return [np.flatnonzero(inverse == k) for k in range(inverse.max() + 1)] if n else []


def takes_origins(statistic: Callable[..., float]) -> Callable[..., float]:
    """Mark a statistic that takes `origins=`: per sample, the original row index of each row."""
    statistic.takes_origins = True  # type: ignore[attr-defined]
    return statistic


class Interval(NamedTuple):
    """A bootstrap interval; where one was asked for and there is none, `missing` says why."""

    low: float | None
    high: float | None
    missing: str | None = None


def bootstrap_ci(
    statistic: Callable[..., float],
    samples: Sequence[np.ndarray],
    *,
    n_boot: int,
    seed: int,
    groups: Sequence[np.ndarray | None] | None = None,
    level: float = CI_LEVEL,
    bounds: tuple[float, float] | None = None,
) -> Interval:
    """BCa interval of `statistic(*samples)` (scipy), resampling each sample's units independently.

    `groups[i]` labels the rows of `samples[i]` (None: every row is its own unit). No interval when
    `n_boot` is 0 (none asked for: no reason either), or, with the reason, when a sample has fewer
    than MIN_UNITS units or too few resamples are finite.
    """
    if n_boot <= 0:
        return Interval(None, None)
    groups = list(groups) if groups is not None else [None] * len(samples)
    units = [resampling_units(len(s), g) for s, g in zip(samples, groups)]
    fewest = min((len(u) for u in units), default=0)
    if fewest < MIN_UNITS:
        return Interval(None, None, f"no interval: a sample has {fewest} independent units (images, or fields "
                                    f"where cells share one), fewer than the {MIN_UNITS} a bootstrap needs")

    wants_origins = getattr(statistic, "takes_origins", False)

    def on_units(*chosen: np.ndarray) -> float:
        rows = [np.concatenate([u[j] for j in ids]) for u, ids in zip(units, chosen)]
        try:
            resampled = [s[r] for s, r in zip(samples, rows)]
            return float(statistic(*resampled, origins=rows) if wants_origins else statistic(*resampled))
        except (ValueError, ZeroDivisionError, np.linalg.LinAlgError, FloatingPointError):
            return float("nan")

    from scipy.stats import bootstrap

    data = [np.arange(len(u)) for u in units]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # a degenerate BCa warns; we fall back to percentiles below
        result = bootstrap(data, on_units, n_resamples=n_boot, method="BCa", paired=False, vectorized=False,
                           confidence_level=level, rng=np.random.default_rng(seed))
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    if not (np.isfinite(low) and np.isfinite(high)):
        values = np.asarray(result.bootstrap_distribution, dtype=float)
        values = values[np.isfinite(values)]
        if len(values) < 0.9 * n_boot:
            return Interval(None, None, f"no interval: {n_boot - len(values)} of {n_boot} bootstrap resamples "
                                        "have no finite value (more than 10%)")
        alpha = (1.0 - level) / 2.0
        low, high = (float(q) for q in np.quantile(values, [alpha, 1.0 - alpha]))
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return Interval(low, high)


def value_with_ci(
    statistic: Callable[..., float],
    samples: Sequence[np.ndarray],
    *,
    n_boot: int,
    seed: int,
    n: int | None = None,
    groups: Sequence[np.ndarray | None] | None = None,
    bounds: tuple[float, float] | None = None,
) -> MetricValue:
    """`statistic(*samples)` with its bootstrap interval, as a MetricValue (missing if not finite)."""
    n = int(min(len(s) for s in samples)) if n is None else n
    try:
        value = float(statistic(*samples))
    except (ValueError, np.linalg.LinAlgError) as exc:
        return MetricValue.absent(f"cannot be computed: {exc}", n=n)
    if not np.isfinite(value):
        return MetricValue(value=value, n=n)  # MetricValue records it as missing, with the value
    interval = bootstrap_ci(statistic, samples, n_boot=n_boot, seed=seed, groups=groups, bounds=bounds)
    return MetricValue(value=value, n=n, ci_low=interval.low, ci_high=interval.high, ci_missing=interval.missing)


def standardiser(reference: np.ndarray, min_std: float = 1e-8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, std and a keep-mask of features with variance in `reference` (N x D)."""
    reference = np.asarray(reference, dtype=np.float64)
    mean = np.nanmean(reference, axis=0)
    std = np.nanstd(reference, axis=0)
    keep = np.isfinite(std) & (std > min_std) & np.isfinite(mean)
    return mean, np.where(keep, std, 1.0), keep
