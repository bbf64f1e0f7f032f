"""Keeping incomparable values out of one column of the comparison table.

Every stored value records what it was computed on (`MetricResult.rows_digest`: the dataset,
pairs and rows of every image set; `options_digest`: the metric's value-relevant options). Two
runs whose values of a measure differ in either were not scored on the same thing: another
`--max-test-per-condition`, evaluation seed or pairs, another FID extractor or `components`. Their
values must not be ranked against each other, so `split_incomparable` gives each group of runs
its own column: the group of the most recent run keeps the measure's name, the others get the
name with a tag (`fid [rows 3fa2c1]`, `fid [options 9b2e04]`), and a note says why. Values from
stores written before digests were recorded (no digest) share a column with each other only.
"""

from __future__ import annotations

import pandas as pd


def _tag(rows: str | None, options: str | None, reference: tuple[str | None, str | None]) -> str:
    if rows is None and options is None:
        return "not recorded"
    if rows != reference[0]:
        return f"rows {(rows or 'unknown')[:6]}"
    return f"options {(options or 'unknown')[:6]}"


def split_incomparable(values: pd.DataFrame, run_order: list[str], labels: dict[str, str]) -> tuple[pd.DataFrame, list[str]]:
    """`values` (a metrics frame) with the measure of runs on other rows or options renamed, and
    one note per split measure. `run_order`: run ids oldest first; `labels`: run id -> row label."""
    if values.empty:
        return values, []
    position = {run_id: i for i, run_id in enumerate(run_order)}
    values = values.copy()
    notes = []
    keys = values[["rows_digest", "options_digest"]].astype(object).where(values[["rows_digest", "options_digest"]].notna(), None)
    values["_key"] = list(zip(keys["rows_digest"], keys["options_digest"]))
    for metric in list(dict.fromkeys(values["metric"])):
        mine = values[values["metric"] == metric]
        runs_of: dict[tuple, list[str]] = {}
        for run_id, key in zip(mine["run_id"], mine["_key"]):
            runs_of.setdefault(key, [])
            if run_id not in runs_of[key]:
                runs_of[key].append(run_id)
        if len(runs_of) < 2:
            continue
        # The group of the most recent run keeps the plain name: it is the comparison just made.
        latest = max(runs_of, key=lambda k: max(position.get(r, -1) for r in runs_of[k]))
        parts = [f"{metric} ({', '.join(labels.get(r, r) for r in runs_of[latest])})"]
        for key, runs in runs_of.items():
            if key == latest:
                continue
            name = f"{metric} [{_tag(*key, reference=latest)}]"
            values.loc[(values["metric"] == metric) & values["run_id"].isin(runs), "metric"] = name
            parts.append(f"{name} ({', '.join(labels.get(r, r) for r in runs)})")
        notes.append(
            f"{metric}: runs were scored on different rows (data, pairs, --max-test-per-condition or evaluation "
            f"seed) or metric options, so their values are in separate columns: {'; '.join(parts)}."
        )
    return values.drop(columns="_key"), notes
