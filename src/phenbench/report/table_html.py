"""The comparison table of `phenbench compare` as an HTML table.

It shows what the text formats show (see `phenbench.core.compare_format`): direction and N per
column, value with its confidence interval, the best method value of each column in bold, "—" with
a numbered note for a missing value, the real-vs-real floor as its own row, failed runs in the
notes. The numbers come from `comparison_table` and its `attrs`, never recomputed here.
"""

from __future__ import annotations

import math
from html import escape

import pandas as pd

from phenbench.core.compare_format import direction_mark
from phenbench.core.store_schema import POOLED

MISSING = "—"


def _number(x: float) -> str:
    return f"{x:.4g}"


def comparison_table_html(table: pd.DataFrame, *, table_id: str = "comparison-table", pooled_only: bool = False) -> str:
    """`table` (from `comparison_table`) as an HTML <table> followed by its legend and notes;
    `pooled_only` keeps one column per measure (its value pooled over conditions)."""
    meta = table.attrs["phenbench"]
    best = {tuple(b) for b in meta["best"]}
    notes: dict[str, int] = {}
    columns = [c for c in table.columns if c[1] == POOLED] if pooled_only else list(table.columns)
    metrics = list(dict.fromkeys(m for m, _ in columns))
    head_metrics = "".join(
        f'<th colspan="{sum(1 for m, _ in columns if m == metric)}" class="metric">'
        f"{escape(metric)}{_unit(meta, metric)} {direction_mark(meta, metric)}</th>"
        for metric in metrics
    )
    head_conditions = "".join(
        f'<th class="condition">{escape(condition)}<span class="n">{escape(_n_text(table, meta, (metric, condition)))}</span></th>'
        for metric, condition in columns
    )
    body = []
    for row in table.index:
        is_floor = row == meta["floor_row"]
        if is_floor and not any((row, *column) in meta["cells"] for column in columns):
            continue  # no floor is defined for any column shown
        cells = "".join(_cell(meta, notes, best, row, column, table.loc[row, column], table_id) for column in columns)
        css = ' class="floor"' if is_floor else ""
        body.append(f'<tr{css}><th class="method" scope="row">{escape(str(row))}</th>{cells}</tr>')
    note_items = [f'<li id="{table_id}-note-{n}">[{n}] {escape(reason)}</li>' for reason, n in notes.items()]
    note_items += [
        f"<li>Failed run not shown: {escape(run_id)} ({escape(translator)}): {escape(error)}</li>"
        for run_id, translator, error in meta["failed"]
    ]
    floor = f"; <em>{escape(meta['floor_row'])}</em> compares real images with real images" if meta["floor_row"] else ""
    legend = (
        "↑ higher is better, ↓ lower is better, →1 closest to 1 is best; the best method of each column is in <strong>bold</strong>; "
        f"small numbers under a value are its 95% confidence interval; {MISSING} missing (see notes){floor}."
    )
    notes_html = f'<ul class="notes">{"".join(note_items)}</ul>' if note_items else ""
    return (
        f'<div class="table-wrap"><table class="comparison" id="{escape(table_id)}">'
        f'<thead><tr><th rowspan="2">method</th>{head_metrics}</tr><tr>{head_conditions}</tr></thead>'
        f'<tbody>{"".join(body)}</tbody></table></div>'
        f'<p class="legend">{legend}</p>{notes_html}'
    )


def _cell(meta: dict, notes: dict[str, int], best: set, row: str, column: tuple, value: float, table_id: str) -> str:
    info = meta["cells"].get((row, *column))
    if info is None or info["missing"] is not None or math.isnan(value):
        if row == meta["floor_row"] and info is None:
            return '<td class="none"></td>'  # no floor defined for this column: nothing is missing
        reason = info["missing"] if info and info["missing"] else "not computed in this run"
        number = notes.setdefault(reason, len(notes) + 1)
        return f'<td class="missing" title="{escape(reason)}">{MISSING}<sup><a href="#{table_id}-note-{number}">[{number}]</a></sup></td>'
    text = _number(value)
    if (row, *column) in best:
        text = f"<strong>{text}</strong>"
    if info["ci_low"] is not None and info["ci_high"] is not None:
        text += f'<span class="ci">[{_number(info["ci_low"])}, {_number(info["ci_high"])}]</span>'
    elif info.get("ci_missing"):
        number = notes.setdefault(info["ci_missing"], len(notes) + 1)
        text += (f'<span class="ci" title="{escape(info["ci_missing"])}">(no CI'
                 f'<sup><a href="#{table_id}-note-{number}">[{number}]</a></sup>)</span>')
    return f'<td title="N = {info["n"]}">{text}</td>'


def _n_text(table: pd.DataFrame, meta: dict, column: tuple) -> str:
    ns = sorted({meta["cells"][(r, *column)]["n"] for r in table.index if (r, *column) in meta["cells"]} - {0})
    if not ns:
        return ""
    return f"N={ns[0]}" if len(ns) == 1 else f"N={ns[0]}–{ns[-1]}"




def _unit(meta: dict, metric: str) -> str:
    unit = meta["units"].get(metric)
    return f" ({escape(unit)})" if unit else ""
