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


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": 3}, "Outer: name must be a string, got 3."),
        ({"maybe": "four"}, "Outer: maybe must be an integer or null, got 'four'."),
        ({"maybe": 1.5}, "Outer: maybe must be an integer or null, got 1.5."),
        ({"maybe": True}, "Outer: maybe must be an integer or null, got True."),
        ({"pair": [1]}, "Outer: pair must be a list of 2 values, got [1]."),
        ({"pair": [1, "b"]}, "Outer: pair[1] must be an integer, got 'b'."),
        ({"inner": [1, 2]}, "Outer: inner must be a mapping of Inner options, got [1, 2]."),
        ({"inner": {"sizes": ["x"]}}, "Outer: inner: sizes[0] must be an integer, got 'x'."),
        ({"inner": {"rate": "fast"}}, "Outer: inner: rate must be a number, got 'fast'."),
    ],
)
def test_a_wrong_type_names_its_field(data, message) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_dict(Outer, data)
    assert str(caught.value) == message


def test_numbers_are_converted_where_that_loses_nothing() -> None:
    import numpy as np

    loaded = config_from_dict(Outer, {"inner": {"rate": "1e-4", "sizes": [np.int64(3)]}, "maybe": np.int32(2)})
    assert loaded.inner.rate == 1e-4 and type(loaded.inner.rate) is float  # YAML 1.1 reads 1e-4 as a string
    assert loaded.inner.sizes == (3,) and type(loaded.inner.sizes[0]) is int and type(loaded.maybe) is int
    with pytest.raises(ConfigError, match="rate must be a number, got 'nan'"):
        config_from_dict(Outer, {"inner": {"rate": "nan"}})
    with pytest.raises(ConfigError, match="Outer must be a mapping"):
        config_from_dict(Outer, [1, 2])


def test_an_optional_nested_config_names_the_inner_field() -> None:
    @dataclass(frozen=True)
    class Holder:
        inner: Inner | None = None

    with pytest.raises(ConfigError, match=r"^Holder: inner: rate must be a number, got 'fast'.$"):
        config_from_dict(Holder, {"inner": {"rate": "fast"}})
    assert config_from_dict(Holder, {"inner": None}).inner is None
