"""`--targets all-doses COMPOUND`: one strip panel and one GIF frame per dose, in dose order."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from phenbench.apply.runner import TranslateOptions, load_translator, translate_folder
from phenbench.imaging.panels import composites, panel_gap, strip
from tests.apply.helpers import SIZE, write_tiff_folder


def test_dose_series_strip_has_one_panel_per_dose_in_dose_order(stargan_checkpoint, tmp_path) -> None:
    [path] = write_tiff_folder(tmp_path / "in", 1)
    job = TranslateOptions(checkpoint=stargan_checkpoint, images=tmp_path / "in", out=tmp_path / "out",
                           source="DMSO", dose_series="drug", batch_size=4, progress=False)
    translate_folder(job)
    doses = ["drug@0.3", "drug@1", "drug@10"]  # the model's index order is 1, 10, 0.3
    with Image.open(tmp_path / "out" / "series" / "drug" / "cell_000.png") as image:
        picture = np.asarray(image.convert("RGB"))
    gap = panel_gap(SIZE)
    assert picture.shape == (SIZE, len(doses) * SIZE + (len(doses) - 1) * gap, 3)
    panels = [picture[:, i * (SIZE + gap) : i * (SIZE + gap) + SIZE] for i in range(len(doses))]
    assert (picture[:, SIZE : SIZE + gap] == 255).all()  # white between panels

    # each panel is the composite of the model's own translation to that dose, in dose order
    translator = load_translator(stargan_checkpoint)
    from phenbench.imaging.normalization import load_normalization
    from phenbench.apply.preprocess import to_model

    import tifffile

    normalization = load_normalization(stargan_checkpoint / "normalization.json")
    batch = to_model(tifffile.imread(path), normalization, SIZE)[None]
    with torch.no_grad():
        expected = [translator.translate(batch, "DMSO", dose).images for dose in doses]
    for panel, images in zip(panels, expected):
        np.testing.assert_array_equal(panel, composites(images, translator.spec.channels)[0])
    assert not np.array_equal(panels[0], panels[2])

    with Image.open(tmp_path / "out" / "series" / "drug" / "cell_000.gif") as gif:
        assert gif.n_frames == len(doses)
        assert gif.info.get("loop") == 0
    # the per-dose images are written too, in the input's format
    assert all((tmp_path / "out" / dose / "cell_000.tif").is_file() for dose in doses)


def test_strip_lays_panels_left_to_right() -> None:
    panels = np.stack([np.full((4, 4, 3), v, dtype=np.uint8) for v in (10, 20, 30)])
    picture = strip(panels)
    assert picture.shape == (4, 3 * 4 + 2, 3)
    assert picture[0, 0, 0] == 10 and picture[0, 5, 0] == 20 and picture[0, 10, 0] == 30 and picture[0, 4, 0] == 255


def test_gif_frames_are_the_strip_panels_on_one_palette(tmp_path) -> None:
    from phenbench.apply.series import write_gif

    rng = np.random.default_rng(0)
    panels = rng.integers(0, 256, size=(3, 8, 8, 3), dtype=np.uint8)
    panels[:, :, :, 1:] = 0  # few colours (red levels only): the palette holds them all exactly
    panels[..., 0] //= 32
    panels[..., 0] *= 32
    write_gif(strip(panels), 3, tmp_path / "a.gif")
    with Image.open(tmp_path / "a.gif") as gif:
        assert gif.n_frames == 3
        for i in range(3):
            gif.seek(i)
            np.testing.assert_array_equal(np.asarray(gif.convert("RGB")), panels[i])
