"""A 2-process CycleGAN fit on the CPU (torchrun; `accelerate launch` on GPUs): each process trains its
own pair models, and every process ends with the models a one-process fit trains."""

from __future__ import annotations

import json
from pathlib import Path

from phenbench.translators.cyclegan.translator import CycleGANTranslator
from tests.torchrun import run_two_processes
from tests.translators.cyclegan.two_process_fit import STEPS, fitted
from tests.translators.phendiff.two_process_fit import digest

SCRIPT = Path(__file__).with_name("two_process_fit.py")


def test_two_processes_split_the_pairs_and_end_with_the_one_process_models(tmp_path) -> None:
    completed = run_two_processes(str(SCRIPT), str(tmp_path))
    assert completed.returncode == 0, completed.stderr[-3000:]
    first, second = [json.loads((tmp_path / f"rank-{r}.json").read_text()) for r in (0, 1)]
    # The 3 pairs of 3 conditions dealt out: pairs 0 and 2 to rank 0, pair 1 to rank 1, each trained once.
    assert first["trained_here"] == [[0, 1], [1, 2]] and second["trained_here"] == [[0, 2]]
    trainers = {"DMSO<->drug@1": 0, "DMSO<->drug@10": 1, "drug@1<->drug@10": 0}
    assert first["trained_by_process"] == second["trained_by_process"] == trainers
    assert first["processes"] == second["processes"] == 2
    # Every rank holds every pair, and they are exactly what one process trains (pairs are seeded per pair).
    alone, report = fitted(STEPS)
    expected = {f"{a}-{b}": digest(model) for (a, b), model in alone.models.items()}
    assert first["models"] == second["models"] == expected
    assert first["losses"] == second["losses"] == report.losses
    loaded = CycleGANTranslator.load(tmp_path / "model")
    assert {f"{a}-{b}": digest(model) for (a, b), model in loaded.models.items()} == expected
    # A pair's checkpoint does not depend on which process wrote it: the one-process fit resumes them.
    longer, longer_report = fitted(STEPS + 2)
    resumed, resumed_report = fitted(STEPS + 2, checkpoint_dir=tmp_path / "checkpoints")
    assert set(resumed_report.extra["resumed_from_step"].values()) == {STEPS}
    assert resumed_report.losses == longer_report.losses
    assert {p: digest(m) for p, m in resumed.models.items()} == {p: digest(m) for p, m in longer.models.items()}

