import pytest

from phenbench.core.conditions import Condition, ConditionSet, condition_name
from phenbench.core.errors import UnknownNameError


def test_names_and_parsing() -> None:
    assert condition_name("cyclohexamide", 15.0) == "cyclohexamide@15"
    assert condition_name("taxol", 0.003) == "taxol@0.003"
    assert condition_name("DMSO") == "DMSO"
    assert Condition.parse("latrunculin B@0.3") == Condition("latrunculin B@0.3", "latrunculin B", 0.3)
    assert Condition.parse("DMSO").concentration is None


def test_dose_order_is_by_concentration_not_by_index() -> None:
    conditions = ConditionSet(["DMSO", "drug@50", "drug@5", "other@1", "drug@15"])
    assert conditions.dose_series("drug") == ["drug@5", "drug@15", "drug@50"]
    assert conditions.compounds() == ["drug", "other"]
    assert conditions.control == "DMSO"
    assert conditions.index("drug@5") == 2 and conditions.name(4) == "drug@15"


def test_unknown_condition_suggests() -> None:
    conditions = ConditionSet(["DMSO", "cyclohexamide@15"])
    with pytest.raises(UnknownNameError, match="Did you mean: cyclohexamide@15"):
        conditions.index("cyclohexamide@1.5")
    with pytest.raises(UnknownNameError):
        conditions.dose_series("taxol")


def test_round_trip_and_duplicates() -> None:
    conditions = ConditionSet(["DMSO", "a@1"])
    assert ConditionSet.from_dict(conditions.to_dict()) == conditions
    with pytest.raises(ValueError):
        ConditionSet(["a", "a"])
