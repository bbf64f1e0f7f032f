"""`effect`: does the translation move cells the way the real treatment does, and by how much?

In the standardised CellProfiler space, per target condition and per source condition g of its
translated images: the translated shift d_t = mean(translated from g) - mean(their sources) and
the real shift d_r = mean(real target) - mean(sources in g) (the sources are real test images of
g, so d_r is what the treatment really does to g's cells). Measures (N-weighted over sources):

- `effect/cosine`: cos(d_t, d_r); 1 = the right direction. Undefined (missing, with the reason)
  when the translation moves nothing, as for the identity translator.
- `effect/magnitude-ratio`: |d_t| / |d_r|; 1 = the right amount, 0 = no effect (identity).
  Its ideal is 1, not the largest value: read it with `effect/magnitude-error`.
- `effect/magnitude-error`: |ratio - 1|; 0 = the right amount, 1 = no effect, 4 = five times too
  far. This is the one to rank methods by (lower is better).
- `effect/counterfactual-error` (synthetic data with true counterfactuals only):
  |mean(translated) - mean(true counterfactual)| / |mean(true counterfactual) - mean(sources)|:
  0 = the true effect, 1 = no better than not translating.

Unbiased inner products. The squared norm of a difference of sample means over ~330 features
carries a sampling term tr(cov) (1/n1 + 1/n2) that is not zero when nothing moves (K features x
noise / n). Every |d|^2 and d_t . d_r here is estimated without it: mean_a . mean_b for
independent samples, and the U-statistic sum_{i != j} a_i . b_j / (n (n - 1)) for the same
sample or paired samples (a translation and its source); in a bootstrap resample, the pairs of
one unit's copies are left out too (`statistics.takes_origins`). An estimate of |d|^2 can come out
slightly negative when the true value is ~0: a ratio uses max(0, .), and a cosine is undefined
when either squared norm is not positive. Translated images and their sources are scored as
pairs (one subsample per bundle, `feature_space.py`), so the identity translator moves by
exactly 0 at any N. Pairs where the translated image has no plausible cell are not in these
measures: `segmentation-failures` counts them.

The real-vs-real floor replaces the translated cells by one half of the real target cells and the
real shift by the other half's: the agreement the data's own noise allows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from phenbench.core.metric import Evaluation, MetricResult, MetricValue, Need, pooled_mean
from phenbench.metrics.base import BootstrapOptions, OptionedMetric, bundles_in_order, condition_seed, split_halves
from phenbench.metrics.feature_space import CellFeatureMetric, CellFeatureSpace, CellSet, FeatureOptions
from phenbench.metrics.statistics import takes_origins, value_with_ci


@dataclass(frozen=True)
class EffectOptions(FeatureOptions, BootstrapOptions):
    """Options of `effect`."""


def mean_dot(a: np.ndarray, b: np.ndarray, *, paired: bool, origin: np.ndarray | None = None) -> float:
    """An unbiased estimate of mean(A) . mean(B) from samples a, b (N x K).

    Independent samples: the product of the sample means. The same sample, or paired rows (row i
    of a and of b from one unit): the mean of a_i . b_j over the pairs i != j, which drops the
    i = j terms that carry each unit's own noise. `origin` (a bootstrap resample: the original row
    of each row) drops the pairs of two copies of one row as well; copies are identical rows, so a
    row drawn c times takes c * a_i . b_i out of the sum, and there are N^2 - sum c^2 pairs left.
    """
    if not paired:
        return float(a.mean(0) @ b.mean(0))
    n = len(a)
    copies = np.ones(n)
    if origin is not None:
        _, inverse, counts = np.unique(origin, return_inverse=True, return_counts=True)
        copies = counts[inverse].astype(float)
    pairs = n * n - copies.sum()
    if pairs <= 0:
        return float("nan")
    return float((a.sum(0) @ b.sum(0) - copies @ np.einsum("ij,ij->i", a, b)) / pairs)


def shift_terms(translated: np.ndarray, sources: np.ndarray, real: np.ndarray, *, paired: bool,
                origins: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[float, float, float]:
    """Unbiased (|d_t|^2, d_t . d_r, |d_r|^2) with d_t = mean t - mean s, d_r = mean r - mean s.

    `paired`: row i of `translated` was made from row i of `sources`; else they are independent.
    `origins`: the original rows of a bootstrap resample, of the (paired) sources and of `real`.
    """
    of_sources, of_real = origins if origins is not None else (None, None)
    ss = mean_dot(sources, sources, paired=True, origin=of_sources)
    rs = mean_dot(real, sources, paired=False)
    rr = mean_dot(real, real, paired=True, origin=of_real) - 2 * rs + ss
    if paired:
        moved = translated - sources
        tt = mean_dot(moved, moved, paired=True, origin=of_sources)
        tr = mean_dot(moved, real, paired=False) - mean_dot(moved, sources, paired=True, origin=of_sources)
    else:
        ts = mean_dot(translated, sources, paired=False)
        tt = mean_dot(translated, translated, paired=True) - 2 * ts + ss
        tr = mean_dot(translated, real, paired=False) - ts - rs + ss
    return tt, tr, rr


def _split(pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    half = pairs.shape[1] // 2
    return pairs[:, :half], pairs[:, half:]


def cosine_of(tt: float, tr: float, rr: float) -> float:
    if not (tt > 0 and rr > 0):
        return float("nan")
    return float(np.clip(tr / np.sqrt(tt * rr), -1.0, 1.0))


def ratio_of(tt: float, tr: float, rr: float) -> float:
    return float(np.sqrt(max(tt, 0.0) / rr)) if rr > 0 else float("nan")


def error_of(tt: float, tr: float, rr: float) -> float:
    return abs(ratio_of(tt, tr, rr) - 1.0)


def on_pairs(of_terms: Callable[[float, float, float], float]) -> Callable[..., float]:
    """A statistic of (pairs, real): `pairs` holds translated and source features side by side (N x 2K)."""

    def statistic(pairs: np.ndarray, real: np.ndarray, origins: list[np.ndarray] | None = None) -> float:
        return of_terms(*shift_terms(*_split(pairs), real, paired=True,
                                     origins=tuple(origins) if origins is not None else None))

    return takes_origins(statistic)


cosine, magnitude_ratio, magnitude_error = on_pairs(cosine_of), on_pairs(ratio_of), on_pairs(error_of)


@takes_origins
def counterfactual_error(triples: np.ndarray, origins: list[np.ndarray] | None = None) -> float:
    """`triples`: translated, true counterfactual and source features side by side (N x 3K)."""
    k = triples.shape[1] // 3
    translated, counterfactual, sources = triples[:, :k], triples[:, k : 2 * k], triples[:, 2 * k :]
    wrong = translated - counterfactual
    true = counterfactual - sources
    origin = origins[0] if origins is not None else None
    denominator = mean_dot(true, true, paired=True, origin=origin)
    numerator = mean_dot(wrong, wrong, paired=True, origin=origin)
    return float(np.sqrt(max(numerator, 0.0) / denominator)) if denominator > 0 else float("nan")


MEASURES: dict[str, tuple[Callable[[float, float, float], float], bool]] = {
    "cosine": (cosine_of, True),
    "magnitude-ratio": (ratio_of, True),  # ideal 1 (IDEALS): tables mark the closest to 1
    "magnitude-error": (error_of, False),
}
UNITS = {"magnitude-error": "|ratio - 1|"}
IDEALS = {"magnitude-ratio": 1.0}


class Effect(CellFeatureMetric, OptionedMetric):
    name = "effect"
    feature_sets = ("translated", "counterfactuals")
    needs = frozenset({Need.REAL, Need.TRANSLATED, Need.SOURCE})
    higher_is_better = True
    summary = "Feature shift source -> translated against the real shift (cosine, magnitude ratio)."
    Options = EffectOptions

    def compute(self, evaluation: Evaluation) -> list[MetricResult]:
        space = CellFeatureSpace(evaluation, self.options)
        values: dict[str, dict[str, MetricValue]] = {m: {} for m in [*MEASURES, "counterfactual-error"]}
        floors: dict[str, dict[str, MetricValue]] = {m: {} for m in MEASURES}
        for bundle in bundles_in_order(evaluation):
            target = bundle.target
            real = space.real(target)
            translated, sources = space.translated(target), space.sources(target)
            groups = self._groups(translated, sources, space.source_conditions(target))
            seed = condition_seed(evaluation, target, self.name)
            if real is None or len(real) < 4 or not groups:
                for m in values:
                    values[m][target] = MetricValue.absent(
                        "needs 4+ real and 2+ translated images, and their sources, with a plausible cell")
                for m in floors:
                    floors[m][target] = MetricValue.absent("needs 4+ real images with a plausible cell")
                continue
            half_a, half_b = split_halves(len(real), seed)
            every_source = np.concatenate([_split(pairs)[1] for pairs, _, _ in groups])
            terms = shift_terms(real.x[half_a], every_source, real.x[half_b], paired=False)
            for m, (of_terms, _) in MEASURES.items():
                values[m][target] = self._weighted(on_pairs(of_terms), groups, real, seed, m)
                floors[m][target] = MetricValue(of_terms(*terms), n=len(half_a))
            values["counterfactual-error"][target] = self._counterfactual(space, target, translated, sources, seed)
        results = []
        for m, per_condition in values.items():
            higher = MEASURES[m][1] if m in MEASURES else False
            results.append(MetricResult(f"effect/{m}", higher, per_condition, pooled_mean(per_condition),
                                        floor=floors.get(m, {}), unit=UNITS.get(m, ""), ideal=IDEALS.get(m)))
        return results

    @staticmethod
    def _groups(translated: CellSet, sources: CellSet, source_conditions: np.ndarray) -> list[tuple]:
        """(pairs, units, count) per source condition: translated and source features side by side,
        for the pairs where both have a plausible cell; 2+ pairs each."""
        both = translated.measured & sources.measured
        t_x, s_x = translated.padded(), sources.padded()
        groups = []
        for source in dict.fromkeys(source_conditions):
            rows = both & (source_conditions == source)
            if rows.sum() >= 2:
                groups.append((np.concatenate([t_x[rows], s_x[rows]], axis=1), translated.units[rows], int(rows.sum())))
        return groups

    def _weighted(self, statistic, groups: list[tuple], real: CellSet, seed: int, what: str) -> MetricValue:
        boot = self.options.bootstrap if len(groups) == 1 else 0
        parts = [value_with_ci(statistic, [pairs, real.x], n_boot=boot, seed=seed, n=n,
                               groups=[units, real.measured_units]) for pairs, units, n in groups]
        if any(p.value is None for p in parts):
            reason = "the translated images do not move in feature space (no direction)" if what == "cosine" \
                else "the real images do not differ from the sources"
            return MetricValue.absent(reason, n=sum(n for _, _, n in groups))
        if len(parts) == 1:
            return parts[0]
        pooled = pooled_mean({str(i): p for i, p in enumerate(parts)})
        if self.options.bootstrap and pooled.value is not None:
            pooled.ci_missing = "no interval: a weighted mean over pairs from several source conditions"
        return pooled

    def _counterfactual(self, space: CellFeatureSpace, target: str, translated: CellSet, sources: CellSet,
                        seed: int) -> MetricValue:
        counterfactuals = space.counterfactuals(target)
        if counterfactuals is None:
            return MetricValue.absent("the dataset has no true counterfactuals (synthetic worlds only)")
        every = translated.measured & counterfactuals.measured & sources.measured
        if every.sum() < 2:
            return MetricValue.absent("needs 2+ translated images whose counterfactual and source have a plausible cell")
        columns = [cells.padded()[every] for cells in (translated, counterfactuals, sources)]
        return value_with_ci(counterfactual_error, [np.concatenate(columns, axis=1)], n_boot=self.options.bootstrap,
                             seed=seed, groups=[translated.units[every]])
