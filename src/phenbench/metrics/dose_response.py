"""`dose-response`: do translated cells respond to concentration the way real cells do?

Per compound with 2+ concentrations among the targets, in the standardised CellProfiler space,
with the control (concentration 0) given by the real source images of the control condition:

1. The most responsive features: the `top_features` features with the largest |Spearman rho|
   between concentration and feature value over the real cells (control and every dose).
2. `dose-response/spearman-real`: mean |rho| of those features in real cells (the reference).
   `dose-response/spearman-translated`: mean of sign(rho_real) * rho_translated over the same
   features, with translated cells at each dose (and the real control at 0): 1 = the same strong
   monotone response, 0 = none (identity), negative = the wrong direction.
3. `dose-response/lowest-dose-real` and `-translated`: the lowest concentration at which cells
   differ from the control in any of those features (two-sided Mann-Whitney U, p < 0.05 with a
   Bonferroni correction over features and doses). Compare the two; missing when no dose differs.

The real-vs-real floor of the translated score selects features on one half of the real cells
and scores the other half as if it were translated: the agreement the data's noise allows.
Per-dose means of the top features (real and translated) go to `arrays` for dose-response plots.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import mannwhitneyu, rankdata

from phenbench.core.metric import Evaluation, MetricResult, MetricValue, Need
from phenbench.metrics.base import OptionedMetric, condition_seed, split_halves
from phenbench.metrics.feature_space import CellFeatureSpace, FeatureOptions
from phenbench.metrics.statistics import value_with_ci

ALPHA = 0.05


@dataclass(frozen=True)
class DoseResponseOptions(FeatureOptions):
    """Options of `dose-response`."""

    top_features: int = 10
    bootstrap: int = 100


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
    """Indices of the k features with the largest |rho| in `levels` (control first), and all rho."""
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


def lowest_effective_dose(levels: list[np.ndarray], doses: np.ndarray, features: np.ndarray) -> float | None:
    """The lowest dose where any selected feature differs from the control (levels[0])."""
    tests = len(features) * (len(levels) - 1)
    for features_at_dose, dose in zip(levels[1:], doses[1:]):
        if min(len(features_at_dose), len(levels[0])) < 3:
            continue
        p = mannwhitneyu(levels[0][:, features], features_at_dose[:, features], axis=0).pvalue
        if np.nanmin(p) < ALPHA / tests:
            return float(dose)
    return None


class DoseResponse(OptionedMetric):
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
        for compound in evaluation.conditions.compounds():
            doses = [c for c in evaluation.conditions.dose_series(compound) if c in evaluation.bundles]
            problem = self._problem(evaluation, doses, control)
            if problem:
                for n in self.NAMES:
                    values[n][compound] = MetricValue.absent(problem)
                floor[compound] = MetricValue.absent(problem)
                continue
            concentrations = np.array([0.0] + [evaluation.conditions.condition(d).concentration for d in doses])
            control_features = self._control(space, evaluation, doses, control)
            real = [control_features] + [space.standardise(space.real(d)) for d in doses]
            translated = [control_features] + [self._translated(space, evaluation, d, control) for d in doses]
            if min(len(x) for x in real + translated) < 2:
                for n in self.NAMES:
                    values[n][compound] = MetricValue.absent("a concentration has <2 segmented images")
                floor[compound] = MetricValue.absent("a concentration has <2 segmented images")
                continue
            top, rho = select_features(real, concentrations, self.options.top_features)
            signs = np.sign(rho[top])
            n_real, n_translated = sum(map(len, real)), sum(map(len, translated))
            seed = condition_seed(evaluation, compound, self.name)
            boot = self.options.bootstrap
            values["spearman-real"][compound] = value_with_ci(
                lambda *lv: aligned_response(list(lv), concentrations, top, np.ones(len(top)), absolute=True),
                real, n_boot=boot, seed=seed, n=n_real)
            values["spearman-translated"][compound] = value_with_ci(
                lambda *lv: aligned_response(list(lv), concentrations, top, signs), translated,
                n_boot=boot, seed=seed, n=n_translated)
            for which, levels, n in (("real", real, n_real), ("translated", translated, n_translated)):
                dose = lowest_effective_dose(levels, concentrations, top)
                values[f"lowest-dose-{which}"][compound] = (
                    MetricValue(value=dose, n=n) if dose is not None
                    else MetricValue.absent("no concentration differs from the control", n=n))
            floor[compound] = self._floor(real, concentrations, seed)
            arrays[f"concentrations/{compound}"] = concentrations
            arrays[f"top-features/{compound}"] = top
            arrays[f"rho-real/{compound}"] = rho
            arrays[f"real-means/{compound}"] = np.stack([x[:, top].mean(0) for x in real])
            arrays[f"translated-means/{compound}"] = np.stack([x[:, top].mean(0) for x in translated])
        results = []
        for name in self.NAMES:
            per_compound = values[name]
            higher = name.startswith("spearman")
            results.append(MetricResult(
                f"dose-response/{name}", higher, per_compound, self._pooled(per_compound, name),
                floor=floor if name == "spearman-translated" else {},
                arrays=arrays if name == "spearman-translated" else {},
                unit="" if higher else "concentration",
            ))
        return results

    @staticmethod
    def _problem(evaluation: Evaluation, doses: list[str], control: str | None) -> str | None:
        if control is None:
            return "the dataset has no control condition for concentration 0"
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
    def _rows(bundle, control: str) -> torch.Tensor:
        return torch.from_numpy(np.flatnonzero(np.asarray(bundle.source_conditions) == control))

    def _control(self, space: CellFeatureSpace, evaluation: Evaluation, doses: list[str], control: str) -> np.ndarray:
        bundle = evaluation.bundles[doses[0]]
        return space.of(bundle.sources[self._rows(bundle, control)], "sources", control, real=True)

    def _translated(self, space: CellFeatureSpace, evaluation: Evaluation, dose: str, control: str) -> np.ndarray:
        bundle = evaluation.bundles[dose]
        return space.of(bundle.translated[self._rows(bundle, control)], "translated", f"{dose}<-{control}", real=False)

    def _floor(self, real: list[np.ndarray], concentrations: np.ndarray, seed: int) -> MetricValue:
        halves = [split_halves(torch.from_numpy(x), seed + i) for i, x in enumerate(real)]
        first = [a.numpy() for a, _ in halves]
        second = [b.numpy() for _, b in halves]
        if min(len(x) for x in first) < 2:
            return MetricValue.absent("too few real images to split in two")
        top, rho = select_features(first, concentrations, self.options.top_features)
        value = aligned_response(second, concentrations, top, np.sign(rho[top]))
        return MetricValue(value=value, n=sum(map(len, second)))

    @staticmethod
    def _pooled(per_compound: dict[str, MetricValue], name: str) -> MetricValue:
        present = [v for v in per_compound.values() if v.value is not None]
        if not per_compound:
            return MetricValue.absent("no compound has 2+ concentrations among the targets")
        if not present:
            return MetricValue.absent("missing for every compound")
        if name.startswith("lowest"):
            return MetricValue.absent("a lowest dose is per compound; it has no pooled value")
        weights = np.array([v.n for v in present], float)
        return MetricValue(value=float(np.average([v.value for v in present], weights=weights)), n=int(weights.sum()))
