"""Scoring a run whose data holds compounds out of training: seen and unseen targets apart.

With `held_out_compounds`, some target conditions were never seen in training. The field reports
them apart (IMPA's and CellFlux's out-of-distribution tables), and a pooled value over seen and
unseen targets together would mix two questions. So each metric scores two evaluations: the seen
targets, whose pooled value is the run's `pooled`, and the held-out targets, whose pooled value
is stored under the condition `pooled (held out)`. Per-condition values of both land side by side.

A translator that cannot condition on an unseen compound (one embedding per training class) did
not translate those targets (evaluation_builder.py): their values are missing with that reason,
and so is `pooled (held out)` unless every held-out target was translated.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from phenbench.core.metric import Evaluation, MetricResult, MetricValue

HELD_OUT_POOLED = "pooled (held out)"
POOLED_FLOOR = "pooled"


@dataclass
class EvaluationParts:
    """The run's evaluation, and its seen / held-out halves when it has held-out targets."""

    whole: Evaluation
    seen: Evaluation | None = None
    held_out: Evaluation | None = None

    @classmethod
    def of(cls, evaluation: Evaluation) -> "EvaluationParts":
        held = set(evaluation.held_out)
        if not held:
            return cls(evaluation)
        return cls(
            evaluation,
            seen=_restricted(evaluation, [t for t in evaluation.bundles if t not in held]),
            held_out=_restricted(evaluation, [t for t in evaluation.bundles if t in held]),
        )

    def scored(self) -> list[Evaluation]:
        """The evaluations `score` hands a metric, in the order it does."""
        if self.seen is None:
            return [self.whole]
        return [part for part in (self.seen, self.held_out) if part.bundles]

    def score(self, score: Callable[[Evaluation], list[MetricResult]]) -> list[MetricResult]:
        """`score` on the whole evaluation, or on both halves merged (see the module docstring)."""
        if self.seen is None:
            return _with_untranslated(score(self.whole), self.whole.untranslated, None)
        seen = score(self.seen) if self.seen.bundles else []
        held = score(self.held_out) if self.held_out.bundles else []
        held_targets = [t for t in self.whole.held_out if t in self.whole.untranslated or t in self.held_out.bundles]
        return _with_untranslated(merge(seen, held, bool(self.seen.bundles)), self.whole.untranslated, held_targets)


def _restricted(evaluation: Evaluation, targets: list[str]) -> Evaluation:
    # Own options: metrics memoise features there, per evaluation.
    return dataclasses.replace(evaluation, bundles={t: evaluation.bundles[t] for t in targets},
                               options=dict(evaluation.options))


def merge(seen: list[MetricResult], held: list[MetricResult], any_seen: bool) -> list[MetricResult]:
    """One result per measure: per-condition values of both, pooled from the seen targets, and the
    held-out targets' pooled value (and floor) under HELD_OUT_POOLED."""
    held_by_name = {r.name: r for r in held}
    merged = []
    for result in seen:
        other = held_by_name.pop(result.name, None)
        merged.append(_merge_one(result, other))
    for other in held_by_name.values():  # measures only the held-out half produced
        absent = MetricValue.absent("every target is held out of training; see pooled (held out)" if not any_seen
                                    else "not computed on the seen targets")
        merged.append(_merge_one(dataclasses.replace(other, per_condition={}, pooled=absent, floor={}, arrays={}),
                                 other))
    return merged


def _merge_one(result: MetricResult, other: MetricResult | None) -> MetricResult:
    if other is None:
        return result
    per_condition = {**result.per_condition, **other.per_condition, HELD_OUT_POOLED: other.pooled}
    floor = {**result.floor, **{k: v for k, v in other.floor.items() if k != POOLED_FLOOR}}
    if POOLED_FLOOR in other.floor:
        floor[HELD_OUT_POOLED] = other.floor[POOLED_FLOOR]
    arrays = dict(result.arrays)
    for key, value in other.arrays.items():
        arrays[key if key not in arrays else f"held-out/{key}"] = value
    return dataclasses.replace(result, per_condition=per_condition, floor=floor, arrays=arrays)


def _with_untranslated(results: list[MetricResult], untranslated: dict[str, str],
                       held_targets: list[str] | None) -> list[MetricResult]:
    """Targets the translator could not translate: missing with the reason, never silently absent."""
    if not untranslated:
        return results
    for result in results:
        # Measures with only an aggregate (fid/overall) have no per-condition values to add to.
        per_target = [c for c in result.per_condition if c != HELD_OUT_POOLED]
        for target, reason in untranslated.items():
            if per_target:
                result.per_condition.setdefault(target, MetricValue.absent(reason))
        if held_targets is not None:
            missing = [t for t in held_targets if t in untranslated]
            if missing and (HELD_OUT_POOLED not in result.per_condition
                            or result.per_condition[HELD_OUT_POOLED].value is not None):
                reason = untranslated[missing[0]] if len(missing) == len(held_targets) else f"missing for {', '.join(missing)}"
                result.per_condition[HELD_OUT_POOLED] = MetricValue.absent(reason)
    return results
