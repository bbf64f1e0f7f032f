"""Two dataset options of the field's BBBC021 protocol: what a condition is, and which compounds are
held out of training.

- `conditions: compound@dose` (PhenDiff's: `taxol@0.3`, one condition per concentration) or
  `compound` (IMPA's and CellFlux's: `taxol`, all concentrations together). The prepared cache
  always stores compound@dose; the coarser labels are derived when reading, so one cache serves both.
- `held_out_compounds`: compounds whose training images are removed; their test images stay and
  are evaluated as unseen. IMPA and CellFlux hold out different lists (see docs/datasets.md), so
  the list is a config value, recorded with every run (and in the model's data spec).

MoA per condition: every image of a condition must carry the same mechanism of action (BBBC021
assigns one per compound); a condition whose images disagree has none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from phenbench.core.conditions import Condition
from phenbench.core.errors import ConfigError, UnknownNameError

CONDITION_LEVELS = ("compound@dose", "compound")


@dataclass(frozen=True)
class ConditionOptions:
    """Condition granularity and held-out compounds (mixed into a dataset's config)."""

    conditions: str = "compound@dose"  # or "compound": one condition per compound, doses pooled
    held_out_compounds: tuple[str, ...] = ()  # removed from training, evaluated as unseen


def condition_labels(dose_names: np.ndarray, level: str) -> np.ndarray:
    """The condition of every row at `level`, from its compound@dose name (the control stays as it is)."""
    if level not in CONDITION_LEVELS:
        raise ConfigError(f"conditions must be one of {', '.join(CONDITION_LEVELS)}, got {level!r}.")
    names = np.asarray(dose_names, dtype=object)
    if level == "compound@dose":
        return names
    unique, inverse = np.unique(names.astype(str), return_inverse=True)
    compounds = np.array([Condition.parse(name).compound for name in unique], dtype=object)
    return compounds[inverse]


def compound_of(condition: str) -> str:
    return Condition.parse(condition).compound


def held_out_conditions(names: Sequence[str], held_out: Sequence[str], control: str | None) -> tuple[str, ...]:
    """The conditions (of `names`) whose compound is held out; unknown compounds are refused."""
    if not held_out:
        return ()
    known = sorted({compound_of(n) for n in names} - {control})
    for compound in held_out:
        if compound == control:
            raise ConfigError(
                f"held_out_compounds names the control {control}: translations start from it, so it cannot "
                "be held out of training. Remove it from the list."
            )
        if compound not in known:
            raise UnknownNameError("held-out compound", compound, known)
    return tuple(n for n in names if compound_of(n) in set(held_out))


def moa_of_conditions(labels: np.ndarray, moa: pd.Series | np.ndarray | None) -> dict[str, str]:
    """Condition -> its MoA, where every annotated image of the condition agrees on one."""
    if moa is None:
        return {}
    frame = pd.DataFrame({"condition": np.asarray(labels, dtype=object).astype(str),
                          "moa": pd.Series(np.asarray(moa, dtype=object)).fillna("").astype(str).str.strip()})
    frame = frame[~frame["moa"].isin(["", "nan", "None"])]
    distinct = frame.drop_duplicates().groupby("condition")["moa"].agg(list)
    return {condition: values[0] for condition, values in distinct.items() if len(values) == 1}
