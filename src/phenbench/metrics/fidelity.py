"""`fid` and `kid`: torch-fidelity's FID and KID per target condition and pooled.

Per target condition, translated images are compared with real test images of that condition, at
matched N: the real images (at most `max_images`) are split into halves A and B; the method is
scored as h translated images against B and the real-vs-real floor as A against B, with
h = min(|A|, #translated) on every side. A Fréchet distance is biased upward at small n; both rows
carry the same bias, and N = h is reported with every value. Intervals: BCa bootstrap over source
images (statistics.py). Pooled values (all conditions' images together) exist only when every
condition was scored. KID uses subsets of at most h/2 images, so that its subsets differ; their
spread is kept in `arrays["std/<condition>"]`, not as a measure (it is not a quality to rank).
Features of real images are cached on disk (see `cache.py`). When the Inception weights cannot be
found, every value is missing with the reason. With `aggregates` (or a `protocol` preset) both
also report the field's protocol aggregates, `fid/overall` and `fid/per-class-mean` (and KID's):
see `fidelity_protocol.py`.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from phenbench.core.metric import Evaluation, MetricResult, MetricValue, Need
from phenbench.core.sharding import Shard
from phenbench.core.torch_compat import ensure_torchvision_importable
from phenbench.metrics.base import (
    BootstrapOptions, OptionedMetric, bundles_in_order, condition_seed, matched_halves, unscored,
)
from phenbench.core.errors import ConfigError, UnknownNameError
from phenbench.metrics.cache import FeatureCache
from phenbench.metrics.fidelity_protocol import aggregates, protocol_features
from phenbench.metrics.inception_features import (
    INCEPTION,
    ExtractorSpec,
    WeightsUnavailable,
    build_extractor,
    extract_features,
    real_features,
)
from phenbench.metrics.sharded_features import every_process_can
from phenbench.metrics.statistics import bootstrap_ci, frechet_distance_of_features, takes_origins, value_with_ci

MEMO_KEY = "phenbench.metrics.fidelity"
PairStatistic = Callable[[np.ndarray, np.ndarray], float]
# The sample sizes of a protocol, as a preset of the options (an option given explicitly wins).
PROTOCOL_SIZES: dict[str, dict[str, object]] = {
    # CellFlux's eval_fid.py: 5,120 images overall (scripts/eval_fid.sh), KID subsets of 100.
    "impa-bbbc021": {"aggregates": True, "overall_images": 5120, "kid_subset_size": 100},
    # PhenDiff's Table 1: one FID per concentration (1,000 translated DMSO cells each).
    "phendiff-paper": {"aggregates": True},
}


@dataclass(frozen=True)
class FidelityOptions(BootstrapOptions):
    """Options of `fid` and `kid`."""

    weights_path: str | None = None  # a local copy of torch-fidelity's Inception weights
    feature_extractor: str = INCEPTION  # any torch-fidelity extractor name
    feature_layer: str | None = None
    allow_download: bool = True
    max_images: int | None = None  # cap on the real images used (split into halves A and B)
    kid_subsets: int = 100
    kid_subset_size: int = 1000  # capped at h/2 (h: the images per side)
    batch_size: int = 64
    device: str | None = None  # None: the run's device (evaluation.options["device"]), else cpu
    cache: bool = True
    # The field's protocol aggregates (fidelity_protocol.py): overall and per-class-mean values.
    aggregates: bool = False
    overall_images: int | None = None  # cap on the images per side of the overall value
    per_class_images: int | None = None  # cap on N per class (the same for every method)
    protocol: str | None = None  # a preset of the sizes above: impa-bbbc021, phendiff-paper

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.protocol is not None:
            if self.protocol not in PROTOCOL_SIZES:
                raise UnknownNameError("protocol of the fid/kid options", self.protocol, PROTOCOL_SIZES)
            defaults = {f.name: f.default for f in dataclasses.fields(self)}
            for key, value in PROTOCOL_SIZES[self.protocol].items():
                if getattr(self, key) == defaults[key]:
                    object.__setattr__(self, key, value)
        for key in ("overall_images", "per_class_images"):
            if getattr(self, key) is not None and getattr(self, key) < 2:
                raise ConfigError(f"{key} must be at least 2, got {getattr(self, key)}.")

    def extractor(self, run_device: str | None = None) -> ExtractorSpec:
        return ExtractorSpec(
            name=self.feature_extractor, layer=self.feature_layer, weights_path=self.weights_path,
            allow_download=self.allow_download, batch_size=self.batch_size,
            device=str(self.device or run_device or "cpu"),
        )


@dataclass
class _Features:
    """Features of one condition at matched N: h translated images, real halves A and B."""

    translated: np.ndarray
    half_a: np.ndarray
    half_b: np.ndarray
    translated_units: np.ndarray
    b_units: np.ndarray


class _FidelityMetric(OptionedMetric):
    needs = frozenset({Need.REAL, Need.TRANSLATED})
    Options = FidelityOptions
    CI_BOUNDS: tuple[float, float] | None = None  # the range the interval is clipped to

    def prepare(self, evaluation: Evaluation, shard: Shard) -> None:
        """Every process extracts its share of the deep features `compute` will read (memoised),
        when every process can build the extractor; else rank 0's `compute` extracts alone."""
        options: FidelityOptions = self.options
        spec = options.extractor(evaluation.options.get("device"))
        if not every_process_can(lambda: build_extractor(spec), shard):
            return
        self._features(evaluation, shard)
        if options.aggregates:
            protocol_features(evaluation, spec, options.per_class_images, FeatureCache(enabled=options.cache), shard)

    def _features(self, evaluation: Evaluation, shard: Shard = Shard()) -> dict[str, _Features] | str:
        """Per-condition features, memoised on the Evaluation so fid and kid extract once; or a reason.
        Under several processes (`shard`), each extracts its share of the batches."""
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
                if bundle.real is None or len(bundle.real) < 4 or len(bundle.translated) < 2:
                    continue
                n_real = min(len(bundle.real), options.max_images or len(bundle.real))
                t_rows, a_rows, b_rows = matched_halves(len(bundle.translated), n_real,
                                                        condition_seed(evaluation, bundle.target, "fidelity"))
                real_rows = np.concatenate([a_rows, b_rows])
                real = real_features(bundle.real[torch.from_numpy(real_rows)], spec, cache, shard=shard,
                                     dataset_hash=evaluation.dataset_hash, split="test", condition=bundle.target)
                real_units = _units(bundle.real_units, real_rows, bundle.target)
                result[bundle.target] = _Features(
                    translated=extract_features(bundle.translated[torch.from_numpy(t_rows)], spec, shard),
                    half_a=real[: len(a_rows)], half_b=real[len(a_rows) :],
                    translated_units=_units(bundle.source_units, t_rows, "source"),
                    b_units=real_units[len(a_rows) :],
                )
        except WeightsUnavailable as exc:
            result = str(exc)
        memo[key] = result
        return result

    def _score(
        self, evaluation: Evaluation, statistic: PairStatistic, name: str, *, ci_statistic: PairStatistic | None = None,
    ) -> MetricResult:
        """`statistic` per condition, floor and pooled; the interval from `ci_statistic` (default: the same)."""
        features = self._features(evaluation)
        targets = list(evaluation.bundles)
        if isinstance(features, str):
            missing = {t: MetricValue.absent(features) for t in targets}
            return MetricResult(name, False, missing, MetricValue.absent(features), floor=dict(missing))
        per_condition: dict[str, MetricValue] = {}
        floor: dict[str, MetricValue] = {}
        for target in targets:
            if target not in features:
                reason = "needs at least 4 real and 2 translated images of this condition"
                per_condition[target] = floor[target] = MetricValue.absent(reason)
                continue
            f = features[target]
            per_condition[target] = self._with_interval(
                statistic, ci_statistic, f.translated, f.half_b, f.translated_units, f.b_units,
                condition_seed(evaluation, target, self.name))
            floor[target] = value_with_ci(statistic, [f.half_a, f.half_b], n_boot=0, seed=0)
        pooled = unscored(per_condition)
        if pooled is None:
            every = list(features.values())
            translated, half_b = np.concatenate([f.translated for f in every]), np.concatenate([f.half_b for f in every])
            pooled = self._with_interval(
                statistic, ci_statistic, translated, half_b, np.concatenate([f.translated_units for f in every]),
                np.concatenate([f.b_units for f in every]), condition_seed(evaluation, "pooled", self.name))
            floor["pooled"] = value_with_ci(statistic, [np.concatenate([f.half_a for f in every]), half_b],
                                            n_boot=0, seed=0)
        return MetricResult(name, False, per_condition, pooled, floor=floor)

    def _aggregates(self, evaluation: Evaluation, statistic: PairStatistic) -> list[MetricResult]:
        """The protocol aggregates, where asked for (`aggregates` option or a protocol preset)."""
        options: FidelityOptions = self.options
        if not options.aggregates:
            return []
        spec = options.extractor(evaluation.options.get("device"))
        features = protocol_features(evaluation, spec, options.per_class_images, FeatureCache(enabled=options.cache))
        return aggregates(evaluation, features, statistic, self.name, options.overall_images)

    def _with_interval(self, statistic, ci_statistic, translated, real, translated_units, real_units,
                       seed: int) -> MetricValue:
        value = value_with_ci(statistic, [translated, real], n_boot=0, seed=seed)
        if value.value is not None and self.options.bootstrap > 0:
            value.ci_low, value.ci_high, value.ci_missing = bootstrap_ci(
                ci_statistic or statistic, [translated, real], n_boot=self.options.bootstrap, seed=seed,
                groups=[translated_units, real_units], bounds=self.CI_BOUNDS)
        return value


