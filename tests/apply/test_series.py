"""`--targets all-doses COMPOUND`: a labelled figure, its panels' values and a GIF per input, and a
contact sheet, all in dose order with the source first."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ElementTree

import numpy as np
import tifffile
import torch
from click.testing import CliRunner
from PIL import Image

from phenbench.apply.preprocess import to_model
from phenbench.apply.runner import TranslateOptions, load_translator, translate_folder
from phenbench.cli import build_cli
from phenbench.core.errors import ConfigError
from phenbench.imaging.figures import FigureStyle
from phenbench.imaging.normalization import load_normalization
from tests.apply.helpers import SIZE, write_tiff_folder

DOSES = ["drug@0.3", "drug@1", "drug@10"]  # the model's index order is 1, 10, 0.3


def svg_words(path) -> list[str]:
    return [t.text or "" for t in ElementTree.parse(path).iter() if t.tag.endswith("}text")]


def test_a_dose_series_writes_a_figure_its_panels_and_a_gif_per_input(stargan_checkpoint, tmp_path) -> None:
    paths = write_tiff_folder(tmp_path / "in", 3)
    job = TranslateOptions(checkpoint=stargan_checkpoint, images=tmp_path / "in", out=tmp_path / "out",
                           source="DMSO", dose_series="drug", batch_size=2, progress=False,
                           figure=FigureStyle(panel_px=64, vector=("svg", "pdf")), contact_sheet=2)
    translate_folder(job)
    folder = tmp_path / "out" / "series" / "drug"

    # the panels' values: the source as the model saw it, then the model's translation to each dose, in dose order
    translator = load_translator(stargan_checkpoint)
    normalization = load_normalization(stargan_checkpoint / "normalization.json")
    batch = to_model(tifffile.imread(paths[0]), normalization, SIZE)[None]
    with torch.no_grad():
        expected = [batch[0].numpy()] + [translator.translate(batch, "DMSO", d).images[0].numpy() for d in DOSES]
    panels = np.load(folder / "cell_000.npy")
    assert panels.shape == (4, 3, SIZE, SIZE) and panels.dtype == np.float32
    np.testing.assert_allclose(panels, np.stack(expected), atol=1e-6)
    assert not np.allclose(panels[1], panels[3])

    # the figure: source then doses, labelled as text, panels of 64 px (16 px images x 4)
    words = svg_words(folder / "cell_000.svg")
    assert [w for w in words if w in ("DMSO", *DOSES)] == ["DMSO", *DOSES]
    assert "cell_000.tif" in words and "stargan, 1 NFE" in " ".join(words)  # (wrapped under 64 px panels)
    assert (folder / "cell_000.pdf").read_bytes().startswith(b"%PDF")
    with Image.open(folder / "cell_000.png") as figure:
        assert figure.width > 4 * 64
    with Image.open(folder / "cell_000.gif") as gif:
        assert gif.n_frames == 4 and gif.info.get("loop") == 0  # source and three doses

    # the contact sheet: the first 2 of 3 inputs, beside the folder
    sheet = svg_words(tmp_path / "out" / "series" / "drug_contact_sheet.svg")
    assert "cell_000.tif" in sheet and "cell_001.tif" in sheet and "cell_002.tif" not in sheet
    assert sum(w in DOSES for w in sheet) == 3  # column labels once
    with open(tmp_path / "out" / "manifest.csv") as handle:
        kinds = [row["kind"] for row in csv.DictReader(handle)]
    assert kinds.count("figure") == kinds.count("panels") == kinds.count("gif") == kinds.count("figure-pdf") == 3
    assert kinds[-3:] == ["contact-sheet", "contact-sheet-svg", "contact-sheet-pdf"]
    assert all((tmp_path / "out" / dose / "cell_000.tif").is_file() for dose in DOSES)  # images for measuring


def test_figure_options_belong_to_the_job(stargan_checkpoint, tmp_path) -> None:
    write_tiff_folder(tmp_path / "in", 1)
    plain = TranslateOptions(checkpoint=stargan_checkpoint, images=tmp_path / "in", out=tmp_path / "out",
                             source="DMSO", targets=("drug@1",), progress=False)
    translate_folder(plain)
    series = TranslateOptions(checkpoint=stargan_checkpoint, images=tmp_path / "in", out=tmp_path / "out",
                              source="DMSO", dose_series="drug", progress=False, figure=FigureStyle(panel_px=32))
    translate_folder(series)  # a job that drew no figures may start to
    assert json.loads((tmp_path / "out" / ".phenbench-job.json").read_text())["figure"]["panel_px"] == 32
    bigger = TranslateOptions(checkpoint=stargan_checkpoint, images=tmp_path / "in", out=tmp_path / "out",
                              source="DMSO", dose_series="drug", progress=False, figure=FigureStyle(panel_px=64))
    try:
        translate_folder(bigger)
    except ConfigError as error:
        assert "figure" in str(error) and "'panel_px': 32" in str(error) and "new --out" in str(error)
    else:
        raise AssertionError("other figure settings were let into the same folder")


def test_figure_options_on_the_command_line(stargan_checkpoint, tmp_path) -> None:
    write_tiff_folder(tmp_path / "in", 1)
    arguments = ["translate", "--checkpoint", str(stargan_checkpoint), "--images", str(tmp_path / "in"),
                 "--targets", "all-doses", "drug", "--device", "cpu", "-q"]
    result = CliRunner().invoke(build_cli(), [*arguments, "--out", str(tmp_path / "a"), "--panel-px", "0",
                                              "--figure-format", "none", "--difference-rows", "--grey", "actin",
                                              "--colour", "DNA=white"])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "a" / "series" / "drug"
    assert sorted(p.suffix for p in folder.iterdir()) == [".gif", ".npy", ".png"]
    assert not (tmp_path / "a" / "series" / "drug_contact_sheet.png").exists()  # one input: no sheet
    picture = np.asarray(Image.open(folder / "cell_000.png").convert("RGB"))
    assert picture.shape[0] > 4 * SIZE  # the image row and a difference row for the grey channel
    bad = CliRunner().invoke(build_cli(), [*arguments, "--out", str(tmp_path / "b"), "--grey", "DAPI"])
    assert bad.exit_code == 2 and "Grey channel 'DAPI' is not one of the channels DNA, tubulin, actin" in bad.output
    assert not (tmp_path / "b").exists()  # refused before anything was written
    colour = CliRunner().invoke(build_cli(), [*arguments, "--out", str(tmp_path / "c"), "--colour", "DNA"])
    assert colour.exit_code == 2 and "is not CHANNEL=COLOUR" in colour.output
