"""The results store: one HDF5 file holding every run, each complete or absent, never half.

`ResultsStore.write` adds one `RunRecord` under an exclusive lock by publishing a changed copy of
the file with an atomic rename (see `store_file`), so a writer killed at any moment leaves every
earlier run readable, and concurrent writers queue instead of corrupting the file. Stored runs
are never changed or deleted by phenbench. The layout is defined in `store_schema` and documented
in docs/results_store.md.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from phenbench.core.errors import DataError, PhenbenchError, UnknownNameError
from phenbench.core.metric_result import MetricResult
from phenbench.core.store_file import exclusive_lock, publish_changed_copy, remove_stale_temps
from phenbench.core.store_schema import (
    RUNS_GROUP,
    check_run_id,
    check_store_root,
    init_store_root,
    read_configs,
    read_run_group,
    read_run_header,
    read_timings,
    read_value_rows,
    write_run_group,
)

STATUSES = ("complete", "failed")
RUN_COLUMNS = [
    "run_id", "translator", "dataset", "preset", "status", "seed", "started", "ended",
    "dataset_hash", "git_hash", "error",
]  # fmt: skip
METRIC_COLUMNS = [
    "run_id", "translator", "dataset", "metric", "condition", "value", "n", "ci_low", "ci_high",
    "missing", "ci_missing", "higher_is_better", "ideal", "unit", "is_floor", "rows_digest", "options_digest",
]  # fmt: skip


@dataclass
class RunRecord:
    """Everything one run produced and how it was produced."""

    run_id: str
    translator: str
    dataset: str
    status: str  # "complete" | "failed"
    seed: int
    started: str  # ISO 8601 UTC
    ended: str
    configs: dict[str, Any]  # {"run": {...}, "translator": {...}, "dataset": {...}}
    versions: dict[str, str]
    git_hash: str | None
    dataset_hash: str
    metrics: list[MetricResult] = field(default_factory=list)
    # condition -> {"source": N x C x H x W, "translated": ..., and optionally "reconstruction", "real",
    # "counterfactual"}; float16 on disk
    samples: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    preset: str | None = None


def utc_now() -> str:
    """The current time as ISO 8601 UTC with seconds, the format of `started` and `ended`."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def make_run_id(translator: str, dataset: str) -> str:
    """`<UTC time>-<translator>-<dataset>-<8 hex>`, e.g. 20261125T063000-identity-synthetic-3f2a91c0.

    32 random bits: runs of one translator and data set started in the same second (a sweep launched
    at once) collide with odds of about k^2 / 2^33, where 16 bits made 20 such runs collide 0.3% of
    the time, and the later one could not be stored."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{_slug(translator)}-{_slug(dataset)}-{secrets.token_hex(4)}"


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+=@]+", "_", str(name)).strip("_")[:60] or "x"


class UnknownRunError(UnknownNameError):
    """A run id that is not in the store."""

    def __init__(self, run_id: str, known: list[str], store: Path):
        super().__init__("run id", run_id, known)
        if not self.suggestions:  # a store can hold hundreds of runs: do not list them all
            latest = f" The latest is {known[-1]}." if known else ""
            self.args = (
                f"Unknown run id '{run_id}' in {store} ({len(known)} runs stored).{latest} "
                "List them with `phenbench compare` or ResultsStore.run_ids().",
            )


class ResultsStore:
    """An HDF5 results store at `path`; the file is created by the first `write`."""

    def __init__(self, path: str | Path, lock_timeout: float = 600.0):
        self.path = Path(path)
        self.lock_timeout = lock_timeout

    def __repr__(self) -> str:
        return f"ResultsStore({str(self.path)!r})"

    def exists(self) -> bool:
        return self.path.is_file()

    # ------------------------------------------------------------ writing

    def write(self, record: RunRecord) -> None:
        """Add `record`. The whole record lands, or nothing does; stored runs are never replaced."""
        _check_record(record)
        if self.path.is_dir():
            raise DataError(f"Results store path {self.path} is a folder; pass a file name such as {self.path}/results.h5.")
        if not self.path.parent.is_dir():
            raise DataError(f"The folder of results store {self.path} does not exist; create it or pass another --store.")

        def add_run(temp: Path, existed: bool) -> None:
            with open_hdf5(temp, "a" if existed else "w") as root:
                if existed:
                    check_store_root(root, str(self.path))
                else:
                    init_store_root(root, utc_now())
                runs = root.require_group(RUNS_GROUP)
                if record.run_id in runs:
                    raise PhenbenchError(
                        f"Run id {record.run_id} is already in {self.path}; stored runs are never "
                        "replaced: make a new id with make_run_id()."
                    )
                write_run_group(runs, record)

        # Through a symbolic link, replace (and lock) the file it points to, not the link.
        target = Path(os.path.realpath(self.path))
        with exclusive_lock(target, self.lock_timeout):
            remove_stale_temps(target)
            if target.exists():
                with self._open():  # refuse to build on a corrupt or foreign file: never lose it
                    pass
            publish_changed_copy(target, add_run)

    def check_writable(self) -> None:
        """Refuse, before hours of fitting, a store that `write` would refuse at the end: a folder,
        a missing or read-only folder, a foreign, damaged or newer-schema file."""
        if self.path.is_dir():
            raise DataError(f"Results store path {self.path} is a folder; pass a file name such as {self.path}/results.h5.")
        folder = Path(os.path.realpath(self.path)).parent
        if not folder.is_dir():
            raise DataError(f"The folder of results store {self.path} does not exist; create it or pass another --store.")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise DataError(f"The folder of results store {self.path} is not writable; pass another --store.")
        if self.path.exists():
            with self._open() as root:
                root[RUNS_GROUP]  # a store without its runs group is damaged: _open says so

    def merge(self, source: "ResultsStore") -> tuple[list[str], list[str]]:
        """Add every run of `source` (another store, or a run kept when its store refused it) that
        this store lacks. Returns (added, already present) run ids; stored runs are never replaced."""
        incoming = source.run_ids()  # refuses a missing, foreign or damaged source first
        if self.path.exists() and os.path.samefile(self.path, source.path):
            raise PhenbenchError(f"{source.path} is the store itself; merge another store into it.")
        present = set(self.run_ids()) if self.exists() else set()
        added, skipped = [], []
        for run_id in incoming:
            if run_id in present:
                skipped.append(run_id)
                continue
            self.write(source.read(run_id, samples=True))
            added.append(run_id)
        return added, skipped

    # ------------------------------------------------------------ reading

    @contextlib.contextmanager
    def _open(self) -> Iterator[h5py.File]:
        """Open the live store read-only, turning every way it can be unusable into a DataError."""
        if not self.path.exists():
            raise DataError(
                f"Results store {self.path} does not exist; `phenbench run` creates it, or pass "
                "--store with the path of an existing store."
            )
        if self.path.is_dir():
            raise DataError(f"Results store path {self.path} is a folder, not an HDF5 file; pass the .h5 file.")
        try:
            # The live file is only ever replaced, never written in place, so readers need no HDF5 lock.
            root = open_hdf5(self.path, "r")
        except OSError as exc:
            raise DataError(
                f"{self.path} is not a readable HDF5 results store ({_first_line(exc)}); it may be "
                "corrupt or another kind of file: pass --store with another path (phenbench never "
                "overwrites it)."
            ) from None
        with root:
            try:
                # Inside the try: a damaged root attribute heap fails here, as a DataError.
                check_store_root(root, str(self.path))
                yield root
            except PhenbenchError:
                raise
            except (OSError, RuntimeError, KeyError, ValueError, AttributeError) as exc:
                # h5py's ways of saying that part of the file is damaged (bad checksums, broken
                # links, undecodable chunks): the store opened, but this part cannot be read.
                raise DataError(
                    f"{self.path} is damaged: reading it failed ({type(exc).__name__}: {_first_line(exc)}). "
                    "phenbench never overwrites it; restore it from a backup, or pass --store with another path."
                ) from None

    def run_ids(self) -> list[str]:
        """Every stored run id, in start-time order."""
        with self._open() as root:
            headers = [read_run_header(group) for group in root[RUNS_GROUP].values()]
        return [h["run_id"] for h in sorted(headers, key=lambda h: (h["started"], h["run_id"]))]

    def resolve(self, run_id: str) -> str:
        """The stored id `run_id` names: itself, or the one stored id it is a prefix of."""
        known = self.run_ids()
        if run_id in known:
            return run_id
        matches = [k for k in known if run_id and k.startswith(run_id)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise PhenbenchError(
                f"Run id prefix '{run_id}' matches {len(matches)} runs in {self.path} "
                f"({', '.join(matches[:5])}{', ...' if len(matches) > 5 else ''}); give more of the id."
            )
        raise UnknownRunError(run_id, known, self.path)

    def read(self, run_id: str, samples: bool = False) -> RunRecord:
        """The stored run `run_id` (or a unique prefix of it); images only if `samples`."""
        resolved = self.resolve(run_id)
        with self._open() as root:
            fields = read_run_group(root[RUNS_GROUP][resolved], samples=samples)
        return RunRecord(**fields)

    def runs_frame(self) -> pd.DataFrame:
        """One row per run, in start-time order (columns: RUN_COLUMNS)."""
        with self._open() as root:
            rows = [read_run_header(group) for group in root[RUNS_GROUP].values()]
        frame = pd.DataFrame(rows, columns=RUN_COLUMNS)
        return frame.sort_values(["started", "run_id"], kind="stable").reset_index(drop=True)

    def timings(self, run_ids: list[str]) -> dict[str, dict[str, float]]:
        """The stored timings (fit_seconds, translate_seconds, ...) of each run, without its metrics."""
        return self._each_run(run_ids, read_timings)

    def configs(self, run_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The stored configs of each run (run, translator, dataset, data spec, ...), without its metrics."""
        return self._each_run(run_ids, read_configs)

    def _each_run(self, run_ids: list[str], read: Callable[[h5py.Group], Any]) -> dict[str, Any]:
        """`read` of each named run's group, in one open of the file; an unknown id is refused."""
        with self._open() as root:
            runs = root[RUNS_GROUP]
            unknown = [r for r in run_ids if r not in runs]
            if unknown:
                raise UnknownRunError(unknown[0], sorted(runs), self.path)
            return {r: read(runs[r]) for r in run_ids}

    def metrics_frame(self, run_ids: list[str] | None = None) -> pd.DataFrame:
        """One row per stored value (columns: METRIC_COLUMNS); condition "pooled" for pooled values
        and `is_floor` for real-vs-real floors; value NaN where missing, with the reason. Only the
        runs `run_ids` if given (faster on a large store)."""
        rows = []
        with self._open() as root:
            runs = root[RUNS_GROUP]
            if run_ids is None:
                groups = list(runs.values())
            else:
                unknown = [r for r in run_ids if r not in runs]
                if unknown:
                    raise UnknownRunError(unknown[0], sorted(runs), self.path)
                groups = [runs[r] for r in run_ids]
            headers = [(read_run_header(g), g) for g in groups]
            for header, group in sorted(headers, key=lambda hg: (hg[0]["started"], hg[0]["run_id"])):
                run = {k: header[k] for k in ("run_id", "translator", "dataset")}
                rows += [{**run, **row} for row in read_value_rows(group)]
        frame = pd.DataFrame(rows, columns=METRIC_COLUMNS)
        for column in ("value", "ci_low", "ci_high"):
            frame[column] = frame[column].astype("float64")
        frame["n"] = frame["n"].astype("int64")
        frame["higher_is_better"] = frame["higher_is_better"].astype(bool)
        frame["ideal"] = frame["ideal"].astype("float64")  # NaN: no ideal value
        frame["is_floor"] = frame["is_floor"].astype(bool)
        return frame


