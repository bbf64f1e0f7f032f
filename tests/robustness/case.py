"""One corpus case: a `phenbench` command line, what it must answer, and how to set its folder up.

A case runs in its own folder (its working directory). `{w}` in its arguments is the shared world
(world.py), which no case may change; anything a case alters it first copies into its own folder.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

Setup = Callable[[Path, Path], None]  # (case folder, world)
Check = Callable[[Path, Path], None]


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]  # after `phenbench`
    exit: int = 2  # 2: refused with one line; 0: valid input, done
    says: tuple[str, ...] = ()  # what the error line must name (the file, the field, the flag)
    setup: tuple[Setup, ...] = ()
    may_change: tuple[str, ...] = ()  # files of the case folder a successful case is meant to change
    check: Check | None = None  # further assertions on what a successful case wrote
    timeout: float = 120.0

    def arguments(self, world: Path) -> list[str]:
        return [a.replace("{w}", str(world)) for a in self.args]


def copy(*names: str, to: str | None = None) -> Setup:
    """Copy world files or folders into the case folder (under their own names, or `to`)."""

    def setup(case: Path, world: Path) -> None:
        for name in names:
            source, target = world / name, case / (to or Path(name).name)
            if source.is_dir():
                shutil.copytree(source, target)
            else:
                shutil.copy2(source, target)

    return setup


def write(name: str, content: str | bytes) -> Setup:
    """Create a file in the case folder (folders on the way included)."""

    def setup(case: Path, world: Path) -> None:
        path = case / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)

    return setup


def folder(name: str) -> Setup:
    def setup(case: Path, world: Path) -> None:
        (case / name).mkdir(parents=True, exist_ok=True)

    return setup


def edit_manifest(name: str, row: int, column: str, value: str) -> Setup:
    """Change one cell of the crop manifest `name`/manifest.csv (a copy in the case folder)."""

    def setup(case: Path, world: Path) -> None:
        import pandas as pd

        path = case / name / "manifest.csv"
        table = pd.read_csv(path, dtype=str)
        table.loc[row, column] = value
        table.to_csv(path, index=False)

    return setup


def rewrite_npz(name: str, change: Callable) -> Setup:
    """Replace the crops of `name` (a case-folder npz) by `change(crops)`."""

    def setup(case: Path, world: Path) -> None:
        import numpy as np

        with np.load(case / name) as saved:
            crops = saved["crops"]
        np.savez(case / name, crops=change(crops))

    return setup
