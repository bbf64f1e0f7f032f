"""Hostile files for the robustness tests: a checkpoint that would run code if it were unpickled."""

from __future__ import annotations

from pathlib import Path

import torch


class _CreatesAFile:
    """Unpickling this calls `open(marker, "w")`: the file appearing means code ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def write_crafted_checkpoint(path: Path, marker: Path, payload: dict | None = None) -> Path:
    """A `torch.save` file whose loading with weights_only=False would create `marker`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({**(payload or {}), "step": 1, "spec": _CreatesAFile(marker)}, path)
    return path