def open_hdf5(path: Path, mode: str) -> h5py.File:
    """Open without HDF5's own file locking where the HDF5 library supports turning it off: the
    live store is never written in place (see store_file), and that locking fails on some
    network file systems."""
    try:
        return h5py.File(path, mode, locking=False)
    except ValueError as exc:  # HDF5 older than 1.12.1 / 1.10.7 has no locking switch
        if "locking" not in str(exc):
            raise
        return h5py.File(path, mode)


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _check_record(record: RunRecord) -> None:
    """Reject records that would store something misleading, before taking the lock."""
    check_run_id(record.run_id)
    where = f"run {record.run_id}"
    if record.status not in STATUSES:
        raise PhenbenchError(f"{where}: status {record.status!r} must be one of {', '.join(STATUSES)}.")
    if record.status == "failed" and not record.error:
        raise PhenbenchError(f"{where}: a failed run needs its error message in RunRecord.error.")
    if isinstance(record.seed, bool) or not isinstance(record.seed, (int, np.integer)):
        raise PhenbenchError(f"{where}: seed must be an integer, got {record.seed!r}.")
    for name in ("started", "ended"):
        value = getattr(record, name)
        try:
            datetime.fromisoformat(value)
        except (TypeError, ValueError):
            raise PhenbenchError(f"{where}: {name} {value!r} is not an ISO 8601 time; use utc_now().") from None
    for name in ("translator", "dataset", "dataset_hash"):
        if not isinstance(getattr(record, name), str):
            raise PhenbenchError(f"{where}: {name} must be a string, got {getattr(record, name)!r}.")
    names = [m.name for m in record.metrics]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise PhenbenchError(f"{where}: metric(s) {', '.join(duplicates)} appear twice; each measure is stored once.")
