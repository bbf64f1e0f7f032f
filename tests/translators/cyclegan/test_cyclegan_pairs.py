"""CycleGAN beyond the contract: one model per needed pair, routing, persistence, learning."""

import pytest
import torch

from phenbench.core.errors import ConfigError, PhenbenchError
from phenbench.core.translator import FitOptions
from phenbench.datasets.in_memory import random_dataset
from phenbench.translators.cyclegan.config import CycleGANConfig
from phenbench.translators.cyclegan.translator import CycleGANTranslator
from tests.translators.cyclegan.test_cyclegan_contract import tiny_config

FROM_CONTROL = ((0, 1), (0, 2))  # what the runner's --pairs from-control gives for 3 conditions


def fitted(pairs=FROM_CONTROL, steps: int = 2, **options) -> tuple[CycleGANTranslator, object]:
    data = random_dataset(channels=2, image_size=8)
    translator = CycleGANTranslator(tiny_config(steps), data.spec)
    report = translator.fit(data, FitOptions(**{"seed": 0, "progress": False, "pairs": pairs, **options}))
    translator.report = report
    return translator, data


def test_trains_one_model_per_unordered_pair_and_reports_the_total_cost() -> None:
    translator, _ = fitted(pairs=((0, 1), (1, 0), (0, 2), (2, 2)))
    assert sorted(translator.models) == [(0, 1), (0, 2)]
    report = translator.report
    assert report.extra["models_trained"] == 2
    assert report.extra["pairs"] == ["DMSO<->drug@1", "DMSO<->drug@10"]
    assert report.steps == report.extra["total_steps"] == 4
    assert report.seconds == pytest.approx(sum(report.extra["seconds_per_model"].values()))
    per_pair = report.extra["generator_losses"]
    assert report.losses == pytest.approx([(a + b) / 2 for a, b in zip(*per_pair.values())])


def test_all_pairs_when_the_run_does_not_say() -> None:
    data = random_dataset(channels=1, image_size=8, conditions=("DMSO", "a@1", "a@2", "b@1"))
    translator = CycleGANTranslator(tiny_config(1), data.spec)
    assert translator.pairs_needed(None) == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]


def test_translate_routes_each_pair_to_its_generator() -> None:
    translator, data = fitted()
    images = data.read("test", [0, 4, 8, 9])
    sources, targets = [0, 1, 2, 0], [2, 0, 0, 1]
    result = translator.translate(images, sources, targets).images
    with torch.no_grad():
        expected = torch.cat([
            translator.models[(0, 2)].a_to_b(images[0:1]),
            translator.models[(0, 1)].b_to_a(images[1:2]),
            translator.models[(0, 2)].b_to_a(images[2:3]),
            translator.models[(0, 1)].a_to_b(images[3:4]),
        ])
    torch.testing.assert_close(result, expected)
    # Translating to the source itself uses the generator into that condition (identity loss).
    with torch.no_grad():
        into_drug = translator.models[(0, 1)].a_to_b(images[1:2])
    torch.testing.assert_close(translator.reconstruct(images[1:2], 1).images, into_drug)


def test_a_pair_it_was_not_trained_on_is_a_clear_error() -> None:
    translator, data = fitted()
    with pytest.raises(PhenbenchError, match=r"no model for drug@1 -> drug@10 \(trained pairs: DMSO<->drug@1, DMSO<->drug@10\)"):
        translator.translate(data.read("test", [4]), 1, 2)


def test_save_load_keeps_the_trained_pairs(tmp_path) -> None:
    translator, data = fitted(pairs=((2, 1),))
    translator.save(tmp_path)
    loaded = CycleGANTranslator.load(tmp_path)
    assert list(loaded.models) == [(1, 2)]
    images = data.read("test", [8, 9])
    torch.testing.assert_close(loaded.translate(images, 2, 1).images, translator.translate(images, 2, 1).images)
    with pytest.raises(PhenbenchError, match="no model for DMSO -> drug@1"):
        loaded.translate(images, 0, 1)


def test_each_pair_checkpoints_in_its_own_folder_and_resumes(tmp_path) -> None:
    fitted(steps=2, checkpoint_dir=tmp_path, checkpoint_every=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pair-0-1", "pair-0-2"]
    whole, _ = fitted(steps=4)
    resumed, _ = fitted(steps=4, checkpoint_dir=tmp_path)
    assert resumed.report.extra["resumed_from_step"] == {"DMSO<->drug@1": 2, "DMSO<->drug@10": 2}
    assert resumed.report.losses == pytest.approx(whole.report.losses, rel=1e-4)


def test_paper_defaults_and_bad_configs() -> None:
    config = CycleGANConfig()
    assert (config.lr, config.batch_size, config.lambda_cycle, config.lambda_identity, config.pool_size) == (
        2e-4, 1, 10.0, 0.5, 50)
    assert config.blocks_for(128) == 6 and config.blocks_for(256) == 9
    with pytest.raises(ConfigError, match="pool_size"):
        CycleGANConfig(pool_size=-1)
    with pytest.raises(ConfigError, match="divisible by 4"):
        CycleGANTranslator(tiny_config(1), random_dataset(image_size=10).spec)


def test_learns_to_move_images_to_the_target_condition() -> None:
    # random_dataset's conditions differ in mean brightness (-0.6, 0, 0.6).
    data = random_dataset(channels=2, image_size=8, per_condition=16)
    config = tiny_config(150, generator_filters=8, discriminator_filters=8, batch_size=4, lr=1e-3)
    translator = CycleGANTranslator(config, data.spec)
    translator.fit(data, FitOptions(seed=0, progress=False, pairs=((0, 2),)))
    source = data.read("test", data.rows("test", 0))
    target_mean = data.read("test", data.rows("test", 2)).mean().item()
    translated = translator.translate(source, 0, 2).images
    assert abs(source.mean().item() - target_mean) > 1.0
    assert abs(translated.mean().item() - target_mean) < 0.3


def test_one_progress_bar_per_pair_model_only_when_asked(capsys) -> None:
    fitted(steps=1, progress=False)
    assert "cyclegan" not in capsys.readouterr().err
    fitted(steps=1, progress=True)
    err = capsys.readouterr().err
    assert "cyclegan DMSO<->drug@1" in err and "cyclegan DMSO<->drug@10" in err
