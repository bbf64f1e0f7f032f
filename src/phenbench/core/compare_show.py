"""The text of `phenbench show RUN_ID`: one run's provenance, timings, metrics and samples."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

from phenbench.core.metric_result import MetricValue, direction_symbol

if TYPE_CHECKING:
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
    if record.metrics:
        lines.append("Metrics (value [confidence interval], N; floor: real vs real where defined):")
        lines += _metrics_lines(record)
    else:
        lines.append("Metrics: none stored")
    if record.samples:
        lines.append("Samples:")
        for condition, images in record.samples.items():
            shapes = ", ".join(f"{kind} {'x'.join(map(str, array.shape))}" for kind, array in images.items())
            lines.append(f"  {condition}: {shapes}")
    lines.append("Configs:")
    lines += ["  " + line for line in json.dumps(record.configs, indent=2, sort_keys=True).splitlines()]
    return "\n".join(lines) + "\n"


def _metrics_lines(record: RunRecord) -> list[str]:
    """A block per measure, a line per condition; reasons for missing values as numbered notes."""
    notes: dict[str, int] = {}
    lines = []
    for result in record.metrics:
        unit = f" ({result.unit})" if result.unit else ""
        lines.append(f"  {result.name} {direction_symbol(result.higher_is_better, result.ideal)}{unit}")
        rows = [*result.per_condition.items(), ("pooled", result.pooled)]
        for condition in result.floor:
            if condition not in dict(rows):
                rows.append((condition, None))
        for condition, value in rows:
            floor = result.floor.get(condition)
            floor_text = f"  floor {_value_text(floor, notes)}" if floor is not None else ""
            shown = _value_text(value, notes) if value is not None else ""
            count = f"N={value.n}" if value is not None else ""
            lines.append(f"    {condition:<24} {shown:<34} {count:<8}{floor_text}".rstrip())
    if notes:
        lines.append("Notes:")
        lines += [f"  [{number}] {reason}" for reason, number in notes.items()]
    return lines


def _value_text(value: MetricValue, notes: dict[str, int]) -> str:
    if value.value is None:
        reason = value.missing or "no reason stored"
        return f"— [{notes.setdefault(reason, len(notes) + 1)}]"
    text = f"{value.value:.4g}"
    if value.ci_low is not None and value.ci_high is not None:
        text += f" [{value.ci_low:.4g}, {value.ci_high:.4g}]"
    elif value.ci_missing:
        text += f" (no CI [{notes.setdefault(value.ci_missing, len(notes) + 1)}])"
    return text


def _duration(started: str, ended: str) -> str:
    try:
        seconds = (datetime.fromisoformat(ended) - datetime.fromisoformat(started)).total_seconds()
    except (TypeError, ValueError):
        return ""
    return f" ({seconds:.1f} s)"


def _plain(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
