"""What no corpus case can fake: real `phenbench` processes meeting crafted checkpoints and SIGKILL.

A crafted resume checkpoint (one that would create a file if it were unpickled) is planted where
each resumable translator looks for it, in a `runs/` folder as a user could be handed one: the run
must refuse it in one line, and the file must not appear. Then runs and translate jobs are killed
half-way: what existed before (the store, an earlier target's manifest) is byte-identical after,
and running again finishes the job.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from phenbench.core.errors import PhenbenchError
from tests.robustness.crafted import write_crafted_checkpoint
from tests.robustness.world import TINY_RUN

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
# Where a fit looks for its resume state, under <model folder>/checkpoints: StarGAN's goes through
# core/training_checkpoint.py (CycleGAN's and CellFlux's too), Phenexplain's through its own trainer. PhenDiff's
# reader is checked in-process below: importing diffusers alone costs a subprocess ~6 s.
PLANTS = {
    "stargan": "stargan-training.pt",
    "cellflux": "cellflux-training.pt",
    "phenex-w": "phenexplain_training.pt",
}


def model_folder(work: Path, translator: str) -> Path:
    """The folder `phenbench run -t <translator> -p quick` with the tiny config fits into."""
    from phenbench.core.evaluation_builder import resolve_pairs
    from phenbench.core.plugins import load_registries
    from phenbench.core.run_config import load_run_config
    from phenbench.core.runner import model_directory, open_dataset

    config = load_run_config(work / "tiny.yaml", translator=translator, preset="quick", work_dir=str(work / "runs"),
                             pairs="from-control")
    registries = load_registries()
    cls = registries.translators.load(translator)
    dataset, _ = open_dataset(registries, config.dataset, None, config.dataset_config)
    return model_directory(config, cls, cls.config_for("quick"), dataset, resolve_pairs(config.pairs, dataset))


def phenbench(*args: str, cwd: Path, module: str = "phenbench.cli") -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", module, *args], cwd=cwd, env=ENV, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_crafted_resume_checkpoints_are_refused_and_run_no_code(tmp_path: Path) -> None:
    started = {}
    for translator, plants in PLANTS.items():  # all at once: most of each is Python's start-up
        work = tmp_path / translator
        work.mkdir()
        (work / "tiny.yaml").write_text(TINY_RUN)
        write_crafted_checkpoint(model_folder(work, translator) / "checkpoints" / plants, work / "pwned")
        started[translator] = phenbench("run", "-q", "-t", translator, "-p", "quick", "--config", "tiny.yaml",
                                        "--pairs", "from-control", "--work-dir", "runs", "--device", "cpu", cwd=work)
    for translator, process in started.items():
        out, err = process.communicate(timeout=600)
        work = tmp_path / translator
        assert process.returncode == 2, f"{translator}: {out}{err}"
        assert "Traceback" not in out + err
        message = err.strip().splitlines()[-1]
        assert message.startswith("Error: The checkpoint ") and "holds Python objects" in message, message
        assert PLANTS[translator].split("/")[-1] in message and "open" in message, message
        assert not (work / "pwned").exists(), f"{translator}: the crafted checkpoint ran code"
        assert not (work / "results.h5").exists()  # refused before anything was stored


def test_a_crafted_phendiff_checkpoint_is_refused_and_runs_no_code(tmp_path: Path) -> None:
    from phenbench.core.safe_checkpoint import UnsafeCheckpointError
    from phenbench.translators.phendiff.checkpoint import load_latest_checkpoint

    write_crafted_checkpoint(tmp_path / "checkpoints" / "step-000000001" / "state.pt", tmp_path / "pwned")
    (tmp_path / "checkpoints" / "latest").write_text("step-000000001\n")
    with pytest.raises(UnsafeCheckpointError, match=r"state.pt holds Python objects .*--fresh"):
        load_latest_checkpoint(tmp_path / "checkpoints")
    assert not (tmp_path / "pwned").exists()
    (tmp_path / "checkpoints" / "latest").write_text("../../elsewhere\n")  # a pointer out of the folder
    with pytest.raises(PhenbenchError, match="names no checkpoint folder"):
        load_latest_checkpoint(tmp_path / "checkpoints")


def _wait_for(predicate, process: subprocess.Popen, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the process never reached the point to be killed at"
        time.sleep(0.02)


def test_a_run_killed_while_translating_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    import shutil

    from phenbench.core.run_config import RunConfig
    from phenbench.core.runner import run_benchmark
    from phenbench.core.store import ResultsStore

    (tmp_path / "tiny.yaml").write_text(TINY_RUN)
    store = tmp_path / "results.h5"
    small = {"image_size": 32, "train_per_condition": 2, "test_per_condition": 2}
    run_benchmark(RunConfig(dataset_config=small, metrics=(), store=str(store), work_dir=str(tmp_path / "w"),
                            progress=False))
    before = store.read_bytes()
    run = phenbench("run", "-q", "-t", "slow-identity", "--config", "tiny.yaml", "--work-dir", "runs", cwd=tmp_path,
                    module="tests.robustness.slow_cli")
    _wait_for(lambda: list((tmp_path / "runs").glob("*/model/translator.json")), run)  # fitted, now translating
    run.send_signal(signal.SIGKILL)
    run.communicate(timeout=60)
    assert store.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]
    shutil.rmtree(tmp_path / "runs")
    run_benchmark(RunConfig(dataset_config=small, metrics=(), store=str(store), work_dir=str(tmp_path / "w"),
                            progress=False))
    assert len(ResultsStore(store).run_ids()) == 2  # the lock died with the killed process


def test_a_translate_job_killed_half_way_keeps_the_earlier_manifest_and_finishes(tmp_path: Path) -> None:
    import csv

    from phenbench.imaging.normalization import Normalization
    from phenbench.translators.identity.translator import IdentityConfig
    from tests.apply.helpers import CHANNELS, spec, write_tiff_folder
    from tests.apply.slow_translate import SlowIdentity

    SlowIdentity(IdentityConfig(), spec()).save(tmp_path / "model")
    Normalization(CHANNELS, (0.0,) * 3, (65535.0,) * 3, origin="test", dtype="uint16").save(tmp_path / "model")
    write_tiff_folder(tmp_path / "cells", 4)
    job = ("translate", "-q", "--checkpoint", "model", "--images", "cells", "--out", "out", "--batch-size", "1")
    first = phenbench(*job, "--target", "drug@10", cwd=tmp_path, module="tests.robustness.slow_cli")
    assert first.wait(timeout=300) == 0, first.communicate()
    manifest = tmp_path / "out" / "manifest.csv"
    earlier = manifest.read_bytes()

    second = phenbench(*job, "--target", "drug@1", cwd=tmp_path, module="tests.robustness.slow_cli")
    _wait_for(lambda: list((tmp_path / "out" / "drug@1").glob("*.tif")), second)
    second.send_signal(signal.SIGKILL)
    second.communicate(timeout=60)
    assert manifest.read_bytes() == earlier  # the manifest is rewritten only when a job is complete
    again = phenbench(*job, "--target", "drug@1", cwd=tmp_path, module="tests.robustness.slow_cli")
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, out + err
    with open(manifest, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["target"] for r in rows) == ["drug@1"] * 4 + ["drug@10"] * 4
    assert manifest.read_bytes().startswith(earlier)  # the earlier rows, first and unchanged
    assert not [p for p in (tmp_path / "out").rglob("*") if ".tmp" in p.name]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PHENBENCH_CACHE_DIR", str(tmp_path / "cache"))
    ENV["PHENBENCH_CACHE_DIR"] = str(tmp_path / "cache")


def test_a_crafted_saved_phenexplain_model_is_refused_by_explain_and_runs_no_code(tmp_path: Path) -> None:
    """Saved models, too: `phenbench explain` (and translate, run --checkpoint) read phenexplain.pt safely."""
    from phenbench.datasets.in_memory import random_dataset
    from phenbench.translators.phenexplain.translator import WEIGHTS_FILE, PhenexWTranslator
    from tests.translators.phenexplain.conftest import small_config

    model = tmp_path / "model"
    untrained = PhenexWTranslator(small_config(), random_dataset(channels=2, image_size=8, per_condition=2).spec)
    untrained._save_weights = lambda directory: None  # translator.json only: the weights are the crafted file
    untrained.save(model)
    write_crafted_checkpoint(model / WEIGHTS_FILE, tmp_path / "pwned")
    explain = phenbench("explain", "--checkpoint", "model", "--out", "walks", cwd=tmp_path)
    out, err = explain.communicate(timeout=300)
    assert explain.returncode == 2 and "Traceback" not in out + err, out + err
    assert f"{WEIGHTS_FILE} holds Python objects" in err.strip().splitlines()[-1]
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "walks").exists()
