"""The comparison table across methods, read from the results store (the store is never written).

`comparison_table` returns a data frame with a row per method and a column per (metric,
condition), pooled first; values are floats (NaN where missing). What a reader needs beyond the
numbers (direction, N, confidence intervals, reasons for missing values, the best of each column,
the real-vs-real floor row, failed runs left out) travels in `table.attrs["phenbench"]`, which
`format_table` (compare_format.py) turns into markdown, CSV or LaTeX. `describe_run` is the text of
`phenbench show RUN_ID`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from phenbench.core.compare_costs import COST_COLUMNS, cost_rows
from phenbench.core.compare_digests import split_incomparable
from phenbench.core.compare_format import format_table
from phenbench.core.compare_show import describe_run
from phenbench.core.errors import PhenbenchError, UnknownNameError
from phenbench.core.store import ResultsStore
from phenbench.core.store_schema import POOLED, PUBLISHED

HELD_OUT_POOLED = "pooled (held out)"  # held_out.py: the pooled value of the targets held out of training

__all__ = ["comparison_table", "comparison_text", "describe_run", "format_table", "FLOOR_ROW", "BASELINE"]

FLOOR_ROW = "real vs real (floor)"
BASELINE = "identity"  # the do-nothing translator: always shown, as the bar every method must clear


def comparison_table(
    store: ResultsStore,
    *,
    dataset: str | None = None,
    metrics: list[str] | None = None,
    latest_only: bool = True,
    costs: bool = False,
) -> pd.DataFrame:
    """A row per method on `dataset`, a column per (metric, condition); see the module docstring.

    With `latest_only`, each (translator, preset) contributes its latest complete run; otherwise
    every complete run is a row. Failed runs are never rows; they are listed in the notes. With
    `costs`, three pooled columns follow the metrics: fit time, translation throughput and
    inversion time per image (compare_costs.py).
    """
    runs = store.runs_frame()
    if runs.empty:
        raise PhenbenchError(f"Results store {store.path} holds no runs yet; run `phenbench run` first.")
    dataset = _choose_dataset(runs, dataset, store)
    on_dataset = runs[runs["dataset"] == dataset]
    complete = on_dataset[on_dataset["status"] == "complete"]
    failed = on_dataset[on_dataset["status"] != "complete"]
    if complete.empty:
        raise PhenbenchError(
            f"No complete run on dataset '{dataset}' in {store.path} ({len(failed)} failed); "
            f"see `phenbench show {failed['run_id'].iloc[-1]}` for why."
        )
    labels = _row_labels(complete, latest_only)  # run_id -> row label, in row order

    values = store.metrics_frame(run_ids=list(labels))
    # Runs scored on other rows or metric options get their own columns (compare_digests.py).
    values, digest_notes = split_incomparable(values, list(complete["run_id"]), labels)
    known_metrics = list(dict.fromkeys(values["metric"]))
    for name in metrics or []:
        if name not in known_metrics:
            raise UnknownNameError(f"metric in the runs on '{dataset}'", name, known_metrics)
    chosen_metrics = [m for m in known_metrics if m.split(" [")[0] in metrics] if metrics else known_metrics
    values = values[values["metric"].isin(chosen_metrics)]
    if costs:
        shown_runs = complete[complete["run_id"].isin(list(labels))]
        values = pd.concat([values, cost_rows(store, shown_runs)], ignore_index=True)
        chosen_metrics = chosen_metrics + COST_COLUMNS

    if values.empty:
        raise PhenbenchError(
            f"The complete runs on dataset '{dataset}' in {store.path} stored no metric values; "
            "run with metrics (`phenbench run --metrics ...`) to compare them."
        )
    columns = _column_order(values, chosen_metrics)
    rows = list(dict.fromkeys(labels.values()))
    values = values.assign(row=values["run_id"].map(labels))
    methods = values[~values["is_floor"]]
    # Floors: values are in start-time order, so the latest run's floor of each column wins.
    floors = values[values["is_floor"]].drop_duplicates(["metric", "condition"], keep="last")
    floors = floors[[(m, c) in set(columns) for m, c in zip(floors["metric"], floors["condition"])]]
    floor_row = FLOOR_ROW if not floors.empty else None
    shown = pd.concat([methods, floors.assign(row=FLOOR_ROW)]) if floor_row else methods
    table = (
        shown.pivot(index="row", columns=["metric", "condition"], values="value")
        .reindex(index=rows + ([FLOOR_ROW] if floor_row else []), columns=pd.MultiIndex.from_tuples(columns))
        .astype("float64")
    )
    table.index.name = "method"
    table.columns.names = ["metric", "condition"]
    cells = {(row.row, row.metric, row.condition): _cell_info(row) for row in shown.itertuples(index=False)}

    direction = {m: bool(values.loc[values["metric"] == m, "higher_is_better"].iloc[0]) for m in chosen_metrics}
    units = {m: str(values.loc[values["metric"] == m, "unit"].iloc[0]) for m in chosen_metrics}
    # A measure's ideal is a property of the measure: runs stored before it was recorded lack it.
    ideals = {m: _first_present(values.loc[values["metric"] == m, "ideal"]) for m in chosen_metrics}
    method_rows = [r for r in table.index if r != floor_row]
    table.attrs["phenbench"] = {
        "dataset": dataset,
        "store": str(store.path),
        "higher_is_better": direction,
        "ideals": ideals,
        "units": units,
        "cells": cells,
        "best": _best_cells(table, method_rows, direction, ideals),
        "floor_row": floor_row,
        "runs": {label: run_id for run_id, label in labels.items()},
        "dataset_hashes": {labels[r.run_id]: r.dataset_hash for r in complete.itertuples() if r.run_id in labels},
        "failed": [(r.run_id, r.translator, r.error or "") for r in failed.itertuples(index=False)],
        "notes": [n for n in digest_notes if any(n.startswith(f"{m.split(' [')[0]}:") for m in chosen_metrics)],
        "held_out": held_out_conditions(store, list(labels)),
    }
    return table


def held_out_conditions(store: ResultsStore, run_ids: list[str]) -> list[str]:
    """The conditions held out of training (unseen compounds) in any of the runs, for marking."""
    found: dict[str, None] = {}
    for configs in store.configs(run_ids).values():
        for name in (configs.get("data_spec") or {}).get("unseen", []):
            found.setdefault(str(name), None)
    return list(found)


def comparison_text(
    store: ResultsStore,
    fmt: str = "markdown",
    *,
    dataset: str | None = None,
    metrics: list[str] | None = None,
    conditions: str | list[str] = "all",
    latest_only: bool = True,
    costs: bool = False,
    headline: bool = False,
) -> str:
    """What `phenbench compare` prints: one formatted table per dataset (or only `dataset`).

    A dataset whose runs all failed gets a line saying so instead of a table. For CSV that a
    program will read, pass `dataset`: several tables in one text are not one CSV table. With
    `headline`, the markdown headline table of each dataset (compare_headline.py).
    """
    from phenbench.core.compare_headline import headline_text

    def render(table: pd.DataFrame) -> str:
        return headline_text(table) if headline else format_table(table, fmt, conditions=conditions)

    if dataset is not None:
        table = comparison_table(store, dataset=dataset, metrics=metrics, latest_only=latest_only, costs=costs)
        return render(table)
    runs = store.runs_frame()
    if runs.empty:
        raise PhenbenchError(f"Results store {store.path} holds no runs yet; run `phenbench run` first.")
    parts = []
    for name in dict.fromkeys(runs["dataset"]):
        mine = runs[runs["dataset"] == name]
        if not (mine["status"] == "complete").any():
            comment = "#" if fmt == "csv" else ("%" if fmt == "latex" else "###")
            latest = mine["run_id"].iloc[-1]
            parts.append(f"{comment} {name}: no complete run ({len(mine)} failed; `phenbench show {latest}`)\n")
            continue
        table = comparison_table(store, dataset=name, metrics=metrics, latest_only=latest_only, costs=costs)
        parts.append(render(table))
    return "\n".join(parts)


def _choose_dataset(runs: pd.DataFrame, dataset: str | None, store: ResultsStore) -> str:
    present = list(dict.fromkeys(runs["dataset"]))
    if dataset is None:
        if len(present) > 1:
            raise PhenbenchError(
                f"{store.path} holds runs on several datasets ({', '.join(present)}); choose one "
                "(dataset=... / --dataset), since their conditions differ."
            )
        return present[0]
    if dataset not in present:
        raise UnknownNameError(f"dataset in {store.path}", dataset, present)
    return dataset


def _row_labels(complete: pd.DataFrame, latest_only: bool) -> dict[str, str]:
    """run_id -> row label; rows sorted by translator with the identity baseline last."""
    presets_of = complete.groupby("translator")["preset"].agg(lambda p: len(set(p.fillna("\0"))))
    labels: dict[str, str] = {}
    order = sorted(complete["translator"].unique(), key=lambda t: (t == BASELINE, t))
    for translator in order:
        mine = complete[complete["translator"] == translator]
        for preset, group in mine.groupby(mine["preset"].fillna(""), sort=True):
            label = translator if presets_of[translator] == 1 else f"{translator} ({preset or 'default'})"
            chosen = group.iloc[[-1]] if latest_only else group  # frames come in start-time order
            for run_id in chosen["run_id"]:
                labels[run_id] = label if latest_only else f"{label} @ {run_id}"
    return labels


def _column_order(values: pd.DataFrame, metrics: list[str]) -> list[tuple[str, str]]:
    """Pooled first (the held-out targets' pooled value next); a protocol's published figures of a
    measure (`<measure> (published)`) interleaved with it, each beside its measured column."""
    conditions_of = {m: list(dict.fromkeys(values.loc[values["metric"] == m, "condition"])) for m in metrics}
    twins = {m: f"{m}{PUBLISHED}" for m in metrics if f"{m}{PUBLISHED}" in conditions_of}
    columns = []
    for metric in metrics:
        if metric.endswith(PUBLISHED) and metric[: -len(PUBLISHED)] in twins:
            continue  # placed with its measured twin
        group = [metric, *([twins[metric]] if metric in twins else [])]
        # The longer list first (published figures may name every dose): the dataset's order holds.
        conditions = list(dict.fromkeys(c for m in sorted(group, key=lambda m: -len(conditions_of[m]))
                                        for c in conditions_of[m]))
        for first in (HELD_OUT_POOLED, POOLED):
            if first in conditions:
                conditions.remove(first)
                conditions.insert(0, first)
        columns += [(m, c) for c in conditions for m in group if c in conditions_of[m]]
    return columns


def _cell_info(row: Any) -> dict[str, Any]:
    """What a table cell shows besides its value: N, the interval (or why it has none), or why it is missing."""
    missing = None
    if pd.isna(row.value):
        missing = row.missing if isinstance(row.missing, str) else "no reason stored"
    return {
        "n": int(row.n),
        "ci_low": None if pd.isna(row.ci_low) else float(row.ci_low),
        "ci_high": None if pd.isna(row.ci_high) else float(row.ci_high),
        "ci_missing": row.ci_missing if isinstance(row.ci_missing, str) and row.ci_missing else None,
        "missing": missing,
    }


def _first_present(values: pd.Series) -> float | None:
    present = values.dropna()
    return float(present.iloc[0]) if len(present) else None


def _best_cells(
    table: pd.DataFrame, rows: list[str], direction: dict[str, bool], ideals: dict[str, float | None]
) -> list[tuple[str, str, str]]:
    """(row, metric, condition) of the best method value of each column with at least two values:
    the closest to the measure's ideal where it has one, else the largest or smallest; ties all count,
    unless every method ties (then nothing is best)."""
    best = []
    for metric, condition in table.columns:
        column = table.loc[rows, (metric, condition)].dropna()
        if len(column) < 2:  # the best of one is no finding
            continue
        ideal = ideals.get(metric)
        if ideal is not None:
            distance = (column - ideal).abs()
            winners = distance[distance == distance.min()].index
        else:
            target = column.max() if direction[metric] else column.min()
            winners = column[column == target].index
        if len(winners) == len(column):  # every method ties: the column tells them apart nowhere
            continue
        best += [(row, metric, condition) for row in winners]
    return best
