"""Markdown, CSV and LaTeX renderings of a comparison table (from `compare.comparison_table`).

Every format shows the same things: the metric's direction (↑ higher is better, ↓ lower is better)
and N in each column header; "value [lo, hi]" where a confidence interval is stored; the best
method value of each column marked (bold in markdown and LaTeX, a trailing `*` in CSV); "—" for a
missing value, with a numbered note giving the reason; the real-vs-real floor as its own row; and
runs that failed, which are not rows, listed in the notes.
"""

from __future__ import annotations

import io
import math
import pandas as pd

from phenbench.core.errors import PhenbenchError
from phenbench.core.metric_result import direction_symbol
from phenbench.core.store_schema import POOLED, PUBLISHED

FORMATS = ("markdown", "csv", "latex")
MISSING = "—"
LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "—": "---", "–": "--", "↑": r"$\uparrow$", "↓": r"$\downarrow$",
}  # fmt: skip


def format_table(table: pd.DataFrame, fmt: str, conditions: str | list[str] = "all") -> str:
    """The table as text. `conditions`: "all", "pooled" (one column per metric), or a list of names."""
    if fmt not in FORMATS:
        raise PhenbenchError(f"Unknown table format '{fmt}'; use one of {', '.join(FORMATS)}.")
    meta = table.attrs.get("phenbench")
    if meta is None:
        raise PhenbenchError("format_table needs a table made by comparison_table (its attrs are missing).")
    columns = _select_columns(table, conditions)
    notes = _Notes()
    best = set(meta["best"])
    # Plain numpy access: pandas deep-copies `attrs` (all cell details) on every .loc lookup.
    matrix, position = table.to_numpy(), {column: i for i, column in enumerate(table.columns)}
    body = {
        column: [
            _cell(meta, notes, fmt, row, column, best, float(matrix[r, position[column]]))
            for r, row in enumerate(table.index)
        ]
        for column in columns
    }
    if fmt == "csv":  # one flat table, for programs
        headers = [_header(table, meta, column) for column in columns]
        return _csv(table, meta, columns, headers, body, notes)
    blocks = _blocks(table, meta, columns)
    if fmt == "markdown":
        return _markdown(table, meta, blocks, body, notes)
    return _latex(table, meta, blocks, body, notes)


def _blocks(table: pd.DataFrame, meta: dict, columns: list[tuple[str, str]]) -> list[tuple[str | None, list, list[str]]]:
    """(title, columns, headers) of each table to print. With conditions besides pooled, one table
    per metric (rows methods, columns conditions) stays readable where one table of 9 conditions x
    15 metrics would not; with pooled values only, one table with a column per metric."""
    metrics = list(dict.fromkeys(m for m, _ in columns))
    if all(c == POOLED for _, c in columns) or len(metrics) == 1 and len(columns) == 1:
        return [(None, columns, [_header(table, meta, c) for c in columns])]
    blocks = []
    for metric in metrics:
        if metric.endswith(PUBLISHED) and metric[: -len(PUBLISHED)] in metrics:
            continue  # a protocol's published figures go in their measure's block, column by column
        mine = [c for c in columns if c[0] in (metric, metric + PUBLISHED)]
        headers = [_condition(meta, c[1]) + (" · published" if c[0].endswith(PUBLISHED) else "")
                   + (f" · {n}" if (n := _n_text(table, meta, c)) else "") for c in mine]
        blocks.append((f"{metric}{_unit(meta, metric)} {direction_mark(meta, metric)}", mine, headers))
    return blocks


def _condition(meta: dict, condition: str) -> str:
    """A condition's header, marked where it was held out of training."""
    return f"{condition} (held out)" if condition in meta.get("held_out", ()) else condition


