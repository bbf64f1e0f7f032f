"""StarGAN through the runner on a tiny synthetic world: fit, store, reload."""

import pytest

from phenbench.core.config import config_to_dict
from phenbench.core.run_config import RunConfig
from phenbench.core.runner import run_benchmark
from tests.translators.runner_checks import assert_reconstruction_recomputes
from tests.translators.stargan.test_stargan_contract import tiny_config

TINY_WORLD = {"image_size": 32, "train_per_condition": 4, "test_per_condition": 2}


def test_end_to_end_and_reload_give_the_same_scores(tmp_path) -> None:
    common = dict(
        translator="stargan", dataset="synthetic", dataset_config=TINY_WORLD,
        translator_config=config_to_dict(tiny_config(3)), metrics=("phenotype-shift", "reconstruction"),
        pairs="from-control", store=str(tmp_path / "results.h5"), work_dir=str(tmp_path / "runs"),
        progress=False, device="cpu",
    )
    outcome = run_benchmark(RunConfig(**common))
    record = outcome.record
    assert record.status == "complete" and record.timings["fit_steps"] == 3
    assert (outcome.model_dir / "model" / "stargan-generator.safetensors").exists()
    scores = {m.name: m.pooled.value for m in record.metrics}
    assert_reconstruction_recomputes(outcome, TINY_WORLD)  # G(x, c_source), scored as stored
    shift = {m.name: m for m in record.metrics}["phenotype-shift"].per_condition
    assert len(shift) == 8 and all(v.value is not None and v.n == 2 for v in shift.values())
    reloaded = run_benchmark(RunConfig(**common, checkpoint=str(outcome.model_dir / "model"))).record
    assert {m.name: m.pooled.value for m in reloaded.metrics} == pytest.approx(scores, rel=1e-5)
