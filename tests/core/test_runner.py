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
    first = run_benchmark(config(tmp_path, translator="sized", metrics=(), preset="quick"), registries)
    model = str(first.model_dir / "model")
    again = run_benchmark(config(tmp_path, translator="sized", metrics=(), checkpoint=model), registries)
    assert first.record.preset == again.record.preset == "quick"
    # One model, one row: the comparison does not split it into "(quick)" and "(default)".
    runs = ResultsStore(tmp_path / "r.h5").runs_frame()
    assert list(runs["preset"]) == ["quick", "quick"]
    with pytest.raises(ConfigError, match="--preset small differs from the preset .* trained with \\(quick\\)"):
        run_benchmark(config(tmp_path, translator="sized", metrics=(), checkpoint=model, preset="small"), registries)


def test_a_loaded_model_takes_new_translation_settings_and_refuses_other_changes(tmp_path, registries) -> None:
    trained = dict(translator="configured", metrics=(), translator_config={"steps": 3})
    model = str(run_benchmark(config(tmp_path, **trained), registries).model_dir / "model")

    def scored(overrides: dict) -> dict:
        run = config(tmp_path, **{**trained, "translator_config": overrides}, checkpoint=model)
        return run_benchmark(run, registries).record.configs["translator"]

    # The settings it was trained with (a list where the config holds a tuple) are no change.
    assert scored({"steps": 3, "sizes": [8, 16]}) == {"steps": 3, "sizes": [8, 16], "translate_batch_size": 4}
    # A translation setting is taken, and recorded as used.
    assert scored({"translate_batch_size": 2})["translate_batch_size"] == 2
    with pytest.raises(ConfigError, match=r"translator_config sets steps=5, but the model in .* was trained with "
                                          r"steps=3; a loaded model takes new translation settings only "
                                          r"\(translate_batch_size\)"):
        scored({"steps": 5, "translate_batch_size": 2})
    with pytest.raises(ConfigError, match="stepz"):
        scored({"stepz": 3})
    assert len(ResultsStore(tmp_path / "r.h5").run_ids()) == 3  # the refused runs stored nothing
    with pytest.raises(ConfigError, match="configured: steps cannot change on a trained model"):
        registries.translators.load("configured").load(model, settings={"steps": 5})


def test_a_preset_for_a_translator_without_presets_is_refused(tmp_path, registries) -> None:
    with pytest.raises(ConfigError, match="identity has no presets"):
        run_benchmark(config(tmp_path, metrics=(), preset="quick"), registries)
    assert not (tmp_path / "r.h5").exists()


def test_model_folders_are_keyed_on_what_decides_the_model(tmp_path, registries) -> None:
    first = run_benchmark(config(tmp_path, metrics=()), registries).model_dir
    assert run_benchmark(config(tmp_path, metrics=()), registries).model_dir == first  # same model: resumable
    other_data = run_benchmark(config(tmp_path, metrics=(), dataset_config={"per_condition": 4}), registries).model_dir
    assert other_data != first and first.name.startswith("identity-tiny-default-seed0-")
    assert (first / "model" / "translator.json").is_file() and (other_data / "model" / "translator.json").is_file()


def test_a_run_that_would_score_nothing_is_refused_before_fitting(tmp_path, registries, monkeypatch) -> None:
    from phenbench.core.errors import DataError

    with pytest.raises(DataError, match="has no test images of the source condition\\(s\\) DMSO"):
        run_benchmark(config(tmp_path, metrics=(), pairs=(("DMSO", "drug@1"),), dataset_config={"per_condition": 0}),
                      registries)
    assert not (tmp_path / "r.h5").exists() and not (tmp_path / "runs").exists()


def test_the_device_is_checked_and_recorded_as_used(tmp_path, registries) -> None:
    with pytest.raises(ConfigError, match="--device cuda:7: torch sees no CUDA GPU"):
        run_benchmark(config(tmp_path, metrics=(), device="cuda:7"), registries)
    record = run_benchmark(config(tmp_path, metrics=(), device="auto"), registries).record
    assert record.configs["run"]["device"] == "cpu"


