"""Calling the metrics of a run: their shared feature extraction, then each one's scores.

Neither call may lose a run: a metric that fails is stored as missing with its reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from phenbench.core.errors import PhenbenchError
from phenbench.core.metric import Evaluation, MetricResult, MetricValue
from phenbench.core.sharding import Shard


def share_feature_extraction(metrics: dict[str, Any], evaluations: Iterable[Evaluation], shard: Shard) -> None:
    """Under several processes, every metric's `prepare` on every evaluation it will score, in the
    same order on every process (the processes share the per-image work; see Metric.prepare)."""
    if shard.count == 1:
        return
    evaluations = list(evaluations)
    for metric in metrics.values():
        for evaluation in evaluations:
            prepare_metric(metric, evaluation, shard)


def prepare_metric(metric: Any, evaluation: Evaluation, shard: Shard) -> None:
    """A metric's shared work before scoring. An error is left for `compute`, which meets it again
    on the main process and records the value as missing with its reason."""
    prepare = getattr(metric, "prepare", None)  # a plugin's metric need not derive from Metric
    try:
        if prepare is not None:
            prepare(evaluation, shard)
    except Exception:  # noqa: BLE001 - the same error, met by `compute`, is what the record says
        pass


def score_metric(name: str, metric: Any, evaluation: Evaluation, *, progress: bool) -> list[MetricResult]:
    """Run one metric; an error becomes a missing value with its reason, never a lost run."""
    try:
        return metric.compute(evaluation)
    except PhenbenchError as exc:
        reason = str(exc)
    except Exception as exc:  # a metric bug must not throw away a trained model's scores
        reason = f"metric failed: {type(exc).__name__}: {exc}"
    if progress:
        print(f"warning: metric '{name}' is missing: {reason}")
    missing = {c: MetricValue.absent(reason) for c in evaluation.bundles}
    return [MetricResult(name=name, higher_is_better=metric.higher_is_better, per_condition=missing,
                         pooled=MetricValue.absent(reason))]
