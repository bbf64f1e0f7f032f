"""The layout of the HDF5 results store: the one place that says where each field of a run lives.

`SCHEMA` below is the layout as data; `docs/results_store.md` is generated from it
(`python -m phenbench.core.store_schema`), and a test checks that the two agree. The functions
`write_run_group` and `read_run_group` are the only code that touches a run's HDF5 objects.

Names chosen by users (metric names such as `reconstruction/psnr`, condition names, array names)
may contain `/`, which HDF5 reads as a path separator, so they are stored as attributes or table
cells, never as HDF5 object names; objects under a run are named by position (`000`, `001`, ...).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

from phenbench.core.errors import DataError, PhenbenchError
from phenbench.core.metric_result import MetricResult, MetricValue

if TYPE_CHECKING:
    from phenbench.core.store import RunRecord

FORMAT_NAME = "phenbench-results"
SCHEMA_VERSION = 1
RUNS_GROUP = "runs"
POOLED = "pooled"  # the condition name of pooled values in tables and frames
PUBLISHED = " (published)"  # suffix of a protocol's published figures (protocols/published.py)
SAMPLE_KINDS = ("source", "translated", "reconstruction", "real", "counterfactual")
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+=-]{0,199}$")

STRING = h5py.string_dtype("utf-8")
# One row per stored MetricValue. NaN in value/ci_low/ci_high means None (a MetricValue never
# holds a non-finite value; a NaN confidence bound carries no information either).
VALUE_ROW = np.dtype(
    [
        ("scope", STRING),  # "condition", "pooled" or "floor"
        ("condition", STRING),
        ("value", np.float64),
        ("n", np.int64),
        ("ci_low", np.float64),
        ("ci_high", np.float64),
        ("missing", STRING),  # "" when the value is present
        # "" when the value has its interval or none was asked for; absent in stores written before it
        ("ci_missing", STRING),
    ]
)


@dataclass(frozen=True)
class Entry:
    """One documented HDF5 object or attribute of the layout."""

    path: str
    kind: str  # "attribute", "group", "dataset"
    dtype: str
    meaning: str


SCHEMA: tuple[Entry, ...] = (
    Entry("/", "group", "", "The store. Runs are only ever added, never changed in place."),
    Entry("/@format", "attribute", "str", f'Always "{FORMAT_NAME}".'),
    Entry("/@schema_version", "attribute", "int", f"Layout version ({SCHEMA_VERSION}); checked on every read."),
    Entry("/@created", "attribute", "str", "ISO 8601 UTC time the store was first written."),
    Entry("/runs", "group", "", "One group per run, named by its run id."),
    Entry("/runs/<run_id>", "group", "", "One run, complete or absent, never half."),
    Entry("/runs/<run_id>@run_id", "attribute", "str", "The run id (also the group name)."),
    Entry("/runs/<run_id>@translator", "attribute", "str", "Registered translator name."),
    Entry("/runs/<run_id>@dataset", "attribute", "str", "Registered dataset name."),
    Entry("/runs/<run_id>@preset", "attribute", "str", "Translator preset; absent when none was used."),
    Entry("/runs/<run_id>@status", "attribute", "str", '"complete" or "failed".'),
    Entry("/runs/<run_id>@seed", "attribute", "int64", "The run's seed."),
    Entry("/runs/<run_id>@started", "attribute", "str", "ISO 8601 UTC start time."),
    Entry("/runs/<run_id>@ended", "attribute", "str", "ISO 8601 UTC end time."),
    Entry("/runs/<run_id>@git_hash", "attribute", "str", "Commit of the phenbench checkout; absent outside git."),
    Entry("/runs/<run_id>@dataset_hash", "attribute", "str", "Content hash of the prepared dataset."),
    Entry("/runs/<run_id>@error", "attribute", "str", "Why a failed run failed; absent otherwise."),
    Entry("/runs/<run_id>/configs", "dataset", "scalar str (JSON)", '{"run": ..., "translator": ..., "dataset": ...}.'),
    Entry("/runs/<run_id>/versions", "dataset", "scalar str (JSON)", "Package -> version (phenbench, torch, plugins)."),
    Entry("/runs/<run_id>/timings", "dataset", "scalar str (JSON)", "fit_seconds, translate_seconds, ... (numbers)."),
    Entry("/runs/<run_id>/metrics", "group", "", "One group per measure, named 000, 001, ... in the run's order."),
    Entry("/runs/<run_id>/metrics/<k>@name", "attribute", "str", "Measure name, e.g. reconstruction/psnr."),
    Entry("/runs/<run_id>/metrics/<k>@higher_is_better", "attribute", "bool", "Direction of the measure."),
    Entry("/runs/<run_id>/metrics/<k>@unit", "attribute", "str", 'Unit; "" when none.'),
    Entry("/runs/<run_id>/metrics/<k>@ideal", "attribute", "float (optional)",
          "Target value where the best is the closest to it (e.g. 1 for phenotype-shift); absent otherwise."),
    Entry("/runs/<run_id>/metrics/<k>@rows_digest", "attribute", "str (optional)",
          "Digest of the evaluated rows (dataset hash, pairs, every image set's rows); absent in older stores."),
    Entry("/runs/<run_id>/metrics/<k>@options_digest", "attribute", "str (optional)",
          "Digest of the metric's name, class and value-relevant options; absent in older stores."),
    Entry(
        "/runs/<run_id>/metrics/<k>/values",
        "dataset",
        "compound table",
        "Rows (scope, condition, value, n, ci_low, ci_high, missing, ci_missing); scope is condition, pooled "
        "or floor (real-vs-real); NaN value or bound means none; missing is the reason a value is absent, "
        "ci_missing the reason a value has no interval where one was asked for (not in stores written before it).",
    ),
    Entry("/runs/<run_id>/metrics/<k>/arrays", "group", "", "Extra arrays of the measure (e.g. histograms)."),
    Entry(
        "/runs/<run_id>/metrics/<k>/arrays/<j>",
        "dataset",
        "array of numbers or strings",
        "One array; @name is its key; @text marks UTF-8 text (read back as numpy str).",
    ),
    Entry("/runs/<run_id>/samples", "group", "", "A few images per target condition, for reports."),
    Entry("/runs/<run_id>/samples/<k>@condition", "attribute", "str", "The target condition of these samples."),
    Entry(
        "/runs/<run_id>/samples/<k>/<kind>",
        "dataset",
        "float16 N x C x H x W",
        "kind is source, translated, reconstruction, real (real images of the condition) or "
        "counterfactual (the true one, synthetic worlds); images in [-1, 1], gzip-compressed.",
    ),
)


def check_run_id(run_id: str) -> None:
    """A run id must be usable as an HDF5 group name and on a command line."""
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.match(run_id):
        raise PhenbenchError(
            f"Invalid run id {run_id!r}: use letters, digits and _ . @ + = - (at most 200 characters, "
            "no '/'); make_run_id() builds a valid one."
        )


def check_store_root(root: h5py.File, where: str) -> None:
    """Refuse files that are not a phenbench store or that a newer phenbench wrote."""
    if root.attrs.get("format") != FORMAT_NAME:
        raise DataError(
            f"{where} is an HDF5 file but not a phenbench results store (no format={FORMAT_NAME!r} "
            "attribute); pass --store with the path of a results store or a new file name."
        )
    version = int(root.attrs.get("schema_version", -1))
    if version > SCHEMA_VERSION:
        raise DataError(
            f"{where} uses results-store schema {version}, newer than this phenbench reads "
            f"({SCHEMA_VERSION}); upgrade phenbench to read it."
        )
    if version < 1:
        raise DataError(f"{where} has an invalid schema_version ({version}); it was not written by phenbench.")


def init_store_root(root: h5py.File, created: str) -> None:
    root.attrs["format"] = FORMAT_NAME
    root.attrs["schema_version"] = SCHEMA_VERSION
    root.attrs["created"] = created
    root.require_group(RUNS_GROUP)


# ---------------------------------------------------------------- writing


def write_run_group(runs: h5py.Group, record: RunRecord) -> None:
    """Create `runs/<run_id>` holding every field of `record`."""
    group = runs.create_group(record.run_id)
    attrs = {
        "run_id": record.run_id,
        "translator": record.translator,
        "dataset": record.dataset,
        "status": record.status,
        "started": record.started,
        "ended": record.ended,
        "dataset_hash": record.dataset_hash,
    }
    for key, value in attrs.items():
        group.attrs[key] = str(value)
    group.attrs["seed"] = np.int64(record.seed)
    for key in ("preset", "git_hash", "error"):
        value = getattr(record, key)
        if value is not None:  # absent attribute = None, so "" stays distinguishable
            group.attrs[key] = str(value)
    for key in ("configs", "versions", "timings"):
        group.create_dataset(key, data=_to_json(getattr(record, key), f"{record.run_id}.{key}"), dtype=STRING)
    metrics = group.create_group("metrics")
    for index, result in enumerate(record.metrics):
        _write_metric(metrics.create_group(f"{index:03d}"), result)
    samples = group.create_group("samples")
    for index, (condition, images) in enumerate(record.samples.items()):
        _write_samples(samples.create_group(f"{index:03d}"), str(condition), images)


def _to_json(value: Any, where: str) -> str:
    try:
        return json.dumps(value, sort_keys=True, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise PhenbenchError(
            f"Cannot store {where} as JSON ({exc}); pass plain dicts, lists, numbers and strings."
        ) from None


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "__fspath__"):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON-able")


def _write_metric(group: h5py.Group, result: MetricResult) -> None:
    group.attrs["name"] = result.name
    group.attrs["higher_is_better"] = bool(result.higher_is_better)
    group.attrs["unit"] = result.unit or ""
    if result.ideal is not None:
        group.attrs["ideal"] = float(result.ideal)
    for key in ("rows_digest", "options_digest"):
        if getattr(result, key):
            group.attrs[key] = str(getattr(result, key))
    if POOLED in result.per_condition:
        raise PhenbenchError(
            f"Metric {result.name!r} has a condition named {POOLED!r}, which the store reserves for "
            "pooled values; rename that condition."
        )
    rows = [("condition", name, value) for name, value in result.per_condition.items()]
    rows.append(("pooled", POOLED, result.pooled))
    rows += [("floor", name, value) for name, value in result.floor.items()]
    table = np.array([_value_row(scope, name, value) for scope, name, value in rows], dtype=VALUE_ROW)
    group.create_dataset("values", data=table)
    arrays = group.create_group("arrays")
    for index, (name, array) in enumerate(result.arrays.items()):
        _write_array(arrays, f"{index:03d}", str(name), _as_numpy(array), result.name)


def _write_array(group: h5py.Group, key: str, name: str, data: np.ndarray, metric: str) -> None:
    """Numbers and byte strings as they are; text as UTF-8 strings, marked so it reads back as text."""
    text = data.dtype.kind == "U" or (data.dtype.kind == "O" and all(isinstance(x, str) for x in data.flat))
    if text:
        dataset = group.create_dataset(key, data=data.astype(object), dtype=STRING)
        dataset.attrs["text"] = True
    elif data.dtype.kind in "biufcS":
        dataset = group.create_dataset(key, data=data)
    else:
        raise PhenbenchError(
            f"Array {name!r} of metric {metric!r} has dtype {data.dtype}; the store keeps arrays of "
            "numbers or strings only (convert it, or drop it from MetricResult.arrays)."
        )
    dataset.attrs["name"] = name


def _read_array(dataset: h5py.Dataset) -> np.ndarray:
    if dataset.attrs.get("text", False):
        return np.asarray(dataset.asstr()[()], dtype=str)
    return dataset[()]


def _value_row(scope: str, condition: str, value: MetricValue) -> tuple:
    def number(x: float | None) -> float:
        return math.nan if x is None else float(x)

    return (
        scope,
        str(condition),
        number(value.value),
        int(value.n),
        number(value.ci_low),
        number(value.ci_high),
        value.missing or ("" if value.value is not None else "no reason given"),
        value.ci_missing or "",
    )


def _write_samples(group: h5py.Group, condition: str, images: dict[str, np.ndarray]) -> None:
    group.attrs["condition"] = condition
    for kind, array in images.items():
        if kind not in SAMPLE_KINDS:
            raise PhenbenchError(
                f"Unknown sample kind {kind!r} for condition {condition!r}; use one of {', '.join(SAMPLE_KINDS)}."
            )
        data = _as_numpy(array)
        if data.ndim != 4:
            raise PhenbenchError(
                f"Samples {kind!r} of condition {condition!r} have shape {tuple(data.shape)}; expected N x C x H x W."
            )
        group.create_dataset(kind, data=data.astype(np.float16), compression="gzip", shuffle=True)


def _as_numpy(array: Any) -> np.ndarray:
    if hasattr(array, "detach"):  # a torch tensor, without importing torch here
        array = array.detach().cpu().numpy()
    return np.asarray(array)


# ---------------------------------------------------------------- reading


def read_run_header(group: h5py.Group) -> dict[str, Any]:
    """The scalar fields of a run (cheap: attributes only)."""
    attrs = group.attrs
    return {
        "run_id": _text(attrs["run_id"]),
        "translator": _text(attrs["translator"]),
        "dataset": _text(attrs["dataset"]),
        "preset": _text(attrs["preset"]) if "preset" in attrs else None,
        "status": _text(attrs["status"]),
        "seed": int(attrs["seed"]),
        "started": _text(attrs["started"]),
        "ended": _text(attrs["ended"]),
        "git_hash": _text(attrs["git_hash"]) if "git_hash" in attrs else None,
        "dataset_hash": _text(attrs["dataset_hash"]),
        "error": _text(attrs["error"]) if "error" in attrs else None,
    }


def read_timings(group: h5py.Group) -> dict[str, float]:
    """A run's timings (cheap: one small JSON dataset)."""
    return json.loads(_text(group["timings"][()]))


