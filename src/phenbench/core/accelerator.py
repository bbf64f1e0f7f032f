"""One `accelerate.Accelerator` per fit, for translators trained with accelerate (PhenDiff, CellFlux)."""

from __future__ import annotations

from typing import Any

from phenbench.core.errors import ConfigError
from phenbench.core.sharding import close_at_exit


def make_accelerator(mixed_precision: str, device: str) -> Any:
    """An Accelerator for a fit on `device`. accelerate keeps its settings in a process-wide
    singleton that refuses a second mixed-precision mode; a fit in the same process with another
    mode resets it (the process-group part, shared by every fit, is kept). The LR schedule is
    stepped by the caller, once per optimizer step, never by accelerate."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    import torch

    if str(device).startswith("cuda:") and torch.cuda.is_available():
        # accelerate puts a one-process fit on the current GPU: make that the one asked for
        # (under a launcher, default_device already names this process's own GPU).
        torch.cuda.set_device(torch.device(device))
    state = AcceleratorState._shared_state
    if state and str(state.get("_mixed_precision", mixed_precision)) != mixed_precision:
        AcceleratorState._reset_state(reset_partial_state=False)
    close_at_exit()  # under a launcher the Accelerator joins a process group
    try:
        return Accelerator(
            cpu=str(device) == "cpu",
            mixed_precision=mixed_precision,
            step_scheduler_with_optimizer=False,
        )
    except (ValueError, RuntimeError) as exc:
        raise ConfigError(
            f"accelerate cannot run mixed_precision='{mixed_precision}' on device "
            f"'{device}' ({str(exc).splitlines()[0]}); use mixed_precision='no' there."
        ) from None
