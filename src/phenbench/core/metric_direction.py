"""How a measure's direction is written in tables, without importing torch (tables load fast)."""

from __future__ import annotations


def direction_symbol(higher_is_better: bool, ideal: float | None = None) -> str:
    """↑ higher is better, ↓ lower is better, →1 closest to 1 is best (a measure with an ideal value)."""
    if ideal is not None:
        return f"→{ideal:g}"
    return "↑" if higher_is_better else "↓"