def read_configs(group: h5py.Group) -> dict[str, Any]:
    """A run's configs (cheap: one small JSON dataset)."""
    return json.loads(_text(group["configs"][()]))


def read_run_group(group: h5py.Group, samples: bool) -> dict[str, Any]:
    """Every field of a run as RunRecord keyword arguments."""
    fields = read_run_header(group)
    for key in ("configs", "versions", "timings"):
        fields[key] = json.loads(_text(group[key][()]))
    fields["metrics"] = []
    for name in _in_order(group["metrics"]):
        metric = group["metrics"][name]
        per_condition, pooled, floor = {}, None, {}
        for row in metric["values"][()]:
            scope, condition, value = _text(row["scope"]), _text(row["condition"]), _row_value(row)
            if scope == "condition":
                per_condition[condition] = value
            elif scope == "pooled":
                pooled = value
            else:
                floor[condition] = value
        stored = [metric["arrays"][key] for key in _in_order(metric["arrays"])]
        arrays = {_text(array.attrs["name"]): _read_array(array) for array in stored}
        fields["metrics"].append(
            MetricResult(
                name=_text(metric.attrs["name"]),
                higher_is_better=bool(metric.attrs["higher_is_better"]),
                per_condition=per_condition,
                pooled=pooled,
                floor=floor,
                unit=_text(metric.attrs["unit"]),
                arrays=arrays,
                ideal=_ideal(metric),
                rows_digest=_optional_text(metric, "rows_digest"),
                options_digest=_optional_text(metric, "options_digest"),
            )
        )
    fields["samples"] = {}
    if samples:
        for name in _in_order(group["samples"]):
            sample = group["samples"][name]
            images = {kind: sample[kind][()] for kind in SAMPLE_KINDS if kind in sample}
            fields["samples"][_text(sample.attrs["condition"])] = images
    return fields


