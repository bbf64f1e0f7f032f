"""Where the shared real data lives (../shared beside the repository), and a skip when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED_BBBC021 = (REPO / ".." / "shared" / "data" / "bbbc021").resolve()
CROPS = SHARED_BBBC021 / "crops"
METADATA = SHARED_BBBC021 / "metadata"

requires_shared_bbbc021 = pytest.mark.skipif(
    not (CROPS / "manifest.csv").is_file() or not (METADATA / "BBBC021_v1_image.csv").is_file(),
    reason=f"the shared BBBC021 data is not at {SHARED_BBBC021} (clone the repo beside ../shared)",
)
