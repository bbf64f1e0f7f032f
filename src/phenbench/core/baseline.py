"""The identity baseline at matched N: scored once per dataset, rows and metric options.

A method's numbers mean something only beside what copying the source scores on the same images
with the same metric options. After a run, `ensure_identity_baseline` looks in the store for a
complete identity run on the same prepared data whose every measure has the same rows and
options digests (`MetricResult.rows_digest`, `options_digest`); only if there is none does it
score the identity translator with the run's own options (no training: identity copies its
input) and store it. The next run on the same rows finds it there: it is cached, not recomputed.
"""

from __future__ import annotations

import dataclasses

from phenbench.core.plugins import Registries
from phenbench.core.run_config import RunConfig

BASELINE = "identity"


def _signature(record) -> set[tuple[str, str | None, str | None]]:
    # Published figures (a protocol's, stored with the method's run) are not scored: no baseline has them.
    return {(m.name, m.rows_digest, m.options_digest) for m in record.metrics if not m.name.endswith(" (published)")}


def find_identity_baseline(store, record) -> str | None:
    """The id of a stored identity run scored on the same rows and options as `record`, or None."""
    if not store.exists():
        return None
    runs = store.runs_frame()
    candidates = runs[(runs["translator"] == BASELINE) & (runs["status"] == "complete")
                      & (runs["dataset"] == record.dataset) & (runs["dataset_hash"] == record.dataset_hash)]
    wanted = _signature(record)
    for run_id in reversed(list(candidates["run_id"])):  # the latest first
        if wanted <= _signature(store.read(run_id)):
            return run_id
    return None


def ensure_identity_baseline(config: RunConfig, record, registries: Registries):
    """The identity run matching `record` (found in the store, or scored and stored now); None when
    `record` is itself an identity run or did not complete. Returns (run id, whether it was scored now)."""
    from phenbench.core.runner import run_benchmark
    from phenbench.core.store import ResultsStore

    if record.translator == BASELINE or record.status != "complete" or not record.metrics:
        return None
    store = ResultsStore(config.store)
    found = find_identity_baseline(store, record)
    if found is not None:
        return found, False
    baseline = dataclasses.replace(config, translator=BASELINE, checkpoint=None, preset=None, translator_config={})
    scored = run_benchmark(baseline, registries).record
    return scored.run_id, True