def _optional_text(metric: h5py.Group, key: str) -> str | None:
    # Absent in stores written before values recorded what they were computed on.
    return _text(metric.attrs[key]) if key in metric.attrs else None


def _ideal(metric: h5py.Group) -> float | None:
    # Absent in stores written before measures could have an ideal value; those had none.
    return float(metric.attrs["ideal"]) if "ideal" in metric.attrs else None


def read_value_rows(group: h5py.Group) -> list[dict[str, Any]]:
    """Every stored MetricValue of a run as plain rows (for data frames; no torch import)."""
    rows = []
    for name in _in_order(group["metrics"]):
        metric = group["metrics"][name]
        base = {
            "metric": _text(metric.attrs["name"]),
            "higher_is_better": bool(metric.attrs["higher_is_better"]),
            "unit": _text(metric.attrs["unit"]),
            "ideal": _ideal(metric),
            "rows_digest": _optional_text(metric, "rows_digest"),
            "options_digest": _optional_text(metric, "options_digest"),
        }
        for row in metric["values"][()]:
            missing = _text(row["missing"])
            rows.append(
                {
                    **base,
                    "condition": _text(row["condition"]),
                    "value": _optional(row["value"]),
                    "n": int(row["n"]),
                    "ci_low": _optional(row["ci_low"]),
                    "ci_high": _optional(row["ci_high"]),
                    "missing": missing or None,
                    "ci_missing": _ci_missing(row),
                    "is_floor": _text(row["scope"]) == "floor",
                }
            )
    return rows


