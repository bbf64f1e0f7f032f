"""Both Phenexplain translators through the runner on the synthetic world, from one fit (slow: ~20 s)."""

from __future__ import annotations

import pytest

from phenbench.core.errors import PhenbenchError
from phenbench.core.run_config import RunConfig
from phenbench.core.runner import run_benchmark
from phenbench.core.store import ResultsStore
from phenbench.core.translator import TRANSLATOR_FILE
from phenbench.translators.phenexplain.translator import PhenexWPlusTranslator
from tests.translators.runner_checks import assert_reconstruction_recomputes

WORLD = {"image_size": 32, "train_per_condition": 16, "test_per_condition": 4}
TINY_32PX = dict(
    z_dim=16, w_dim=16, mapping_layers=2, d_mapping_layers=1, channel_base=256, channel_max=32, steps=30,
    batch_size=8, learning_rate=0.005, pl_weight=0.0, style_mixing_prob=0.0, ema_kimg=0.05, augment=False,
    centre_samples=256, projection_steps=10, projection_batch_size=16,
)


@pytest.mark.slow
def test_one_fit_serves_both_translators_and_w_plus_reconstructs_better(tmp_path) -> None:
    """phenex-w trains; phenex-wplus loads that very model (`--checkpoint`) and only projects differently."""
    pooled, checkpoint = {}, None
    for name in ("phenex-w", "phenex-wplus"):
        outcome = run_benchmark(RunConfig(
            translator=name, dataset="synthetic", dataset_config=WORLD,
            translator_config=TINY_32PX, metrics=("reconstruction", "counterfactual"), pairs="from-control",
            store=str(tmp_path / "results.h5"), work_dir=str(tmp_path / "runs"), progress=False, device="cpu",
            checkpoint=checkpoint,
        ))
        record = outcome.record
        assert record.status == "complete" and record.translator == name
        pooled[name] = {m.name: m.pooled.value for m in record.metrics}
        counterfactual = {m.name: m for m in record.metrics}["counterfactual/mse"].per_condition
        assert len(counterfactual) == 8 and all(0 < v.value < 1 and v.n == 4 for v in counterfactual.values())
        # Projection is seeded per image: the saved model, asked again here in other batches, gives
        # the stored reconstruction scores (up to float rounding in batched kernels).
        assert_reconstruction_recomputes(outcome, WORLD, rel=1e-3, model=checkpoint)  # phenex-wplus: the loaded model
        # Projection time per image is recorded: each source image is projected once for all its targets.
        assert 0 < record.timings["invert_seconds_per_image"] < record.timings["translate_seconds"]
        if checkpoint is None:
            assert record.timings["fit_steps"] == 30
            checkpoint = str(outcome.model_dir / "model")
            assert (outcome.model_dir / "model" / "phenexplain.pt").exists()
        else:
            assert "fit_steps" not in record.timings  # loaded, not trained again
    # One generator, two projection spaces: W+ (a vector per layer) reconstructs better than W.
    assert pooled["phenex-wplus"]["reconstruction/mse"] < pooled["phenex-w"]["reconstruction/mse"], pooled
    assert len(ResultsStore(tmp_path / "results.h5").run_ids()) == 2


def test_a_model_of_another_family_is_still_refused(tmp_path) -> None:
    (tmp_path / TRANSLATOR_FILE).write_text('{"translator": "stargan", "config": {}, "spec": {}}')
    with pytest.raises(PhenbenchError, match="holds a 'stargan' translator, not 'phenex-wplus'"):
        PhenexWPlusTranslator.load(tmp_path)
