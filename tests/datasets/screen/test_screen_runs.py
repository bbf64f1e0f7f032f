"""The prepared miniature screen end to end: `phenbench run` with identity and a trained StarGAN."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from phenbench.cli import build_cli
from phenbench.core.store import ResultsStore

TARGETS = {"nocodazole@0.3", "nocodazole@3", "taxol@0.1", "taxol@1"}
TINY_STARGAN = ("translator_config: {generator_filters: 4, residual_blocks: 1, discriminator_filters: 4, "
                "discriminator_layers: 2, batch_size: 4, steps: 3, decay_steps: 0, critic_steps: 1}\n")


def run(screen, tmp_path: Path, translator: str) -> None:
    result = CliRunner().invoke(build_cli(), [
        "run", "--translator", translator, "--dataset", "screen", "--data", str(screen.cache),
        "--config", str(tmp_path / "run.yaml"), "--store", str(tmp_path / "results.h5"),
        "--work-dir", str(tmp_path / "runs"), "--metrics", "reconstruction", "--pairs", "from-control",
        "--device", "cpu", "--quiet",
    ])
    assert result.exit_code == 0, result.output


def test_identity_and_stargan_run_on_the_prepared_screen(screen, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run.yaml").write_text("dataset_config: {image_size: 32}\n" + TINY_STARGAN)
    run(screen, tmp_path, "stargan")  # stores the identity baseline on the same rows too
    store = ResultsStore(tmp_path / "results.h5")
    runs = store.runs_frame().set_index("translator")
    assert set(runs.index) == {"identity", "stargan"} and set(runs.status) == {"complete"}
    assert set(runs.dataset) == {"screen"}
    for translator in ("identity", "stargan"):
        record = store.read(runs.run_id[translator])
        # The test plate holds every condition: each treated test cell is paired with a control of its plate.
        assert record.configs["pairing"]["batch_matched"] is True
        assert record.configs["pairing"]["dropped_real_images"] == {}
        mse = {m.name: m for m in record.metrics}["reconstruction/mse"]
        assert set(mse.per_condition) == TARGETS and all(v.n == 6 for v in mse.per_condition.values())
        if translator == "identity":  # returns its source: reconstructs exactly
            assert mse.pooled.value == 0
        else:  # three training steps: a real, imperfect reconstruction
            assert 0 < mse.pooled.value < 4