def _row_value(row: np.void) -> MetricValue:
    return MetricValue(
        value=_optional(row["value"]),
        n=int(row["n"]),
        ci_low=_optional(row["ci_low"]),
        ci_high=_optional(row["ci_high"]),
        missing=_text(row["missing"]) or None,
        ci_missing=_ci_missing(row),
    )


def _ci_missing(row: np.void) -> str | None:
    """Why a value has no interval; None where it has one, or the store predates the column."""
    return (_text(row["ci_missing"]) or None) if "ci_missing" in (row.dtype.names or ()) else None


def _in_order(group: h5py.Group) -> list[str]:
    """Member names `000`, `001`, ... in the order they were written (numeric, past 999 too)."""
    return sorted(group, key=int)


def _optional(x: Any) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


# ---------------------------------------------------------------- documentation


def schema_markdown() -> str:
    """The layout table of docs/results_store.md."""
    lines = [
        f"Schema version {SCHEMA_VERSION}. `@name` is an attribute; `<k>`, `<j>` are positions "
        "written as three digits (`000`).",
        "",
        "| Path | Kind | Type | Meaning |",
        "| --- | --- | --- | --- |",
    ]
    for entry in SCHEMA:
        lines.append(f"| `{entry.path}` | {entry.kind} | {entry.dtype} | {entry.meaning} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(schema_markdown(), end="")
