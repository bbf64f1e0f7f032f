"""Shared statistics: the Fréchet distance, bootstrap confidence intervals, standardisation.

The Fréchet distance is torch-fidelity's own (`fid_statistics_to_metric`), so FID and the
CellProfiler-space distance use the same, well-tested formula.

Bootstrap intervals resample the images of each sample with replacement (independently, seeded by
the run's seed) and take the 2.5% and 97.5% quantiles of the statistic, re-centred on the estimate:
the bootstrap bias (mean of the resamples minus the estimate) is subtracted. Without that, a
distance such as FID, which duplicates inflate, gets an interval that lies wholly above its own
value; for unbiased statistics (means, shares) the shift is close to zero and the interval is the
plain percentile interval.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from phenbench.core.metric import MetricValue
from phenbench.core.torch_compat import ensure_torchvision_importable

CI_LEVEL = 0.95


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


def bootstrap_ci(
    statistic: Callable[..., float],
    samples: Sequence[np.ndarray],
    *,
    n_boot: int,
    seed: int,
    level: float = CI_LEVEL,
    bounds: tuple[float, float] | None = None,
) -> tuple[float | None, float | None]:
    """Percentile interval of `statistic(*resampled)`, each sample resampled along axis 0.

    Returns (None, None) when `n_boot` is 0 or too few resamples give a finite value.
    """
    if n_boot <= 0:
        return None, None
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot):
        resampled = [s[rng.integers(0, len(s), len(s))] for s in samples]
        try:
            value = float(statistic(*resampled))
        except (ValueError, np.linalg.LinAlgError, FloatingPointError):
            continue
        if np.isfinite(value):
            values.append(value)
    if len(values) < max(2, n_boot // 2):
        return None, None
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    estimate = float(statistic(*samples))
    bias = float(np.mean(values)) - estimate
    low, high = float(low - bias), float(high - bias)
    if bounds is not None:  # the bias shift must not carry a bound outside the statistic's range
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return low, high


def value_with_ci(
    statistic: Callable[..., float],
    samples: Sequence[np.ndarray],
    *,
    n_boot: int,
    seed: int,
    n: int | None = None,
    bounds: tuple[float, float] | None = None,
) -> MetricValue:
    """`statistic(*samples)` with its bootstrap interval, as a MetricValue (missing if not finite)."""
    n = int(min(len(s) for s in samples)) if n is None else n
    try:
        value = float(statistic(*samples))
    except (ValueError, np.linalg.LinAlgError) as exc:
        return MetricValue.absent(f"cannot be computed: {exc}", n=n)
    low, high = bootstrap_ci(statistic, samples, n_boot=n_boot, seed=seed, bounds=bounds)
    return MetricValue(value=value, n=n, ci_low=low, ci_high=high)


def standardiser(reference: np.ndarray, min_std: float = 1e-8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, std and a keep-mask of features with variance in `reference` (N x D)."""
    reference = np.asarray(reference, dtype=np.float64)
    mean = np.nanmean(reference, axis=0)
    std = np.nanstd(reference, axis=0)
    keep = np.isfinite(std) & (std > min_std) & np.isfinite(mean)
    return mean, np.where(keep, std, 1.0), keep
