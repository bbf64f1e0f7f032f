"""Launching a test's script or module on 2 CPU processes with torchrun (see ../shared/ENVIRONMENT.md)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def single_thread_env() -> dict[str, str]:
    """The environment of a launched test process: one thread each, this checkout importable."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def run_two_processes(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """`torchrun --standalone --nproc_per_node 2 ARGS...`; skips the test where torchrun is missing."""
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun is not installed")
    return subprocess.run([torchrun, "--standalone", "--nproc_per_node", "2", *args], cwd=cwd,
                          env=single_thread_env(), capture_output=True, text=True, timeout=timeout)


def write_rank_record(out: Path, record: dict, translator) -> None:
    """In a launched script: this rank's `record` to OUT/rank-<r>.json; rank 0 also saves `translator` to OUT/model."""
    from accelerate import PartialState

    rank = PartialState().process_index
    (out / f"rank-{rank}.json").write_text(json.dumps(record))
    if rank == 0:
        translator.save(out / "model")
