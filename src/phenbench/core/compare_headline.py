"""The headline table: the few pooled measures that say whether a method translated, and whether
it kept the cell, with N and intervals, in at most 120 columns.

`phenbench run` and `phenbench compare` print it; `phenbench compare --all` prints every measure
and condition (`compare_format.py`), and CSV and LaTeX are always the full table. The rows are
the comparison table's: every method, the identity baseline (scored on the same rows, see
`baseline.py`) and the real-vs-real reference row. Columns are chosen from `HEADLINE` in order of
priority, skipping measures no row has a value for, while the table fits `width`; when no
headline measure was computed, the pooled columns of the others fill it the same way.
"""

from __future__ import annotations

import textwrap

import pandas as pd

from phenbench.core.metric_result import direction_symbol
from phenbench.core.store_schema import POOLED

WIDTH = 120
# (measure, short header): did it translate (shift, target share, distance to real cells), and
# did it keep the cell (source fidelity, segmentation failures).
HEADLINE = (
    ("phenotype-shift", "shift"),
    ("classifier/target-share", "target-share"),
    ("source-fidelity", "source-fid."),
    ("segmentation-failures", "seg-fail"),
    ("fd-cellprofiler", "FD-CP"),
    ("fid", "FID"),
    ("fid/overall", "FIDo"),
    ("fid/per-class-mean", "FIDc"),
    ("moa-accuracy", "MoA-acc"),
    ("effect/magnitude-error", "effect-err"),
    ("phenotype-error", "pheno-err"),
)
MISSING = "—"


def _number(x: float) -> str:
    if abs(x) >= 1000:
        return f"{x:.0f}"
    return f"{x:.3g}"


def _cell(value: float, info: dict | None, best: bool, notes: dict[str, int]) -> str:
    if pd.isna(value):
        if info is None:
            return ""
        reason = info["missing"] or "not computed in this run"
        return f"{MISSING} [{notes.setdefault(reason, len(notes) + 1)}]"
    text = _number(value)
    if info and info["ci_low"] is not None and info["ci_high"] is not None:
        text += f" [{_number(info['ci_low'])},{_number(info['ci_high'])}]"
    elif info and info.get("ci_missing"):  # an interval was asked for: the note says why there is none
        text += f" (no CI [{notes.setdefault(info['ci_missing'], len(notes) + 1)}])"
    return f"{text}*" if best else text  # a star, not bold: 4 columns of intervals fit in 120


def _header(meta: dict, column: tuple[str, str], short: str, rows: list[str]) -> str:
    metric = column[0]
    mark = direction_symbol(meta["higher_is_better"][metric], meta.get("ideals", {}).get(metric))
    ns = sorted({c["n"] for r in rows if (c := meta["cells"].get((r, *column))) and c["missing"] is None} - {0})
    n = f" N={ns[0]}" if len(ns) == 1 else (f" N={ns[0]}–{ns[-1]}" if ns else "")
    return f"{short} {mark}{n}"


def _render(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
    lines = []
    for i, row in enumerate(rows):
        cells = [c.ljust(w) if k == 0 else c.rjust(w) for k, (c, w) in enumerate(zip(row, widths))]
        lines.append("| " + " | ".join(cells) + " |")
        if i == 0:
            lines.append("| " + " | ".join("-" * w if k == 0 else "-" * (w - 1) + ":" for k, w in enumerate(widths)) + " |")
    return lines


def headline_text(table: pd.DataFrame, width: int = WIDTH) -> str:
    """The headline of a comparison table (from `compare.comparison_table`) as markdown text."""
    meta = table.attrs["phenbench"]
    rows = list(table.index)
    method_rows = [r for r in rows if r != meta["floor_row"]]
    best = set(meta["best"])
    pooled = [c for c in table.columns if c[1] == POOLED]
    with_values = [c for c in pooled if table[c].notna().any()]
    short = dict(HEADLINE)
    # The headline measures some row has a value for; else whatever was computed (even if missing,
    # the reasons say why).
    candidates = [c for name, _ in HEADLINE for c in with_values if c[0] == name] or with_values or pooled
    chosen: list[tuple[str, str]] = []
    for column in candidates:
        trial = _body(table, meta, [*chosen, column], short, method_rows, best, {})
        if max(len(line) for line in _render(trial)) <= width or not chosen:
            chosen.append(column)
    notes: dict[str, int] = {}
    lines = [f"### {meta['dataset']}: did it translate, and did it keep the cell? (pooled over conditions)", ""]
    if chosen:
        lines += _render(_body(table, meta, chosen, short, method_rows, best, notes))
    else:
        lines.append("No pooled value was computed in these runs; see `phenbench compare --all`.")
    lines.append("")
    lines += _legend(meta, chosen, notes)
    return "\n".join(lines).rstrip("\n") + "\n"


def _body(table, meta, columns, short, method_rows, best, notes) -> list[list[str]]:
    header = ["method", *(_header(meta, c, short.get(c[0], c[0]), method_rows) for c in columns)]
    body = [header]
    for row in table.index:
        cells = [_cell(table.at[row, c], meta["cells"].get((row, *c)), (row, *c) in best, notes) for c in columns]
        body.append([str(row), *cells])
    return body


def _legend(meta: dict, columns: list[tuple[str, str]], notes: dict[str, int]) -> list[str]:
    short = dict(HEADLINE)
    names = ", ".join(f"{short[m]} = {m}" if m in short else m for m, _ in columns)
    lines = [
        f"Measures: {names}. ↑ higher / ↓ lower / →1 closest to 1 is best; * best of each column; "
        "value [95% interval]; the floor row is the real-vs-real reference where a measure defines one.",
    ]
    if not any(r == "identity" for r in meta["runs"]):
        lines.append("No identity baseline on these rows: `phenbench run --translator identity` with the same "
                     "options adds it.")
    lines += [f"[{k}] {reason}" for reason, k in notes.items()]
    lines += meta.get("notes", [])
    for run_id, translator, error in meta["failed"]:
        lines.append(f"Failed run not shown: {run_id} ({translator}): {error}")
    return [textwrap.fill(line, WIDTH, initial_indent="- ", subsequent_indent="  ") for line in lines]
