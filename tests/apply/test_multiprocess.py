"""Sharding over processes writes the same bytes as one process; a killed job resumes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from phenbench.imaging.normalization import Normalization
from phenbench.apply.runner import translate_folder
from phenbench.apply.shard import Shard, batches, my_batches
from tests.apply.helpers import CHANNELS, spec, write_tiff_folder
from tests.apply.slow_translate import SlowIdentity, job, registries

ROOT = Path(__file__).resolve().parents[2]


def environment() -> dict[str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def test_batches_are_dealt_round_robin_and_cover_everything_once() -> None:
    work = batches(list(range(7)), 2)
    assert work == [[0, 1], [2, 3], [4, 5], [6]]
    shares = [my_batches(len(work), Shard(i, 3)) for i in range(3)]
    assert shares == [[0, 3], [1], [2]]


def test_two_processes_write_the_same_files_as_one(stargan_checkpoint, tmp_path) -> None:
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun is not installed")
    write_tiff_folder(tmp_path / "in", 7)
    arguments = ["translate", "--checkpoint", str(stargan_checkpoint), "--images", str(tmp_path / "in"),
                 "--targets", "all-doses", "drug", "--differences", "--batch-size", "2", "--quiet"]
    one = subprocess.run([sys.executable, "-m", "phenbench.cli", *arguments, "--out", str(tmp_path / "one")],
                         env=environment(), capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr[-3000:]
    two = subprocess.run([torchrun, "--standalone", "--nproc_per_node", "2", "-m", "phenbench.cli", *arguments,
                          "--out", str(tmp_path / "two")], env=environment(), capture_output=True, text=True,
                         timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    assert "by process 1 of 2" in two.stdout and "by process 1 of 1" in one.stdout
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "two") for p in (tmp_path / "two").rglob("*") if p.is_file())
    # per input: 3 doses, 3 difference maps, the figure's PNG and SVG, its panels (.npy) and GIF;
    # then the contact sheet's PNG and SVG, the manifest and the job
    assert len(files) == 7 * (3 + 3 + 4) + 2 + 2
    for relative in files:
        assert (tmp_path / "one" / relative).read_bytes() == (tmp_path / "two" / relative).read_bytes(), relative


def test_a_killed_job_resumes_without_touching_finished_files(tmp_path) -> None:
    checkpoint = tmp_path / "model"
    SlowIdentity(SlowIdentity.config_class(), spec()).save(checkpoint)
    Normalization(CHANNELS, (0.0,) * 3, (65535.0,) * 3).save(checkpoint)
    write_tiff_folder(tmp_path / "in", 8)
    out = tmp_path / "out" / "drug@1"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.apply.slow_translate", str(checkpoint), str(tmp_path / "in"), str(tmp_path / "out")],
        env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None and len(list(out.glob("*.tif"))) < 2:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, process.stderr.read().decode()[-2000:]
    done = {p: p.stat().st_mtime_ns for p in out.glob("*.tif")}
    assert 2 <= len(done) < 8
    assert not (tmp_path / "out" / "manifest.csv").exists()  # only a finished job has a manifest

    report = translate_folder(job(checkpoint, tmp_path / "in", tmp_path / "out"), registries=registries())
    assert report.skipped == len(done) and report.written == 8 - len(done)
    assert len(list(out.glob("*.tif"))) == 8 and not list(out.glob(".*"))  # no temporary files left
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in done.items())
    assert report.manifest.read_text().count("\n") == 9
