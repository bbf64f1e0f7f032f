"""Training checkpoints: everything a killed fit needs to continue exactly where it was.

A checkpoint is a folder `step-000123/` holding `state.pt` (live weights, optimizer, LR scheduler,
EMA, step counter, loss and learning-rate history, RNG states). It is written into a temporary
folder and renamed, then the `latest` file is replaced to point at it: a kill at any moment
leaves the previous checkpoint intact and `latest` naming a complete one. It holds only tensors
and plain values, and is read back with torch's restricted unpickler (core/safe_checkpoint.py):
a crafted `state.pt` in a shared `runs/` folder is refused, never run.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path
from typing import Any

import torch

from phenbench.core.errors import PhenbenchError
from phenbench.core.safe_checkpoint import load_checkpoint_state, numpy_rng_state, restore_numpy_rng_state

LATEST = "latest"
STATE = "state.pt"
KEEP = 2  # checkpoints kept on disk (the newest ones)


def rng_states() -> dict[str, Any]:
    states = {"torch": torch.get_rng_state(), "numpy": numpy_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    restore_numpy_rng_state(states["numpy"])
    random.setstate(states["python"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save_checkpoint(directory: Path, step: int, state: dict[str, Any]) -> Path:
    """Write `state` as the checkpoint of `step`, atomically, and prune older ones."""
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"step-{step:09d}"
    temporary = directory / f".step-{step:09d}.tmp"
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir()
    torch.save(state, temporary / STATE)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(temporary, final)
    pointer = directory / (LATEST + ".tmp")
    pointer.write_text(final.name + "\n")
    os.replace(pointer, directory / LATEST)
    for old in sorted(directory.glob("step-*"))[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_latest_checkpoint(directory: Path | None) -> dict[str, Any] | None:
    """The state of the newest complete checkpoint in `directory`, or None when there is none."""
    if directory is None or not (directory / LATEST).exists():
        return None
    name = (directory / LATEST).read_text(errors="replace").strip()
    folder = directory / name
    if not name or Path(name).name != name or not (folder / STATE).is_file():
        raise PhenbenchError(
            f"{directory / LATEST} names no checkpoint folder beside it ({name!r}); delete {directory}, "
            "or run with --fresh to start the fit over."
        )
    state = load_checkpoint_state(folder / STATE, fix=f"delete {directory}, or run with --fresh to start the fit over")
    if not isinstance(state, dict):
        raise PhenbenchError(f"The checkpoint {folder / STATE} is not a PhenDiff training state; delete {directory}.")
    return state
