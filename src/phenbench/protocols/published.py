"""Published figures of a protocol, stored beside the measured ones and marked as published.

A run under a protocol stores, for its own translator, the figures the protocol's source
publishes for that method, as measures named `<measure> (published)` (e.g.
`fid/per-class-mean (published)`): they sit in the method's row, in the column beside the
measured measure (`phenbench compare` interleaves them), and are never computed. Figures given per
concentration (`dose_series`) are mapped to the dataset's conditions of that compound in
increasing order (C1 = the lowest); where the data does not have exactly that many
concentrations, the values are missing with the reason. Methods of the source that are not
phenbench translators (IMPA, CellFlux, FreeBridge) cannot have a row of their own; `run
--protocol` prints their figures below the table (`other_methods_text`).
"""

from __future__ import annotations

from phenbench.core.conditions import ConditionSet
from phenbench.core.metric_result import MetricResult, MetricValue
from phenbench.core.store_schema import PUBLISHED
from phenbench.protocols import Protocol


def published_results(protocol: Protocol, translator: str, conditions: ConditionSet) -> list[MetricResult]:
    """The protocol's published measures for `translator` (none when its source does not list it)."""
    published = protocol.published
    unit = f"published: {published.get('source', protocol.name)}"
    if published.get("note"):
        unit += f"; {published['note']}"
    results = []
    for measure, by_method in (published.get("measures") or {}).items():
        if translator not in by_method:
            continue
        figures = by_method[translator]
        if isinstance(figures, list):
            per_condition, pooled = _per_dose(figures, published.get("dose_series"), conditions)
        else:
            per_condition, pooled = {}, MetricValue(float(figures))
        results.append(MetricResult(measure + PUBLISHED, False, per_condition, pooled, unit=unit))
    return results


def _per_dose(figures: list, compound: str | None, conditions: ConditionSet) -> tuple[dict, MetricValue]:
    pooled = MetricValue.absent("the source publishes one figure per concentration, no pooled one")
    series = conditions.dose_series(compound) if compound in conditions.compounds() else []
    if len(series) != len(figures):
        reason = (f"the source publishes {len(figures)} concentrations of {compound}; this data has {len(series)}, "
                  "so they cannot be matched")
        return {}, MetricValue.absent(reason)
    return {name: MetricValue(float(value)) for name, value in zip(series, figures)}, pooled


def other_methods_text(protocol: Protocol, translators: set[str]) -> str:
    """The published figures of methods that are not phenbench translators, as lines of text."""
    measures = protocol.published.get("measures") or {}
    methods = sorted({m for by_method in measures.values() for m in by_method} - translators)
    if not methods:
        return ""
    lines = [f"Published, not measured ({protocol.published.get('source', protocol.name)}):"]
    for method in methods:
        cells = [f"{measure} {_show(by_method[method])}" for measure, by_method in measures.items() if method in by_method]
        lines.append(f"  {method}: " + "; ".join(cells))
    if protocol.published.get("note"):
        lines.append(f"  ({protocol.published['note']})")
    return "\n".join(lines)


def _show(figures) -> str:
    return ", ".join(f"{x:g}" for x in figures) if isinstance(figures, list) else f"{figures:g}"
