"""Which fields (or cells) of a screen to use: by treatment, dose, plate and mechanism of action.

Shared by every screen: the LoadData preparation selects fields with it, the `screen` and `bbbc021`
datasets select cells of a prepared cache with it. A data set with named condition sets (BBBC021's
`paper-25`) subclasses it and fills `named_sets`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from phenbench.core.errors import ConfigError, DataError, UnknownNameError


@dataclass(frozen=True)
class FieldSelection:
    """Which cells to use: by named set, compound, concentration, plate and MoA (empty = all)."""

    subset: str | None = None  # a name of `named_sets`
    compounds: tuple[str, ...] = ()
    concentrations: tuple[float, ...] = ()
    plates: tuple[str, ...] = ()
    moas: tuple[str, ...] = ()
    include_control: bool = True

    named_sets: ClassVar[dict[str, tuple[str, ...]]] = {}  # set name -> its compounds (+ the control)
    subset_kind: ClassVar[str] = "subset"
    moa_missing: ClassVar[str] = "Selecting by MoA needs a moa column in the data."

    def mask(self, table: pd.DataFrame, control: str = "DMSO") -> np.ndarray:
        """True for rows of `table` (columns compound, concentration, plate[, moa]) that are selected."""
        keep = np.ones(len(table), dtype=bool)
        is_control = (table["compound"] == control).to_numpy()
        compounds = list(self.compounds)
        if self.subset is not None:
            if self.subset not in self.named_sets:
                raise UnknownNameError(self.subset_kind, self.subset, self.named_sets)
            compounds += list(self.named_sets[self.subset])
        if compounds:
            known = sorted(set(table["compound"]))
            for name in compounds:
                if name not in known:
                    raise UnknownNameError("compound", name, known)
            keep &= table["compound"].isin(compounds).to_numpy()
        if self.concentrations:
            wanted = np.asarray(self.concentrations, dtype=float)
            values = table["concentration"].to_numpy(dtype=float)
            keep &= np.isclose(values[:, None], wanted[None, :], rtol=1e-6, atol=1e-12).any(axis=1)
        if self.moas:
            if "moa" not in table.columns:
                raise ConfigError(self.moa_missing)
            known = sorted(set(table["moa"]) - {""})
            for name in self.moas:
                if name not in known:
                    raise UnknownNameError("mechanism of action", name, known)
            keep &= table["moa"].isin(self.moas).to_numpy()
        if self.include_control:
            keep |= is_control
        else:
            keep &= ~is_control
        if self.plates:
            known = sorted(set(table["plate"]))
            for name in self.plates:
                if name not in known:
                    raise UnknownNameError("plate", name, known)
            keep &= table["plate"].isin(self.plates).to_numpy()
        if not keep.any():
            raise DataError(f"The selection {self} matches no cells; widen it.")
        return keep
