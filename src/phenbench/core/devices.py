"""The device a process uses when none is named: its own GPU under a launcher, else the CPU."""

from __future__ import annotations

import os


def default_device() -> str:
    """This process's GPU under `accelerate launch` / torchrun (LOCAL_RANK), the only GPU, or the CPU."""
    import torch

    if not torch.cuda.is_available():
        return "cpu"
    # modulo: more processes than GPUs share them rather than asking for a GPU that is not there
    return f"cuda:{int(os.environ.get('LOCAL_RANK', '0')) % torch.cuda.device_count()}"
