"""Refusing a resume that would not continue the fit it resumes.

A fit's data order is a function of (seed, step, rank) over all its processes: resumed on another
process count, the same step would read other rows, and the loss curve would no longer be the one
an uninterrupted run draws. Likewise a checkpoint written by a version of phenbench that drew its
batches another way (one random stream carried across steps, say). Such a resume is refused in
one line rather than silently changed.
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


def check_same_draws(saved: str | None, now: str, method: str, checkpoint_dir: Path | None) -> None:
    """Raise when a checkpoint's way of drawing batches (`saved`, None when it records none) is not `now`."""
    if saved != now:
        raise ConfigError(
            f"The {method} checkpoint in {checkpoint_dir} was written by an older phenbench that drew its batches "
            "differently, so a resumed fit would not continue it. Run with --fresh to start over, or finish it "
            "with the phenbench that wrote it."
        )
