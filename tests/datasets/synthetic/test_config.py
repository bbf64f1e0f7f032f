"""The world config: defaults, validation with one-line errors, and the YAML round trip."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from phenbench.core.config import config_from_dict, config_to_dict
from phenbench.core.errors import ConfigError, PhenbenchError
from phenbench.core.plugins import load_registries
from phenbench.core.registry import import_target
from phenbench.datasets.synthetic.adapter import SyntheticDataset
from phenbench.datasets.synthetic.config import SyntheticConfig, config_to_yaml

DOCS = Path(__file__).resolve().parents[3] / "docs" / "synthetic.md"


def test_default_world_has_dmso_first_then_each_compound_in_dose_order() -> None:
    world = SyntheticDataset()
    names = world.conditions.names
    assert names[0] == "DMSO" and world.conditions.control == "DMSO"
    assert len(names) == 9
    assert world.conditions.compounds() == ["shrinkin", "dispersin"]
    assert world.conditions.dose_series("shrinkin") == ["shrinkin@0.1", "shrinkin@0.3", "shrinkin@1", "shrinkin@3"]
    assert list(names[1:5]) == world.conditions.dose_series("shrinkin")
    assert world.spec.channels == ("DNA", "tubulin", "actin")
    assert world.spec.image_size == 64
    assert world.counts("train") == {n: 48 for n in names}
    assert world.counts("test") == {n: 16 for n in names}


def test_registered_as_synthetic() -> None:
    registration = load_registries(entry_points=False).datasets.get("synthetic")
    cls = import_target(registration.target)
    assert cls is SyntheticDataset
    assert cls.config_class is SyntheticConfig and cls.has_counterfactuals


def test_yaml_round_trip_gives_an_equal_world(tmp_path: Path) -> None:
    config = SyntheticConfig(seed=7, image_size=48, train_per_condition=5)
    path = tmp_path / "world.yaml"
    path.write_text(config_to_yaml(config))
    world = SyntheticDataset.from_yaml(path)
    assert world.config == config
    assert world.content_hash() == SyntheticDataset(config).content_hash()


def test_config_from_dict_builds_nested_compounds() -> None:
    data = config_to_dict(SyntheticConfig())
    data["compounds"][0]["effects"][0]["max_shift"] = -2
    config = config_from_dict(SyntheticConfig, data)
    assert config.compounds[0].effects[0].max_shift == -2.0
    assert isinstance(config.compounds[0].concentrations, tuple)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"image_sise": 64}, "Unknown key(s) 'image_sise'"),
        ({"noise": {"pixle": 0.1}}, "Unknown key(s) 'pixle'"),
        ({"cells": {"nucleus_radius": {"mean": 5, "spread": 1}}}, "Unknown key(s) 'spread'"),
        ({"image_size": 16}, "image_size must be in [32, 128]"),
        ({"image_size": 256}, "image_size must be in [32, 128]"),
        ({"max_cells": 9}, "max_cells must be in"),
        ({"min_cells": 3, "max_cells": 2}, "max_cells must be in [3,"),
        ({"train_per_condition": 0}, "train_per_condition must be in [1,"),
        ({"noise": {"pixel": -0.1}}, "noise.pixel must be >= 0"),
    ],
)
def test_bad_world_options_are_rejected_with_a_clear_message(change: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        config_from_dict(SyntheticConfig, change)


def _compound(**change) -> dict:
    compound = {
        "name": "blebbin",
        "concentrations": [1, 10],
        "ec50": 3,
        "hill_slope": 1,
        "effects": [{"parameter": "actin_intensity", "max_shift": -0.3}],
    }
    return {"compounds": [{**compound, **change}]}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"effects": [{"parameter": "golgi_size", "max_shift": 1}]}, "Unknown parameter 'golgi_size'"),
        ({"effects": [{"parameter": "actin_intensity", "max_shft": 1}]}, "Unknown key(s) 'max_shft'"),
        ({"concentrations": [10, 1]}, "must increase strictly"),
        ({"concentrations": [0, 1]}, "must be > 0"),
        ({"ec50": 0}, "ec50 of 'blebbin' must be > 0"),
        ({"name": "a@b"}, "without '@'"),
        ({"name": "DMSO"}, "differ from the control"),
        ({"effects": []}, "needs at least one effect"),
    ],
)
def test_bad_compounds_are_rejected(change: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        config_from_dict(SyntheticConfig, _compound(**change))


def test_a_user_world_with_one_compound() -> None:
    world = SyntheticDataset(config_from_dict(SyntheticConfig, _compound()))
    assert world.conditions.names == ("DMSO", "blebbin@1", "blebbin@10")
    assert world.hill_fraction("blebbin@1") == pytest.approx(0.25)
    assert world.hill_fraction("DMSO") == 0.0


def test_missing_or_broken_yaml_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        SyntheticDataset.from_yaml(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("seed: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        SyntheticDataset.from_yaml(broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n")
    with pytest.raises(PhenbenchError, match="must hold a mapping"):
        SyntheticDataset.from_yaml(listing)


def test_the_example_world_in_the_docs_loads(tmp_path: Path) -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOCS.read_text(), flags=re.S)
    assert blocks, "docs/synthetic.md must hold an example world in a ```yaml block"
    path = tmp_path / "example.yaml"
    path.write_text(blocks[0])
    world = SyntheticDataset.from_yaml(path)
    assert len(world.conditions) >= 9


def test_data_path_to_a_yaml_world_is_that_world(tmp_path: Path) -> None:
    path = tmp_path / "world.yaml"
    path.write_text("seed: 5\nimage_size: 32\n")
    world = SyntheticDataset(SyntheticConfig(root=str(path)))
    assert world.config.seed == 5 and world.spec.image_size == 32
    assert world.content_hash() == SyntheticDataset(SyntheticConfig(seed=5, image_size=32)).content_hash()
    with pytest.raises(ConfigError, match="given twice"):
        SyntheticDataset(SyntheticConfig(root=str(path), seed=1))
    # A root that is not a world file changes nothing: there are no files to read.
    assert SyntheticDataset(SyntheticConfig(root=str(tmp_path))).config == SyntheticConfig(root=str(tmp_path))
