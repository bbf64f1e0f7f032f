"""Training checkpoints: everything a resumed fit needs to continue the same loss curve.

A checkpoint holds the networks, the optimizers, the random generator's state, the step counter,
the loss history and the seconds spent so far. It is written atomically (a temporary file, then a
rename), so a fit killed while writing leaves the previous checkpoint intact.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from phenbench.core.errors import PhenbenchError

CHECKPOINT_FILE = "cyclegan-training.pt"
# Config fields a resumed fit may change: the run length and how translation is batched.
RESUMABLE_CHANGES = frozenset({"steps", "translate_batch_size"})


def save_checkpoint(directory: Path, state: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / CHECKPOINT_FILE
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(directory: Path | None, config: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any] | None:
    """The checkpoint in `directory`, if any, after checking it belongs to this model and data."""
    if directory is None or not (directory / CHECKPOINT_FILE).exists():
        return None
    path = directory / CHECKPOINT_FILE
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # a truncated or foreign file
        raise PhenbenchError(f"Cannot read the checkpoint {path} ({exc}); delete it or use another --checkpoint.") from None
    if state.get("spec") != spec:
        raise PhenbenchError(
            f"The checkpoint {path} was written for other data (channels, size or conditions differ); "
            "use another --checkpoint directory."
        )
    saved = state.get("config", {})
    changed = sorted(k for k in set(saved) | set(config) if k not in RESUMABLE_CHANGES and saved.get(k) != config.get(k))
    if changed:
        raise PhenbenchError(
            f"The checkpoint {path} was written with a different CycleGAN config ({', '.join(changed)}); "
            "resume with the same config or use another --checkpoint directory."
        )
    return state
