"""Phenexplain on the command line: `phenbench explain` (walks between conditions) and `translate` in W+."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import tifffile
from click.testing import CliRunner
from PIL import Image

import xml.etree.ElementTree as ElementTree

from phenbench.imaging.figures import FigureStyle, draw
from phenbench.translators.phenexplain.explain import walk_layout
from phenbench.cli import build_cli
from phenbench.core.dataset import DataSpec
from phenbench.core.translator import read_manifest
from phenbench.translators.identity.translator import IdentityConfig, IdentityTranslator
from tests.apply.helpers import write_tiff_folder


def invoke(*arguments: str):
    return CliRunner().invoke(build_cli(), list(arguments))


def saved_spec(model_dir) -> DataSpec:
    return DataSpec.from_dict(read_manifest(model_dir)["spec"])


@pytest.fixture(scope="module")
def saved_model(trained_pair, tmp_path_factory):
    w, _, _ = trained_pair
    return w.save(tmp_path_factory.mktemp("phenex") / "model")


def test_a_walk_per_target_as_figure_gif_and_frames(saved_model, tmp_path) -> None:
    result = invoke("explain", "--checkpoint", str(saved_model), "--source", "DMSO", "--target", "drug@10",
                    "--samples", "3", "--steps", "4", "--out", str(tmp_path), "--panel-px", "32")
    assert result.exit_code == 0, result.output
    assert "DMSO -> drug@10" in result.output
    frames = np.load(tmp_path / "walk_DMSO_to_drug@10.npy")
    assert frames.shape == (4, 3, 2, 8, 8) and frames.dtype == np.float32  # steps x samples x C x H x W
    # The trained conditions differ in brightness (DMSO -0.6, drug@10 +0.6): the walk brightens step by step.
    brightness = frames.mean(axis=(1, 2, 3, 4))
    assert np.all(np.diff(brightness) > 0), brightness
    # The figure is the shared figure module's grid of those frames: rows are samples, columns steps,
    # labelled as text; its panels are the frames at 32 px (8 px x 4).
    layout, display = walk_layout(frames, saved_spec(saved_model).channels, ("DMSO", "drug@10"), [0, 1 / 3, 2 / 3, 1], "phenex-w",
                                  FigureStyle(panel_px=32))
    drawn = draw(layout)
    assert [len(row) for row in drawn.boxes] == [4, 4, 4]
    with Image.open(tmp_path / "walk_DMSO_to_drug@10.png") as grid:
        picture = np.asarray(grid.convert("RGB"))
    np.testing.assert_array_equal(picture, drawn.rgb())
    x, y, w, h = drawn.boxes[2][3]  # sample 3 at the target
    expected = display.composite(frames[3, 2][None])[0].repeat(4, axis=0).repeat(4, axis=1)
    np.testing.assert_array_equal(picture[y : y + h, x : x + w], expected)
    words = [t.text for t in ElementTree.parse(tmp_path / "walk_DMSO_to_drug@10.svg").iter() if t.tag.endswith("}text")]
    assert {"DMSO", "α=0.33", "α=0.67", "drug@10", "z 1", "z 3"} <= set(words)
    with Image.open(tmp_path / "walk_DMSO_to_drug@10.gif") as gif:
        assert gif.n_frames == 4  # a frame per step, the samples one above the other


def test_every_other_condition_by_default_and_the_same_seed_gives_the_same_walk(saved_model, tmp_path) -> None:
    for out in ("a", "b"):
        result = invoke("explain", "--checkpoint", str(saved_model), "--samples", "2", "--out", str(tmp_path / out))
        assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "a").glob("*.npy"))
    assert names == ["walk_DMSO_to_drug@1.npy", "walk_DMSO_to_drug@10.npy"]
    for name in names:
        np.testing.assert_array_equal(np.load(tmp_path / "a" / name), np.load(tmp_path / "b" / name))


def test_bad_requests_are_one_line_errors(saved_model, tmp_path) -> None:
    unknown = invoke("explain", "--checkpoint", str(saved_model), "--target", "drug@100", "--out", str(tmp_path))
    assert unknown.exit_code == 2 and unknown.output.count("\n") == 1 and "drug@10" in unknown.output
    other = IdentityTranslator(IdentityConfig(), saved_spec(saved_model)).save(tmp_path / "id")
    wrong = invoke("explain", "--checkpoint", str(other), "--out", str(tmp_path / "out"))
    assert wrong.exit_code == 2 and "holds a 'identity' model" in wrong.output and "phenbench translate" in wrong.output
    steps = invoke("explain", "--checkpoint", str(saved_model), "--steps", "1", "--out", str(tmp_path / "out"))
    assert steps.exit_code == 2 and "at least 1 sample and 2 steps" in steps.output



def test_translate_can_use_a_phenex_w_model_as_phenex_wplus(saved_model, tmp_path) -> None:
    """`phenbench translate --translator phenex-wplus` projects into W+ with the W model's generator."""
    write_tiff_folder(tmp_path / "in", 2, shape=(2, 8, 8))
    outputs = {}
    for name in ("phenex-w", "phenex-wplus"):
        out = tmp_path / name
        result = invoke("translate", "--checkpoint", str(saved_model), "--translator", name, "--images",
                        str(tmp_path / "in"), "--target", "drug@10", "--out", str(out), "--device", "cpu", "-q")
        assert result.exit_code == 0, result.output
        with open(out / "manifest.csv") as manifest:
            assert {row["translator"] for row in csv.DictReader(manifest)} == {name}
        outputs[name] = tifffile.imread(out / "drug@10" / "cell_000.tif")
    assert not np.array_equal(outputs["phenex-w"], outputs["phenex-wplus"])  # two projections, two results
    wrong = invoke("translate", "--checkpoint", str(saved_model), "--translator", "stargan", "--images",
                   str(tmp_path / "in"), "--target", "drug@10", "--out", str(tmp_path / "x"), "-q")
    assert wrong.exit_code == 2 and "holds a 'phenex-w' translator, not 'stargan'" in wrong.output