def _select_columns(table: pd.DataFrame, conditions: str | list[str]) -> list[tuple[str, str]]:
    all_columns = list(table.columns)
    if conditions == "all":
        return all_columns
    wanted = [POOLED] if conditions == "pooled" else list(conditions)
    known = {c for _, c in all_columns}
    unknown = [c for c in wanted if c not in known]
    if unknown:
        raise PhenbenchError(
            f"Condition(s) {', '.join(unknown)} not in the table; known: {', '.join(sorted(known))} "
            '(or conditions="all" / "pooled").'
        )
    return [c for c in all_columns if c[1] in wanted]


class _Notes:
    """Numbered notes, one per distinct reason a value is missing."""

    def __init__(self) -> None:
        self.reasons: dict[str, int] = {}

    def number(self, reason: str) -> int:
        return self.reasons.setdefault(reason, len(self.reasons) + 1)


def _cell(meta: dict, notes: _Notes, fmt: str, row: str, column: tuple, best: set, value: float) -> str:
    info = meta["cells"].get((row, *column))
    published = column[0].endswith(PUBLISHED)
    if info is None or info["missing"] is not None or math.isnan(value):
        if row == meta["floor_row"] and info is None:
            return ""  # no floor defined for this column: nothing is missing
        reason = info["missing"] if info and info["missing"] else (
            "the protocol's source publishes no figure for this method" if published
            else "not computed in this run")
        mark = notes.number(reason)
        return f"{MISSING}\\textsuperscript{{{mark}}}" if fmt == "latex" else f"{MISSING} [{mark}]"
    text = f"{value:g}" if published else _number(value)  # a source's figure as printed (415.15, not 415.1)
    if info["ci_low"] is not None and info["ci_high"] is not None:
        text += f" [{_number(info['ci_low'])}, {_number(info['ci_high'])}]"
    elif info.get("ci_missing"):  # an interval was asked for: the note says why there is none
        mark = notes.number(info["ci_missing"])
        text += f" (no CI\\textsuperscript{{{mark}}})" if fmt == "latex" else f" (no CI [{mark}])"
    if (row, *column) in best:
        text = {"markdown": f"**{text}**", "csv": f"{text}*", "latex": f"\\textbf{{{text}}}"}[fmt]
    return text


def _number(x: float) -> str:
    return f"{x:.4g}"


def _n_text(table: pd.DataFrame, meta: dict, column: tuple) -> str:
    # The N behind the values shown: method rows with a value (a missing value's N is in no cell).
    cells = [meta["cells"].get((r, *column)) for r in table.index if r != meta["floor_row"]]
    ns = sorted({c["n"] for c in cells if c is not None and c["missing"] is None} - {0})
    if not ns:
        return ""
    return f"N={ns[0]}" if len(ns) == 1 else f"N={ns[0]}–{ns[-1]}"


def direction_mark(meta: dict, metric: str) -> str:
    """↑, ↓ or →ideal for a column of a comparison table."""
    return direction_symbol(meta["higher_is_better"][metric], meta.get("ideals", {}).get(metric))


def _unit(meta: dict, metric: str) -> str:
    return f" ({meta['units'][metric]})" if meta["units"].get(metric) else ""


def _header(table: pd.DataFrame, meta: dict, column: tuple) -> str:
    metric, condition = column
    n = _n_text(table, meta, column)
    return f"{metric}{_unit(meta, metric)} {direction_mark(meta, metric)} · {_condition(meta, condition)}" + (
        f" · {n}" if n else "")


def _note_lines(meta: dict, notes: _Notes) -> list[str]:
    lines = [f"[{number}] {reason}" for reason, number in notes.reasons.items()]
    lines += meta.get("notes", [])  # e.g. columns split because runs were scored on other rows
    if meta.get("held_out"):
        lines.append(f"Held out of training (unseen compounds): {', '.join(meta['held_out'])}; 'pooled' is over the "
                     "seen targets, 'pooled (held out)' over these.")
    for run_id, translator, error in meta["failed"]:
        lines.append(f"Failed run not shown: {run_id} ({translator}): {error}")
    hashes = meta.get("dataset_hashes", {})
    if len(set(hashes.values())) > 1:  # the prepared data changed between runs: say so, loudly
        rows = "; ".join(f"{row}: {digest or 'unknown'}" for row, digest in hashes.items())
        lines.append(f"Warning: rows were computed on different prepared data (dataset hash {rows}).")
    return lines


