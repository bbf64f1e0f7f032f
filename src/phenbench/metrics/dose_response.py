"""`dose-response`: do translated cells respond to concentration the way real cells do?

Per compound with 2+ concentrations among the targets, in the standardised CellProfiler space:

1. The most responsive features: the `top_features` features with the largest |Spearman rho|
   between concentration and feature value over the real cells of the dosed conditions.
2. `dose-response/spearman-real`: mean |rho| of those features in real cells (the reference).
   `dose-response/spearman-translated`: mean of sign(rho_real) * rho_translated over the same
   features, with the translated cells of each dose: 1 = the same strong monotone response,
   0 = none (identity), negative = the wrong direction. Only dosed levels enter rho: with the
   control at concentration 0 in the series, a translator that ignores the dose (every dose
   made to look like the same treated cell) would be credited for the control-vs-treated step.
3. `dose-response/lowest-dose-real` and `-translated`: the lowest concentration at which cells
   differ from the control (the real source cells of the control condition) in any of those
   features (two-sided Mann-Whitney U, p < 0.05 with a Bonferroni correction over features and
   doses). Every group (control, each real and each translated dose) is first subsampled to the
   same N, the smallest group's: a test's power grows with N, so unequal groups would find a
   lower dose where there are more cells, not where the effect is. Missing when no dose differs.

The translated cells of every dose are subsampled at the same positions (one subsample per
bundle), so an identity translator's levels are identical and its rho is exactly 0 at any N. The
real-vs-real floor selects features on one half of the real cells and scores the other half as
if it were translated. Pooled spearman values exist only when every compound was scored.
Per-dose means of the top features (real and translated) go to `arrays` for dose-response plots.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import mannwhitneyu, rankdata

from phenbench.core.metric import Evaluation, MetricResult, MetricValue, Need
from phenbench.metrics.base import BootstrapOptions, OptionedMetric, condition_seed, split_halves
from phenbench.metrics.feature_space import CellFeatureMetric, CellFeatureSpace, CellSet, FeatureOptions
from phenbench.metrics.statistics import value_with_ci

ALPHA = 0.05


@dataclass(frozen=True)
class DoseResponseOptions(FeatureOptions, BootstrapOptions):
    """Options of `dose-response`."""

    top_features: int = 10


def spearman_per_feature(concentrations: np.ndarray, features: np.ndarray) -> np.ndarray:
    """Spearman rho of every column of `features` (N x K) with `concentrations` (N); NaN if constant."""
    x = rankdata(concentrations)
    y = rankdata(features, axis=0)
    x, y = x - x.mean(), y - y.mean(axis=0)
    denominator = np.sqrt((x**2).sum() * (y**2).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (x @ y) / denominator, np.nan)


def _stack(levels: list[np.ndarray], doses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([np.full(len(f), d) for f, d in zip(levels, doses)]), np.concatenate(levels)


def select_features(levels: list[np.ndarray], doses: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the k features with the largest |rho| in `levels` (one per dose), and all rho."""
    rho = spearman_per_feature(*_stack(levels, doses))
    order = np.argsort(-np.nan_to_num(np.abs(rho), nan=-1.0))
    return order[:k], rho


def aligned_response(
    levels: list[np.ndarray], doses: np.ndarray, features: np.ndarray, signs: np.ndarray, *, absolute: bool = False
) -> float:
    """Mean of sign x rho over `features` (or of |rho| with `absolute`); NaN if no rho is defined."""
    rho = spearman_per_feature(*_stack([lv[:, features] for lv in levels], doses))
    rho = np.abs(rho) if absolute else rho * signs
    return float(np.nanmean(rho)) if np.isfinite(rho).any() else float("nan")


def lowest_effective_dose(
    control: np.ndarray, levels: list[np.ndarray], doses: np.ndarray, features: np.ndarray
) -> float | None:
    """The lowest dose where any selected feature differs from the control (groups of equal N)."""
    tests = len(features) * len(levels)
    for features_at_dose, dose in zip(levels, doses):
        if min(len(features_at_dose), len(control)) < 3:
            continue
        p = mannwhitneyu(control[:, features], features_at_dose[:, features], axis=0).pvalue
        if np.nanmin(p) < ALPHA / tests:
            return float(dose)
    return None


