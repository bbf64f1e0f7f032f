"""Where a run came from: library versions, the git commit of the code, timestamps, device."""

from __future__ import annotations

import platform
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

TRACKED_LIBRARIES = ("torch", "diffusers", "accelerate", "torch-fidelity", "numpy", "h5py", "cp-measure", "scikit-image")


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def library_versions(plugins: dict[str, str] | None = None) -> dict[str, str]:
    """phenbench, Python, the main libraries, and each loaded plugin's version."""
    from phenbench import __version__

    versions = {"phenbench": __version__, "python": platform.python_version()}
    for name in TRACKED_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    for plugin, version in (plugins or {}).items():
        versions[f"plugin:{plugin}"] = version
    return versions


def git_hash() -> str | None:
    """The commit of the phenbench source tree (with `-dirty` if modified), when it is a git checkout."""
    source = Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10,
        )
        return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def resolve_device(requested: str) -> str:
    """The device a run uses: `auto` picks this process's GPU when torch sees one (under a launcher,
    the one of its LOCAL_RANK), else the CPU. A device this
    machine lacks (`cuda:7` on one GPU, `cuda` on none) is refused here, before anything runs."""
    import torch

    from phenbench.core.errors import ConfigError

    if requested == "auto":
        from phenbench.core.devices import default_device

        return default_device()
    try:
        device = torch.device(requested)
    except RuntimeError:
        raise ConfigError(f"Unknown device {requested!r}; use auto, cpu, cuda, cuda:N or mps.") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(f"--device {requested}: torch sees no CUDA GPU on this machine; use --device cpu (or auto).")
        if device.index is not None and device.index >= count:
            raise ConfigError(
                f"--device {requested}: this machine has {count} CUDA GPU(s) (cuda:0 to cuda:{count - 1}); pick one of them."
            )
    elif device.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ConfigError(f"--device {requested}: Apple's MPS is not available here; use --device cpu (or auto).")
    elif device.type == "xpu" and not (hasattr(torch, "xpu") and torch.xpu.is_available()):
        raise ConfigError(f"--device {requested}: torch sees no Intel XPU here; use --device cpu (or auto).")
    return requested


def command_line() -> str:
    return " ".join(Path(sys.argv[0]).name if i == 0 else a for i, a in enumerate(sys.argv))
