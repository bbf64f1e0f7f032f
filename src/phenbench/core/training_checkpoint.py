"""Training checkpoints shared by translators: everything a resumed fit needs, written atomically.

A checkpoint holds whatever state dict a translator gives it (networks, optimizers, random
generator states, step counter, loss history, seconds spent). It is written to a temporary file
and renamed, so a fit killed while writing leaves the previous checkpoint intact. Loading checks
that the checkpoint belongs to the same data and config, allowing only the listed fields to change
(the run length, say), and refuses anything else with a one-line error. The file holds only tensors
and plain values and is read with torch's restricted unpickler (safe_checkpoint.py), so a crafted
checkpoint is refused without running anything.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from phenbench.core.errors import PhenbenchError
from phenbench.core.safe_checkpoint import load_checkpoint_state


class TrainingCheckpoints:
    """Save and load one translator's training checkpoint file in a directory."""

    def __init__(self, filename: str, model_name: str, resumable_changes: Iterable[str]):
        self.filename = filename
        self.model_name = model_name
        self.resumable_changes = frozenset(resumable_changes)

    def save(self, directory: Path, state: dict[str, Any]) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / self.filename
        tmp = path.with_name(path.name + ".tmp")
        torch.save(state, tmp)
        os.replace(tmp, path)
        return path

    def load(self, directory: Path | None, config: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any] | None:
        """The checkpoint in `directory`, if any, after checking it belongs to this model and data."""
        if directory is None or not (directory / self.filename).exists():
            return None
        path = directory / self.filename
        state = load_checkpoint_state(path, fix="delete it, or run with --fresh to start the fit over")
        if not isinstance(state, dict):
            raise PhenbenchError(f"The checkpoint {path} is not a {self.model_name} training state; delete it.")
        if state.get("spec") != spec:
            raise PhenbenchError(
                f"The checkpoint {path} was written for other data (channels, size or conditions differ); "
                "delete it, or run with --fresh to start the fit over."
            )
        saved = state.get("config", {})
        changed = sorted(
            k for k in set(saved) | set(config) if k not in self.resumable_changes and saved.get(k) != config.get(k)
        )
        if changed:
            raise PhenbenchError(
                f"The checkpoint {path} was written with a different {self.model_name} config ({', '.join(changed)}); "
                "resume with the same config, or run with --fresh to start the fit over."
            )
        return state