def test_an_unusable_store_is_refused_before_fitting(tmp_path, registries, monkeypatch) -> None:
    from phenbench.core.errors import DataError
    from phenbench.translators.identity.translator import IdentityTranslator

    fits = []
    monkeypatch.setattr(IdentityTranslator, "fit", lambda self, dataset, options=None: fits.append(1))
    (tmp_path / "not-a-store.h5").write_text("this is not HDF5")
    with pytest.raises(DataError, match="not-a-store.h5 is not a readable HDF5 results store"):
        run_benchmark(config(tmp_path, store=str(tmp_path / "not-a-store.h5"), metrics=()), registries)
    with pytest.raises(DataError, match="folder of results store .* does not exist"):
        run_benchmark(config(tmp_path, store=str(tmp_path / "absent" / "r.h5"), metrics=()), registries)
    assert fits == [] and not (tmp_path / "runs").exists()
    assert (tmp_path / "not-a-store.h5").read_text() == "this is not HDF5"  # never overwritten


def test_a_store_refusing_the_write_keeps_the_run_as_a_mergeable_store(tmp_path, registries, monkeypatch) -> None:
    from click.testing import CliRunner

    from phenbench.cli import build_cli
    from phenbench.core.errors import PhenbenchError
    from phenbench.core.plugins import make_plugin_manager
    from phenbench.core.translator import FitReport
    from phenbench.translators.identity.translator import IdentityTranslator

    store = tmp_path / "r.h5"
    earlier = run_benchmark(config(tmp_path, metrics=("counterfactual",)), registries).record.run_id
    good = store.read_bytes()

    def spoil_the_store(self, dataset, options=None):  # the store becomes unusable while the fit runs
        store.write_text("this is not HDF5")
        return FitReport(steps=0, seconds=0.0)

    monkeypatch.setattr(IdentityTranslator, "fit", spoil_the_store)
    with pytest.raises(PhenbenchError, match="phenbench merge") as caught:
        run_benchmark(config(tmp_path, metrics=("counterfactual",)), registries)
    assert "\n" not in str(caught.value)
    [kept] = (tmp_path / "runs").glob("*.h5")
    assert not list(tmp_path.rglob("*.pickle"))
    [kept_id] = ResultsStore(kept).run_ids()
    assert store.read_text() == "this is not HDF5"  # never overwritten

    store.write_bytes(good)  # the user restores the store, then merges the kept run into it
    cli = build_cli(make_plugin_manager(entry_points=False))
    merged = CliRunner().invoke(cli, ["merge", str(kept), "--store", str(store)])
    assert merged.exit_code == 0 and "1 run(s) added" in merged.output, merged.output
    again = CliRunner().invoke(cli, ["merge", str(kept), "--store", str(store)])
    assert "0 run(s) added" in again.output and "1 already there" in again.output
    assert sorted(ResultsStore(store).run_ids()) == sorted([earlier, kept_id])
    back, original = ResultsStore(store).read(kept_id, samples=True), ResultsStore(kept).read(kept_id, samples=True)
    assert back.metrics == original.metrics and back.configs == original.configs
    assert back.samples.keys() == original.samples.keys()


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


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"seed": -5}, "seed must be at least 0, got -5"),
        ({"seed": "abc"}, "seed must be an integer, got 'abc'"),
        ({"seed": 1.5}, "seed must be an integer, got 1.5"),
        ({"max_test_per_condition": 0}, "max_test_per_condition must be at least 1 (0 would score nothing), got 0"),
        ({"max_test_per_condition": "four"}, "max_test_per_condition must be an integer or null, got 'four'"),
        ({"translator": ["identity"]}, "translator must be a string, got ['identity']"),
        ({"dataset_config": [1, 2]}, "dataset_config must be a mapping (key: value), got [1, 2]"),
        ({"metric_options": {"fid": 3}}, "metric_options.fid must be a mapping (key: value), got 3"),
        ({"device": "banana"}, "device must be auto, cpu, cuda, cuda:N, mps or xpu:N, got 'banana'"),
        ({"batch_size": 0}, "batch_size must be at least 1, got 0"),
        ({"progress": "yes"}, "progress must be true or false, got 'yes'"),
    ],
)
def test_every_run_config_field_is_checked_where_it_is_built(tmp_path, changes, message) -> None:
    import yaml

    (tmp_path / "run.yaml").write_text(yaml.safe_dump(changes))
    with pytest.raises(ConfigError) as from_yaml:
        load_run_config(tmp_path / "run.yaml")
    assert str(from_yaml.value) == f"run config {tmp_path / 'run.yaml'}: {message}."
    with pytest.raises(ConfigError) as from_python:
        RunConfig(**changes)
    assert message in str(from_python.value)
