"""The runner end to end on a tiny in-memory dataset."""

from __future__ import annotations

import pytest

from phenbench.core.errors import ConfigError, UnknownNameError
from phenbench.core.plugins import load_registries
from phenbench.core.run_config import RunConfig, load_run_config
from phenbench.core.runner import run_benchmark
from phenbench.core.store import ResultsStore
from tests.core.tiny_plugins import TinyPlugins


@pytest.fixture
def registries():
    return load_registries(entry_points=False, extra=(TinyPlugins(),))


def config(tmp_path, **changes) -> RunConfig:
    base = dict(dataset="tiny", store=str(tmp_path / "r.h5"), work_dir=str(tmp_path / "runs"), progress=False)
    return RunConfig(**{**base, **changes})


def test_identity_run_is_stored_with_provenance(tmp_path, registries) -> None:
    outcome = run_benchmark(config(tmp_path, metrics=("counterfactual",)), registries)
    record = ResultsStore(tmp_path / "r.h5").read(outcome.record.run_id, samples=True)
    assert record.status == "complete" and record.translator == "identity" and record.dataset == "tiny"
    assert record.versions["phenbench"] and record.versions["torch"]
    assert record.configs["run"]["dataset"] == "tiny" and record.configs["data_spec"]["image_size"] == 8
    assert record.dataset_hash
    # all pairs: each of 3 targets receives the 3 test images of each of the 2 other conditions
    assert record.timings["translated_images"] == 3 * 2 * 3
    assert "invert_seconds_per_image" not in record.timings  # identity has no latent space to invert into
    mse = {r.name: r for r in record.metrics}["counterfactual/mse"]
    assert mse.per_condition["drug@1"].value is None  # no true counterfactuals here: missing, with reason
    assert "counterfactual" in mse.per_condition["drug@1"].missing
    assert set(record.samples) == {"DMSO", "drug@1", "drug@10"}
    assert record.samples["drug@1"]["translated"].shape == (6, 2, 8, 8)


def test_from_control_pairs(tmp_path, registries) -> None:
    outcome = run_benchmark(config(tmp_path, pairs="from-control", metrics=()), registries)
    assert outcome.record.timings["translated_images"] == 2 * 3
    assert set(outcome.record.samples) == {"drug@1", "drug@10"}


def test_a_failing_fit_is_recorded_as_failed(tmp_path, registries) -> None:
    with pytest.raises(RuntimeError, match="caught fire"):
        run_benchmark(config(tmp_path, translator="failing", metrics=()), registries)
    store = ResultsStore(tmp_path / "r.h5")
    [run_id] = store.run_ids()
    failed = store.read(run_id)
    assert failed.status == "failed" and "caught fire" in failed.error


def test_a_broken_metric_is_missing_not_fatal(tmp_path, registries) -> None:
    outcome = run_benchmark(config(tmp_path, metrics=("broken",)), registries)
    [result] = outcome.record.metrics
    assert result.pooled.value is None and "ZeroDivisionError" in result.pooled.missing


def test_bad_names_fail_before_anything_is_stored(tmp_path, registries) -> None:
    with pytest.raises(UnknownNameError, match="Did you mean: identity"):
        run_benchmark(config(tmp_path, translator="identiy"), registries)
    with pytest.raises(UnknownNameError, match="Unknown dataset"):
        run_benchmark(config(tmp_path, dataset="tinny"), registries)
    with pytest.raises(UnknownNameError, match="Unknown metric"):
        run_benchmark(config(tmp_path, metrics=("counterfactul",)), registries)
    assert not (tmp_path / "r.h5").exists()


def test_run_yaml_with_overrides_and_unknown_keys(tmp_path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("translator: identity\ndataset: tiny\nmetrics: [counterfactual]\nseed: 3\n")
    loaded = load_run_config(path, seed=7, store=None)
    assert loaded.seed == 7 and loaded.metrics == ("counterfactual",) and loaded.store == "results.h5"
    path.write_text("translater: identity\n")
    with pytest.raises(ConfigError, match="'translater'.*Valid keys:.*translator"):
        load_run_config(path)


def test_checkpoint_reuse(tmp_path, registries) -> None:
    first = run_benchmark(config(tmp_path, metrics=()), registries)
    again = run_benchmark(config(tmp_path, metrics=(), checkpoint=str(first.model_dir / "model")), registries)
    assert again.model_dir is None and again.record.status == "complete"
    with pytest.raises(ConfigError, match="holds a 'identity' translator"):
        run_benchmark(config(tmp_path, translator="failing", checkpoint=str(first.model_dir / "model")), registries)


def test_scoring_a_saved_model_again_keeps_the_preset_it_was_trained_with(tmp_path, registries) -> None:
    first = run_benchmark(config(tmp_path, metrics=(), preset="quick"), registries)
    again = run_benchmark(config(tmp_path, metrics=(), checkpoint=str(first.model_dir / "model")), registries)
    assert first.record.preset == again.record.preset == "quick"
    # One model, one row: the comparison does not split it into "(quick)" and "(default)".
    runs = ResultsStore(tmp_path / "r.h5").runs_frame()
    assert list(runs["preset"]) == ["quick", "quick"]


def test_a_refused_write_keeps_the_record(tmp_path, registries) -> None:
    import pickle

    from phenbench.core.errors import PhenbenchError

    (tmp_path / "not-a-store.h5").write_text("this is not HDF5")
    with pytest.raises(PhenbenchError, match="record is kept in"):
        run_benchmark(config(tmp_path, store=str(tmp_path / "not-a-store.h5"), metrics=()), registries)
    [kept] = (tmp_path / "runs").glob("*.record.pickle")
    record = pickle.loads(kept.read_bytes())
    assert record.status == "complete" and record.translator == "identity"
    assert (tmp_path / "not-a-store.h5").read_text() == "this is not HDF5"  # never overwritten


def test_a_full_size_default_on_a_cpu_is_announced_before_training(capsys) -> None:
    from phenbench.core.runner import warn_full_size_on_cpu

    class Sized:
        presets = {"quick": {"steps": 10}, "paper": {}}

    class Weightless:
        presets = {"quick": {}, "paper": {}}  # identity: every preset is the default, and free

    warn_full_size_on_cpu(Sized, RunConfig(translator="sized"), "cpu")
    assert "no --preset given, so sized trains its full" in capsys.readouterr().err
    for cls, config, device in [
        (Sized, RunConfig(translator="sized", preset="quick"), "cpu"),
        (Sized, RunConfig(translator="sized", translator_config={"steps": 5}), "cpu"),  # sized by hand
        (Sized, RunConfig(translator="sized"), "cuda"),
        (Weightless, RunConfig(translator="identity"), "cpu"),
    ]:
        warn_full_size_on_cpu(cls, config, device)
        assert capsys.readouterr().err == ""