def _legend(meta: dict) -> str:
    floor = f"; '{meta['floor_row']}' compares real images with real images" if meta["floor_row"] else ""
    return (
        f"Dataset {meta['dataset']}. ↑ higher is better, ↓ lower is better, →1 closest to 1 is best; best of each column "
        f"marked; value [lo, hi] is a confidence interval; — missing (see notes){floor}."
    )


def _markdown(table, meta, blocks, body, notes) -> str:
    def row_text(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    lines = [f"### {meta['dataset']}", "", _legend(meta), ""]
    for title, columns, headers in blocks:
        if title is not None:
            lines += [f"#### {title}", ""]
        lines.append(row_text(["method", *headers]))
        lines.append("| --- |" + " ---: |" * len(columns))
        for index, row in enumerate(table.index):
            lines.append(row_text([str(row), *(body[c][index] for c in columns)]))
        lines.append("")
    notes_text = _note_lines(meta, notes)
    if notes_text:
        lines += [f"- {line}" for line in notes_text]
    return "\n".join(lines).rstrip("\n") + "\n"


def _csv(table, meta, columns, headers, body, notes) -> str:
    frame = pd.DataFrame({header: body[c] for header, c in zip(headers, columns)}, index=table.index)
    out = io.StringIO()
    frame.to_csv(out, index_label="method", lineterminator="\n")
    # Notes as comment lines: pandas.read_csv(..., comment="#") still reads the table.
    for line in [_legend(meta), *_note_lines(meta, notes)]:
        out.write(f"# {line}\n")
    return out.getvalue()


def _latex(table, meta, blocks, body, notes) -> str:
    parts = [f"% {_escape(_legend(meta))}\n"]
    for title, columns, headers in blocks:
        if title is None:  # pooled only: metric over condition, as two header rows
            names = pd.MultiIndex.from_tuples(
                [
                    (_escape(f"{m}{_unit(meta, m)} {direction_mark(meta, m)}"), _escape(c + _n_suffix(table, meta, (m, c))))
                    for m, c in columns
                ]
            )
        else:
            parts.append(f"\\par\\noindent\\textbf{{{_escape(title)}}}\\par\n")
            names = pd.Index([_escape(_condition(meta, c) + (" · published" if m.endswith(PUBLISHED) else "")
                                      + _n_suffix(table, meta, (m, c))) for m, c in columns])
        frame = pd.DataFrame(
            [[_escape_cell(body[c][i]) for c in columns] for i in range(len(table.index))],
            index=[_escape(str(r)) for r in table.index],
            columns=names,
        )
        layout = "l" + "r" * len(columns)
        parts.append(frame.to_latex(escape=False, multicolumn=True, multicolumn_format="c", column_format=layout))
    parts += [f"\\par\\noindent{{\\footnotesize {_escape(line)}}}\n" for line in _note_lines(meta, notes)]
    return "".join(parts)


def _n_suffix(table: pd.DataFrame, meta: dict, column: tuple) -> str:
    n = _n_text(table, meta, column)
    return f" ({n})" if n else ""


def _escape(text: str) -> str:
    return "".join(LATEX_SPECIAL.get(ch, ch) for ch in text)


def _escape_cell(text: str) -> str:
    """Escape a cell that may already hold our own LaTeX markup (\\textbf, \\textsuperscript)."""
    if text.startswith("\\textbf{") and text.endswith("}"):
        return "\\textbf{" + _escape(text[len("\\textbf{") : -1]) + "}"
    if "\\textsuperscript" in text:
        head, _, tail = text.partition("\\textsuperscript")
        return _escape(head) + "\\textsuperscript" + tail
    return _escape(text)