def _units(labels: np.ndarray | None, rows: np.ndarray, prefix: str) -> np.ndarray:
    """The resampling units of the given rows: the bundle's labels, else each image its own."""
    if labels is not None:
        return np.asarray(labels)[rows]
    return np.array([f"{prefix}#{r}" for r in rows], dtype=object)


class FID(_FidelityMetric):
    """Fréchet Inception Distance (torch-fidelity), per target condition and pooled."""

    name = "fid"
    higher_is_better = False
    summary = "Fréchet Inception Distance (torch-fidelity) to the real images of each target condition."
    CI_BOUNDS = (0.0, float("inf"))  # a distance; KID (an unbiased estimate) can be negative

    def compute(self, evaluation: Evaluation) -> list[MetricResult]:
        return [self._score(evaluation, frechet_distance_of_features, "fid"),
                *self._aggregates(evaluation, frechet_distance_of_features)]


class KID(_FidelityMetric):
    """Kernel Inception Distance (torch-fidelity); the spread over its subsets goes to `arrays`."""

    name = "kid"
    higher_is_better = False
    summary = "Kernel Inception Distance (torch-fidelity), subsets of at most half the images per side."

    # Bootstrap resamples use this many subsets instead of `kid_subsets`: each KID costs
    # kid_subsets x 3 kernel matrices of up to 500 x 500 x 2048, minutes per resample on a CPU.
    BOOTSTRAP_SUBSETS = 10

    def subset_size(self, n: int) -> int:
        """At most n/2: with subsets of all n images, every subset is the whole sample and the
        spread over subsets is zero by construction."""
        return max(1, min(self.options.kid_subset_size, n // 2))

    def _kid(self, features_1: np.ndarray, features_2: np.ndarray, subsets: int | None = None,
             subset_size: int | None = None) -> dict[str, float]:
        from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

        subsets = subsets or self.options.kid_subsets
        size = subset_size or self.subset_size(min(len(features_1), len(features_2)))
        memo = self.__dict__.setdefault("_memo", {})
        key = (subsets, size, *(hashlib.sha1(f.tobytes()).hexdigest() for f in (features_1, features_2)))
        if key not in memo:  # the mean and the std come from one computation
            out = kid_features_to_metric(
                torch.from_numpy(features_1), torch.from_numpy(features_2),
                kid_subsets=subsets, kid_subset_size=size, verbose=False,
            )  # torch-fidelity's default rng_seed (2020): the same subsets as its own calculate_metrics
            memo[key] = {"mean": out[KEY_METRIC_KID_MEAN], "std": out[KEY_METRIC_KID_STD]}
        return memo[key]

    @takes_origins
    def resampled_kid(self, features_1: np.ndarray, features_2: np.ndarray, origins: list[np.ndarray]) -> float:
        """KID of a bootstrap resample, on one copy of each image it drew, at the subset size of the
        resample with its copies (the full sample's when each image is its own unit).

        KID is an unbiased MMD over subsets drawn without replacement; a subset holding two copies
        of one image adds k(x, x) to its within-set term. Two sets of 200 Gaussian features (64-D)
        from one distribution, KID -0.0002 (10 subsets of 100), 100 resamples: on copies, 95% of
        them in 0.050 to 0.093 and none below the estimate; on one copy each, -0.010 to 0.013, as
        100 fresh pairs of samples gave (-0.009 to 0.013).
        """
        size = self.subset_size(min(len(features_1), len(features_2)))
        once = [f[np.unique(o, return_index=True)[1]] for f, o in zip((features_1, features_2), origins)]
        subsets = min(self.BOOTSTRAP_SUBSETS, self.options.kid_subsets)
        return self._kid(*once, subsets, min(size, len(once[0]), len(once[1])))["mean"]

    def compute(self, evaluation: Evaluation) -> list[MetricResult]:
        self._memo: dict[tuple, dict[str, float]] = {}
        result = self._score(evaluation, lambda a, b: self._kid(a, b)["mean"], "kid", ci_statistic=self.resampled_kid)
        features = self._features(evaluation)
        if not isinstance(features, str):
            for target, f in features.items():
                result.arrays[f"std/{target}"] = np.array([self._kid(f.translated, f.half_b)["std"]])
                result.arrays[f"subset_size/{target}"] = np.array([self.subset_size(len(f.translated))])
        return [result, *self._aggregates(evaluation, self.protocol_kid)]

    def protocol_kid(self, translated: np.ndarray, real: np.ndarray) -> float:
        """KID of one class (or of all) on these features alone, subsets of min(kid_subset_size, n)."""
        ensure_torchvision_importable()
        from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, kid_features_to_metric

        size = min(self.options.kid_subset_size, len(translated), len(real))
        return float(kid_features_to_metric(torch.from_numpy(translated), torch.from_numpy(real),
                                            kid_subsets=self.options.kid_subsets, kid_subset_size=size,
                                            verbose=False)[KEY_METRIC_KID_MEAN])
