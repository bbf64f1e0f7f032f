"""Every built-in metric is registered, importable, documented and strict about its options."""

from __future__ import annotations

import pytest

from phenbench.core.errors import ConfigError
from phenbench.core.metric import Metric, Need
from phenbench.core.plugins import load_registries

OURS = ["fid", "kid", "reconstruction", "cellprofiler", "fd-cellprofiler", "classifier", "effect", "dose-response",
        "moa-accuracy"]


@pytest.fixture(scope="module")
def registry():
    return load_registries(entry_points=False).metrics


@pytest.mark.parametrize("name", OURS)
def test_metric_is_registered_and_declares_itself(registry, name):
    cls = registry.load(name)
    assert issubclass(cls, Metric) and cls.name == name
    assert cls.summary and registry.get(name).summary
    assert cls.needs and all(isinstance(n, Need) for n in cls.needs)
    assert isinstance(cls.higher_is_better, bool)
    cls()  # defaults are valid


@pytest.mark.parametrize("name", OURS)
def test_unknown_option_is_a_config_error_listing_the_valid_ones(registry, name):
    cls = registry.load(name)
    with pytest.raises(ConfigError, match="Valid keys: .*bootstrap"):
        cls(bootsrap=3)


def test_a_misspelled_metric_name_gets_a_suggestion(registry):
    with pytest.raises(Exception, match="Did you mean: fd-cellprofiler"):
        registry.get("fd-cellprofile")
