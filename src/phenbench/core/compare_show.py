"""The text of `phenbench show RUN_ID`: one run's provenance, timings, metrics and samples."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from phenbench.core.metric import MetricValue
    from phenbench.core.store import RunRecord


def describe_run(record: RunRecord) -> str:
    """A readable report of one stored run (everything but the sample pixels)."""
    preset = f" (preset {record.preset})" if record.preset else ""
    lines = [
        f"Run {record.run_id}",
        f"  translator    {record.translator}{preset}",
        f"  dataset       {record.dataset} (content hash {record.dataset_hash or 'unknown'})",
        f"  status        {record.status}",
        f"  seed          {record.seed}",
        f"  started       {record.started}",
        f"  ended         {record.ended}{_duration(record.started, record.ended)}",
        f"  git commit    {record.git_hash or 'none (not run from a git checkout)'}",
    ]
    if record.error:
        lines.append(f"  error         {record.error}")
    lines.append("Versions: " + (", ".join(f"{k} {v}" for k, v in sorted(record.versions.items())) or "none recorded"))
    if record.timings:
        lines.append("Timings:")
        lines += [f"  {key:<32} {_plain(value)}" for key, value in sorted(record.timings.items())]
    lines.append("Metrics:" if record.metrics else "Metrics: none stored")
    if record.metrics:
        lines += ["  " + line for line in _metrics_text(record).splitlines()]
    if record.samples:
        lines.append("Samples:")
        for condition, images in record.samples.items():
            shapes = ", ".join(f"{kind} {'x'.join(map(str, array.shape))}" for kind, array in images.items())
            lines.append(f"  {condition}: {shapes}")
    lines.append("Configs:")
    lines += ["  " + line for line in json.dumps(record.configs, indent=2, sort_keys=True).splitlines()]
    return "\n".join(lines) + "\n"


def _metrics_text(record: RunRecord) -> str:
    rows = []
    for result in record.metrics:
        direction = "↑" if result.higher_is_better else "↓"
        name = f"{result.name} {direction}" + (f" ({result.unit})" if result.unit else "")
        scoped = [("", c, v) for c, v in result.per_condition.items()] + [("", "pooled", result.pooled)]
        scoped += [("floor", c, v) for c, v in result.floor.items()]
        for scope, condition, value in scoped:
            rows.append({"metric": name, "condition": condition, "kind": scope or "method", **_value_columns(value)})
    frame = pd.DataFrame(rows)
    return frame.to_string(index=False)


def _value_columns(value: MetricValue) -> dict[str, str]:
    if value.value is None:
        return {"value": "—", "CI / note": f"missing: {value.missing}", "N": str(value.n)}
    ci = f"[{value.ci_low:.4g}, {value.ci_high:.4g}]" if value.ci_low is not None and value.ci_high is not None else ""
    return {"value": f"{value.value:.4g}", "CI / note": ci, "N": str(value.n)}


def _duration(started: str, ended: str) -> str:
    try:
        seconds = (datetime.fromisoformat(ended) - datetime.fromisoformat(started)).total_seconds()
    except (TypeError, ValueError):
        return ""
    return f" ({seconds:.1f} s)"


def _plain(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
