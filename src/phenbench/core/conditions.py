"""Condition names and the name <-> index map that a dataset owns.

A condition is a name: the control alone (`DMSO`) or `compound@concentration`
(`cyclohexamide@15`, concentrations in the dataset's unit, printed without trailing zeros).
Translators receive indices; stores and tables see names. The dataset also knows the dose order
within each compound, which dose-response metrics and reports rely on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from phenbench.core.errors import UnknownNameError

DOSE_SEPARATOR = "@"


def format_concentration(concentration: float) -> str:
    """`15.0` -> `"15"`, `0.003` -> `"0.003"`: short, stable, and round-trips through float()."""
    if not math.isfinite(concentration):
        raise ValueError(f"concentration must be finite, got {concentration}")
    text = f"{concentration:.6g}"
    return text


def condition_name(compound: str, concentration: float | None = None) -> str:
    """The condition name for a compound at a concentration (None for the control)."""
    if concentration is None:
        return compound
    return f"{compound}{DOSE_SEPARATOR}{format_concentration(float(concentration))}"


@dataclass(frozen=True)
class Condition:
    """One condition: its name, compound and concentration (None for a control)."""

    name: str
    compound: str
    concentration: float | None

    @classmethod
    def parse(cls, name: str) -> "Condition":
        """Split `compound@concentration`; a name without `@` is a control or an unordered class."""
        compound, sep, dose = name.rpartition(DOSE_SEPARATOR)
        if not sep:
            return cls(name=name, compound=name, concentration=None)
        try:
            return cls(name=name, compound=compound, concentration=float(dose))
        except ValueError:
            return cls(name=name, compound=name, concentration=None)


class ConditionSet:
    """The ordered conditions of a dataset: names, indices, controls and dose order.

    Index order is the order given; it never changes for a trained model, because the model's
    class embeddings are indexed by it.
    """

    def __init__(self, names: Sequence[str], control: str | None = "DMSO"):
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate condition names in {list(names)}")
        if not names:
            raise ValueError("a dataset needs at least one condition")
        self._names = tuple(names)
        self._index = {name: i for i, name in enumerate(self._names)}
        self._parsed = tuple(Condition.parse(n) for n in self._names)
        self.control = control if control in self._index else None

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    def __len__(self) -> int:
        return len(self._names)

    def __iter__(self):
        return iter(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def index(self, name: str) -> int:
        """The index of `name`, or a clear error with the closest known names."""
        try:
            return self._index[name]
        except KeyError:
            raise UnknownNameError("condition", name, self._names) from None

    def indices(self, names: Iterable[str]) -> list[int]:
        return [self.index(n) for n in names]

    def name(self, index: int) -> str:
        return self._names[int(index)]

    def condition(self, name: str) -> Condition:
        return self._parsed[self.index(name)]

    def compounds(self) -> list[str]:
        """Compounds with at least one dosed condition, in first-appearance order."""
        seen: dict[str, None] = {}
        for c in self._parsed:
            if c.concentration is not None:
                seen.setdefault(c.compound, None)
        return list(seen)

    def dose_series(self, compound: str) -> list[str]:
        """The conditions of one compound in increasing concentration."""
        series = [c for c in self._parsed if c.compound == compound and c.concentration is not None]
        if not series:
            raise UnknownNameError("compound", compound, self.compounds())
        return [c.name for c in sorted(series, key=lambda c: c.concentration)]

    def to_dict(self) -> dict:
        return {"names": list(self._names), "control": self.control}

    @classmethod
    def from_dict(cls, data: dict) -> "ConditionSet":
        return cls(data["names"], control=data.get("control"))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ConditionSet) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"ConditionSet({list(self._names)!r}, control={self.control!r})"


def split_conditions(values: tuple[str, ...]) -> tuple[str, ...]:
    """`--target a,b --target c` -> ("a", "b", "c"). Condition names hold no commas."""
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())