class DoseResponse(CellFeatureMetric, OptionedMetric):
    name = "dose-response"
    needs = frozenset({Need.REAL, Need.TRANSLATED, Need.SOURCE})
    higher_is_better = True
    summary = "Spearman dose-response of the most responsive features and lowest effective dose, vs real."
    Options = DoseResponseOptions

    NAMES = ("spearman-real", "spearman-translated", "lowest-dose-real", "lowest-dose-translated")

    def compute(self, evaluation: Evaluation) -> list[MetricResult]:
        space = CellFeatureSpace(evaluation, self.options)
        values: dict[str, dict[str, MetricValue]] = {n: {} for n in self.NAMES}
        floor: dict[str, MetricValue] = {}
        arrays: dict[str, np.ndarray] = {"feature_names": np.array(space.names, dtype=str)}
        control = evaluation.conditions.control
        scorable = []
        for compound in evaluation.conditions.compounds():
            doses = [c for c in evaluation.conditions.dose_series(compound) if c in evaluation.bundles]
            problem = self._problem(evaluation, doses, control)
            if problem:
                for n in self.NAMES:
                    values[n][compound] = MetricValue.absent(problem)
                floor[compound] = MetricValue.absent(problem)
                continue
            scorable.append(compound)
            concentrations = np.array([evaluation.conditions.condition(d).concentration for d in doses])
            control_cells = self._from_control(space.sources(doses[0]), space, doses[0], control).x
            real_sets = [space.real(d) for d in doses]
            translated_sets = [self._from_control(space.translated(d), space, d, control) for d in doses]
            real, translated = [c.x for c in real_sets], [c.x for c in translated_sets]
            if min(len(x) for x in [control_cells, *real, *translated]) < 2:
                for n in self.NAMES:
                    values[n][compound] = MetricValue.absent("a concentration has <2 images with a plausible cell")
                floor[compound] = MetricValue.absent("a concentration has <2 images with a plausible cell")
                continue
            top, rho = select_features(real, concentrations, self.options.top_features)
            signs = np.sign(rho[top])
            n_real, n_translated = sum(map(len, real)), sum(map(len, translated))
            seed = condition_seed(evaluation, compound, self.name)
            boot = self.options.bootstrap
            values["spearman-real"][compound] = value_with_ci(
                lambda *lv: aligned_response(list(lv), concentrations, top, np.ones(len(top)), absolute=True),
                real, n_boot=boot, seed=seed, n=n_real, groups=[c.measured_units for c in real_sets])
            values["spearman-translated"][compound] = value_with_ci(
                lambda *lv: aligned_response(list(lv), concentrations, top, signs), translated,
                n_boot=boot, seed=seed, n=n_translated, groups=[c.measured_units for c in translated_sets])
            matched = self._matched(control_cells, real, translated, seed)
            for which, levels in (("real", matched[1]), ("translated", matched[2])):
                dose = lowest_effective_dose(matched[0], levels, concentrations, top)
                n = len(matched[0]) * (len(levels) + 1)
                values[f"lowest-dose-{which}"][compound] = (
                    MetricValue(value=dose, n=n) if dose is not None
                    else MetricValue.absent("no concentration differs from the control", n=n))
            floor[compound] = self._floor(real, concentrations, seed)
            arrays[f"concentrations/{compound}"] = np.concatenate([[0.0], concentrations])
            arrays[f"top-features/{compound}"] = top
            arrays[f"rho-real/{compound}"] = rho
            arrays[f"real-means/{compound}"] = np.stack([x[:, top].mean(0) for x in [control_cells, *real]])
            arrays[f"translated-means/{compound}"] = np.stack([x[:, top].mean(0) for x in [control_cells, *translated]])
        results = []
        for name in self.NAMES:
            per_compound = values[name]
            higher = name.startswith("spearman")
            results.append(MetricResult(
                f"dose-response/{name}", higher, per_compound, self._pooled(per_compound, name, scorable),
                floor=floor if name == "spearman-translated" else {},
                arrays=arrays if name == "spearman-translated" else {},
                unit="" if higher else "concentration",
            ))
        return results

    @staticmethod
    def _problem(evaluation: Evaluation, doses: list[str], control: str | None) -> str | None:
        if control is None:
            return "the dataset has no control condition for the lowest-dose test"
        if len(doses) < 2:
            return f"needs 2+ concentrations among the targets, got {len(doses)}"
        for d in doses:
            bundle = evaluation.bundles[d]
            if bundle.real is None:
                return f"no real images of {d}"
            if control not in bundle.source_conditions:
                return f"no translations of {d} from the control {control}"
        return None

    @staticmethod
    def _from_control(cells: CellSet, space: CellFeatureSpace, target: str, control: str) -> CellSet:
        """The images of `cells` whose source is the control."""
        return cells.where(space.source_conditions(target) == control)

    @staticmethod
    def _matched(control: np.ndarray, real: list[np.ndarray], translated: list[np.ndarray], seed: int):
        """Every group subsampled to the smallest group's N; translated levels at the same positions."""
        size = min(len(x) for x in [control, *real, *translated])
        rng = np.random.default_rng(seed)

        def pick(x: np.ndarray, generator: np.random.Generator) -> np.ndarray:
            return x[np.sort(generator.choice(len(x), size=size, replace=False))]

        same = lambda x: pick(x, np.random.default_rng(seed + 1))  # noqa: E731
        return pick(control, rng), [pick(x, rng) for x in real], [same(x) for x in translated]

    def _floor(self, real: list[np.ndarray], concentrations: np.ndarray, seed: int) -> MetricValue:
        halves = [split_halves(len(x), seed + i) for i, x in enumerate(real)]
        first = [x[a] for x, (a, _) in zip(real, halves)]
        second = [x[b] for x, (_, b) in zip(real, halves)]
        if min(len(x) for x in first) < 2:
            return MetricValue.absent("too few real images to split in two")
        top, rho = select_features(first, concentrations, self.options.top_features)
        value = aligned_response(second, concentrations, top, np.sign(rho[top]))
        return MetricValue(value=value, n=sum(map(len, second)))

    @staticmethod
    def _pooled(per_compound: dict[str, MetricValue], name: str, scorable: list[str]) -> MetricValue:
        if name.startswith("lowest"):
            return MetricValue.absent("a lowest dose is per compound; it has no pooled value")
        if not scorable:
            return MetricValue.absent("no compound has 2+ concentrations among the targets")
        missing = [c for c in scorable if per_compound[c].value is None]
        if missing:
            return MetricValue.absent(f"missing for {', '.join(missing)}")
        present = [per_compound[c] for c in scorable]
        weights = np.array([v.n for v in present], float)
        return MetricValue(value=float(np.average([v.value for v in present], weights=weights)), n=int(weights.sum()))
