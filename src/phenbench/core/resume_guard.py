"""Refusing a resume on another number of processes.

A fit's data order is a function of (seed, step, rank) over all its processes: resumed on another
process count, the same step would read other rows, and the loss curve would no longer be the one
an uninterrupted run draws. Such a resume is refused in one line rather than silently changed.
"""

from __future__ import annotations

from pathlib import Path

from phenbench.core.errors import ConfigError


def check_same_processes(saved: int | None, now: int, checkpoint_dir: Path | None) -> None:
    """Raise when a checkpoint written by `saved` processes is resumed by `now` (None: not recorded)."""
    if saved is not None and int(saved) != now:
        raise ConfigError(
            f"The checkpoint in {checkpoint_dir} was written by a fit on {int(saved)} process(es) and this fit runs on "
            f"{now}: its data order would change. Resume with {int(saved)} process(es), or run with --fresh to start over."
        )
