"""The HTML comparison report: `phenbench report --store results.h5 --out DIR` (see docs/report.md).

The names below are imported on first use, so that registering the `report` command (importing
`phenbench.report.plugin`) loads nothing heavy.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["ReportOptions", "build_report", "render_report"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("phenbench.report.build"), name)
    raise AttributeError(f"module 'phenbench.report' has no attribute '{name}'")
