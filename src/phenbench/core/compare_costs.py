"""What each method cost, as extra columns of the comparison table (`phenbench compare --costs`).

The runner stores a run's timings beside its metrics; here the three a reader weighs against the
scores become pooled columns with a direction, so the table marks the cheapest. A value a run did
not record is missing with the reason, as a metric would be.
"""

from __future__ import annotations

from typing import NamedTuple

import pandas as pd

from phenbench.core.store import METRIC_COLUMNS, ResultsStore
from phenbench.core.store_schema import POOLED


class Cost(NamedTuple):
    column: str
    timing: str  # key in a run's stored timings
    unit: str
    higher_is_better: bool
    missing: str


COSTS = (
    Cost("cost/fit", "fit_seconds", "s", False,
         "no fit in this run (a saved model was loaded with --checkpoint; see the run that trained it)"),
    Cost("cost/translation", "translate_images_per_second", "images/s", True, "no translation time recorded"),
    Cost("cost/inversion", "invert_seconds_per_image", "s per source image", False,
         "no inversion recorded (no latent space, or a run stored before this timing existed)"),
)
COST_COLUMNS = [cost.column for cost in COSTS]


def cost_rows(store: ResultsStore, runs: pd.DataFrame) -> pd.DataFrame:
    """Rows shaped like `ResultsStore.metrics_frame`, one per cost and run of `runs` (run_id, translator, dataset)."""
    timings = store.timings(list(runs["run_id"]))
    rows = []
    for run in runs.itertuples(index=False):
        for cost in COSTS:
            value = timings[run.run_id].get(cost.timing)
            rows.append({
                "run_id": run.run_id, "translator": run.translator, "dataset": run.dataset,
                "metric": cost.column, "condition": POOLED, "value": value, "n": 0,
                "ci_low": None, "ci_high": None, "missing": None if value is not None else cost.missing, "ci_missing": None,
                "higher_is_better": cost.higher_is_better, "ideal": None, "unit": cost.unit, "is_floor": False,
                "rows_digest": None, "options_digest": None,
            })  # fmt: skip
    frame = pd.DataFrame(rows, columns=METRIC_COLUMNS)
    return frame.astype({"value": "float64", "ci_low": "float64", "ci_high": "float64", "ideal": "float64"})
