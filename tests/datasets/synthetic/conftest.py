"""Shared worlds for the synthetic-dataset tests: small, so that each test renders in seconds."""

from __future__ import annotations

import pytest

from phenbench.datasets.synthetic.adapter import SyntheticDataset
from phenbench.datasets.synthetic.config import SyntheticConfig


@pytest.fixture(scope="package")
def default_world() -> SyntheticDataset:
    """The default world, shared: its split cache fills once for the whole package."""
    return SyntheticDataset(SyntheticConfig())


@pytest.fixture
def tiny_config() -> SyntheticConfig:
    return SyntheticConfig(train_per_condition=3, test_per_condition=2)
