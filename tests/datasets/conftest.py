"""Fixtures shared by the dataset tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def crops_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache folder per test session, so the shared crops are converted once, not per test file."""
    return tmp_path_factory.mktemp("phenbench-cache")
