"""`fid` and `kid`: torch-fidelity's FID and KID per target condition and pooled.

Per target condition, the translated images are compared with the real test images of that
condition. Sample sizes are matched: both sides use n = min(#translated, #real, max_images) images
(a seeded subsample), and n is reported with every value, so methods scored on the same test split
are scored on the same n. The real-vs-real floor is the same measure between two halves of the real
images (n/2 each; FID is biased upward at small n, so the floor is a conservative upper reference).
Features of real images are cached on disk (see `cache.py`). When the Inception weights cannot be
found, every value is missing with the reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from phenbench.core.metric import Evaluation, MetricResult, MetricValue, Need
from phenbench.metrics.base import OptionedMetric, bundles_in_order, condition_seed, split_halves
from phenbench.metrics.cache import FeatureCache
from phenbench.metrics.inception_features import (
    INCEPTION,
    ExtractorSpec,
    WeightsUnavailable,
    extract_features,
    real_features,
)
from phenbench.metrics.statistics import bootstrap_ci, frechet_distance_of_features, value_with_ci

MEMO_KEY = "phenbench.metrics.fidelity"
PairStatistic = Callable[[np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class FidelityOptions:
    """Options of `fid` and `kid`."""

    weights_path: str | None = None  # a local copy of torch-fidelity's Inception weights
    feature_extractor: str = INCEPTION  # any torch-fidelity extractor name
    feature_layer: str | None = None
    allow_download: bool = True
    max_images: int | None = None  # cap on n per side (matched across methods)
    bootstrap: int = 10  # resamples for the 95% interval (each costs one FD/KID evaluation)
    kid_subsets: int = 100
    kid_subset_size: int = 1000  # capped at n
    batch_size: int = 64
    device: str | None = None  # None: the run's device (evaluation.options["device"]), else cpu
    cache: bool = True

    def extractor(self, run_device: str | None = None) -> ExtractorSpec:
        return ExtractorSpec(
            name=self.feature_extractor, layer=self.feature_layer, weights_path=self.weights_path,
            allow_download=self.allow_download, batch_size=self.batch_size,
            device=str(self.device or run_device or "cpu"),
        )


@dataclass
class _Features:
    translated: np.ndarray
    real: np.ndarray


def matched_subsample(images: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    if len(images) <= n:
        return images
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    return images[order[:n].sort().values]


class _FidelityMetric(OptionedMetric):
    needs = frozenset({Need.REAL, Need.TRANSLATED})
    Options = FidelityOptions
    CI_BOUNDS: tuple[float, float] | None = None  # the range the interval is clipped to

    def _features(self, evaluation: Evaluation) -> dict[str, _Features] | str:
        """Per-condition features, memoised on the Evaluation so fid and kid extract once; or a reason."""
        options: FidelityOptions = self.options
        memo = evaluation.options.setdefault(MEMO_KEY, {})
        spec = options.extractor(evaluation.options.get("device"))
        key = spec, options.max_images
        if key in memo:
            return memo[key]
        cache = FeatureCache(enabled=options.cache)
        result: dict[str, _Features] | str = {}
        try:
            for bundle in bundles_in_order(evaluation):
                if bundle.real is None or len(bundle.real) < 2 or len(bundle.translated) < 2:
                    continue
                n = min(len(bundle.real), len(bundle.translated), options.max_images or len(bundle.real))
                real = matched_subsample(bundle.real, n, condition_seed(evaluation, bundle.target, "real"))
                translated = matched_subsample(bundle.translated, n, condition_seed(evaluation, bundle.target, "fake"))
                result[bundle.target] = _Features(
                    translated=extract_features(translated, spec),
                    real=real_features(real, spec, cache, dataset_hash=evaluation.dataset_hash, split="test",
                                       condition=bundle.target),
                )
        except WeightsUnavailable as exc:
            result = str(exc)
        memo[key] = result
        return result

    def _score(
        self, evaluation: Evaluation, statistic: PairStatistic, name: str, *,
        n_boot: int | None = None, ci_statistic: PairStatistic | None = None,
    ) -> list[MetricResult]:
        """`statistic` per condition, floor and pooled; the interval from `ci_statistic` (default: the same)."""
        n_boot = self.options.bootstrap if n_boot is None else n_boot
        features = self._features(evaluation)
        targets = list(evaluation.bundles)
        if isinstance(features, str):
            missing = {t: MetricValue.absent(features) for t in targets}
            return [MetricResult(name, False, missing, MetricValue.absent(features), floor=dict(missing))]
        per_condition: dict[str, MetricValue] = {}
        floor: dict[str, MetricValue] = {}
        for target in targets:
            if target not in features:
                reason = "needs at least 2 real and 2 translated images of this condition"
                per_condition[target] = floor[target] = MetricValue.absent(reason)
                continue
            f = features[target]
            seed = condition_seed(evaluation, target, self.name)
            value = value_with_ci(statistic, [f.translated, f.real], n_boot=0, seed=seed)
            if value.value is not None and n_boot > 0:
                value.ci_low, value.ci_high = bootstrap_ci(
                    ci_statistic or statistic, [f.translated, f.real],
                    n_boot=n_boot, seed=seed, bounds=self.CI_BOUNDS,
                )
            per_condition[target] = value
            half_a, half_b = split_halves(torch.from_numpy(f.real), seed)
            floor[target] = value_with_ci(statistic, [half_a.numpy(), half_b.numpy()], n_boot=0, seed=seed)
        if features:
            all_translated = np.concatenate([f.translated for f in features.values()])
            all_real = np.concatenate([f.real for f in features.values()])
            pooled = value_with_ci(statistic, [all_translated, all_real], n_boot=0, seed=evaluation.seed)
        else:
            pooled = MetricValue.absent("no condition had enough images")
        return [MetricResult(name, False, per_condition, pooled, floor=floor)]


class FID(_FidelityMetric):
    """Fréchet Inception Distance (torch-fidelity), per target condition and pooled."""

    name = "fid"
    higher_is_better = False
    summary = "Fréchet Inception Distance (torch-fidelity) to the real images of each target condition."
    CI_BOUNDS = (0.0, float("inf"))  # a distance; KID (an unbiased estimate) can be negative

    def compute(self, evaluation: Evaluation) -> list[MetricResult]:
        return self._score(evaluation, frechet_distance_of_features, "fid")


class KID(_FidelityMetric):
    """Kernel Inception Distance (torch-fidelity), with the std over its subsets."""

    name = "kid"
    higher_is_better = False
    summary = "Kernel Inception Distance (torch-fidelity), mean and std over subsets."

    # Bootstrap resamples use this many subsets instead of `kid_subsets`: each KID costs
    # kid_subsets x 3 kernel matrices of up to 1000 x 1000 x 2048, minutes per resample on a CPU.
    BOOTSTRAP_SUBSETS = 10

    def _kid(self, features_1: np.ndarray, features_2: np.ndarray, subsets: int | None = None) -> dict[str, float]:
        from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

        subsets = subsets or self.options.kid_subsets
        key = (subsets, hashlib.sha1(features_1.tobytes()).hexdigest(), hashlib.sha1(features_2.tobytes()).hexdigest())
        if key not in self._memo:  # the mean and the std come from one computation
            size = min(self.options.kid_subset_size, len(features_1), len(features_2))
            out = kid_features_to_metric(
                torch.from_numpy(features_1), torch.from_numpy(features_2),
                kid_subsets=subsets, kid_subset_size=size, verbose=False,
            )  # torch-fidelity's default rng_seed (2020): the same subsets as its own calculate_metrics
            self._memo[key] = {"mean": out[KEY_METRIC_KID_MEAN], "std": out[KEY_METRIC_KID_STD]}
        return self._memo[key]

    def compute(self, evaluation: Evaluation) -> list[MetricResult]:
        self._memo: dict[tuple, dict[str, float]] = {}
        [mean] = self._score(
            evaluation, lambda a, b: self._kid(a, b)["mean"], "kid",
            ci_statistic=lambda a, b: self._kid(a, b, min(self.BOOTSTRAP_SUBSETS, self.options.kid_subsets))["mean"],
        )
        [std] = self._score(evaluation, lambda a, b: self._kid(a, b)["std"], "kid/std", n_boot=0)
        std.floor = {}  # the spread over subsets; its floor would not mean anything
        return [mean, std]
