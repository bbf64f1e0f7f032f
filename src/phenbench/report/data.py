"""What a report shows, read from the results store: the comparison table and each method's run.

The rows of the report are exactly the rows of `phenbench compare` (the latest complete run of
each translator and preset on one dataset), so the images and plots belong to the runs whose
numbers are in the table. Everything is read through `ResultsStore` and `comparison_table`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from phenbench.core.compare import comparison_table
from phenbench.core.conditions import ConditionSet
from phenbench.core.errors import DataError
from phenbench.core.store import ResultsStore, RunRecord


@dataclass
class MethodRun:
    """One row of the comparison table and the stored run behind it (with its sample images)."""

    label: str
    record: RunRecord

    @property
    def anchor(self) -> str:
        """An HTML id for this method's section."""
        return "method-" + "".join(ch if ch.isalnum() else "-" for ch in self.label).strip("-").lower()


@dataclass
class ReportData:
    """Everything the report draws: one dataset, its conditions and channels, and the methods."""

    store: ResultsStore
    dataset: str
    table: pd.DataFrame
    conditions: ConditionSet
    channels: tuple[str, ...]
    methods: list[MethodRun]

    def display_order(self) -> list[str]:
        """Conditions as a biologist reads them: control, each compound in dose order, the rest."""
        return display_order(self.conditions)


def display_order(conditions: ConditionSet) -> list[str]:
    order: list[str] = [conditions.control] if conditions.control else []
    for compound in conditions.compounds():
        order += conditions.dose_series(compound)
    order += [name for name in conditions.names if name not in order]
    return order


def load_report_data(store: ResultsStore, dataset: str | None = None) -> ReportData:
    """The table of `dataset` (the store's only dataset if None) and the runs of its rows."""
    table = comparison_table(store, dataset=dataset, costs=True)  # what each method cost, beside its scores
    meta = table.attrs["phenbench"]
    methods = [MethodRun(label, store.read(run_id, samples=True)) for label, run_id in meta["runs"].items()]
    spec = _data_spec(methods)
    conditions = ConditionSet.from_dict(spec["conditions"])
    channels = tuple(spec["channels"])
    for method in methods:
        other = method.record.configs.get("data_spec")
        if other is not None and (tuple(other["channels"]) != channels or other["conditions"] != spec["conditions"]):
            raise DataError(
                f"Run {method.record.run_id} ({method.label}) on '{meta['dataset']}' has other channels or "
                "conditions than the other runs in the report; runs of one report must share a dataset "
                "configuration (choose runs with --dataset or use separate stores)."
            )
    return ReportData(store, meta["dataset"], table, conditions, channels, methods)


def _data_spec(methods: list[MethodRun]) -> dict:
    for method in methods:
        spec = method.record.configs.get("data_spec")
        if spec:
            return spec
    run_ids = ", ".join(m.record.run_id for m in methods)
    raise DataError(
        f"None of the runs {run_ids} stores its data spec (configs['data_spec']: channels and "
        "conditions), which the report needs to order conditions and name channels; re-run them with "
        "this phenbench."
    )
