from dataclasses import dataclass, field

import pytest

from phenbench.core.config import config_from_dict, config_to_dict, load_config, replace_config, save_config
from phenbench.core.errors import ConfigError


@dataclass(frozen=True)
class Inner:
    rate: float = 0.1
    sizes: tuple[int, ...] = (1, 2)


@dataclass(frozen=True)
class Outer:
    name: str = "x"
    inner: Inner = field(default_factory=Inner)
    pair: tuple[int, int] = (3, 4)
    maybe: int | None = None


def test_round_trip_restores_tuples_and_nested_configs(tmp_path) -> None:
    config = Outer(name="y", inner=Inner(rate=2, sizes=(5, 6, 7)), pair=(1, 2), maybe=4)
    save_config(config, tmp_path / "c.json")
    loaded = load_config(Outer, tmp_path / "c.json")
    assert loaded == config
    assert isinstance(loaded.inner.sizes, tuple) and isinstance(loaded.inner.rate, float)


def test_unknown_keys_name_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match=r"Unknown key\(s\) 'nmae' in Outer. Valid keys: inner, maybe, name, pair."):
        config_from_dict(Outer, {"nmae": "z"})
    with pytest.raises(ConfigError, match="'speed'.*Valid keys: rate, sizes"):
        config_from_dict(Outer, {"inner": {"speed": 1}})


def test_replace_checks_keys_too() -> None:
    assert replace_config(Outer(), name="q").name == "q"
    with pytest.raises(ConfigError):
        replace_config(Outer(), colour="red")


def test_to_dict_is_json_plain() -> None:
    assert config_to_dict(Outer()) == {"name": "x", "inner": {"rate": 0.1, "sizes": [1, 2]}, "pair": [3, 4], "maybe": None}


def test_missing_and_corrupt_files_are_clear(tmp_path) -> None:
    with pytest.raises(ConfigError, match="is missing"):
        load_config(Outer, tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(Outer, tmp_path / "bad.json")
