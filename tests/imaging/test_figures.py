"""Dose-series figures: panels, labels as text, one display range per channel, difference rows.

Expected pixels are computed here by hand (numpy percentiles, the stain colours, whole-factor
repetition) and compared with the PNG the figure module writes, read back with Pillow.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from phenbench.core.errors import ConfigError
from phenbench.imaging.display import difference_palette
from phenbench.imaging.figures import FigureStyle, Series, draw, grid_layout, series_layout, write_figure

CHANNELS = ("DNA", "tubulin", "actin")  # blue, green, red
DOSES = ("drug@0.3", "drug@1", "drug@10")
CAPTION = "phendiff, 40 NFE"
SIZE = 16


def known_input() -> np.ndarray:
    """A 3 x 16 x 16 image with structure in every channel: a bright blob, ramps across and down."""
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    dna = -0.8 + 1.1 * np.exp(-((x - 8) ** 2 + (y - 8) ** 2) / 30.0)
    return np.stack([dna, x / SIZE - 0.9, y / SIZE - 0.7]).astype(np.float32)


def offset_series(delta: float = 0.1) -> Series:
    """The source, then dose k as the source plus k * delta in every channel (k = 1, 2, 3)."""
    source = known_input()
    translated = np.stack([source + delta * (k + 1) for k in range(len(DOSES))])
    return Series(source, translated, "DMSO", DOSES, caption=CAPTION, name="cell_007.tif")


def expected_composite(image: np.ndarray, low: np.ndarray, high: np.ndarray, factor: int) -> np.ndarray:
    """By hand: each channel scaled to [0, 1] by its range, DNA to blue, tubulin to green, actin to red."""
    scaled = np.clip((image - low[:, None, None]) / (high - low)[:, None, None], 0, 1)
    rgb = np.stack([scaled[2], scaled[1], scaled[0]], axis=-1)  # R = actin, G = tubulin, B = DNA
    pixels = np.round(rgb * 255).astype(np.uint8)
    return pixels.repeat(factor, axis=0).repeat(factor, axis=1)


def read_png(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def crop(picture: np.ndarray, box) -> np.ndarray:
    x, y, w, h = box
    return picture[y : y + h, x : x + w]


def svg_text(path: Path) -> list[str]:
    return [t.text or "" for t in ElementTree.parse(path).iter() if t.tag.endswith("}text")]


def pdf_text(path: Path) -> str:
    """The strings of every text-showing operator (Tj/TJ) of a PDF, decoded by hand: matplotlib's
    TrueType (Type 42) text is two bytes per character, its code point."""
    data = path.read_bytes()
    words = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            content = zlib.decompress(stream)
        except zlib.error:
            continue  # an embedded font or image
        for array in re.findall(rb"\[(.*?)\]\s*TJ", content, re.S):
            parts = re.findall(rb"\(((?:\\.|[^\\)])*)\)", array, re.S)
            raw = b"".join(re.sub(rb"\\(.)", rb"\1", part, flags=re.S) for part in parts)
            words.append(raw.decode("utf-16-be", errors="replace") if len(raw) % 2 == 0 else raw.decode("latin-1"))
    return "\n".join(words)


def test_a_three_dose_series_figure(tmp_path) -> None:
    """The issue's acceptance test: source then 3 doses, the source panel is the input's rendering,
    labels are text in the SVG and the PDF, and one display range is shared by every panel."""
    series = offset_series()
    style = FigureStyle(vector=("svg", "pdf"))  # panels of at least 256 px: 16 px images x 16
    layout, display = series_layout(series, CHANNELS, style)
    paths = write_figure(layout, tmp_path / "cell.png", style.vector)
    assert [p.name for p in paths] == ["cell.png", "cell.svg", "cell.pdf"]
    drawn = draw(layout)
    picture = read_png(tmp_path / "cell.png")
    assert picture.shape[:2] == (drawn.height, drawn.width)

    # panel count = doses + 1, each 256 px, left to right
    boxes = drawn.boxes[0]
    assert len(boxes) == len(DOSES) + 1
    assert all(box[2:] == (256, 256) for box in boxes)
    assert [box[0] for box in boxes] == sorted(box[0] for box in boxes)

    # the display range: 0.5th and 99.5th percentiles per channel over all four panels
    panels = np.concatenate([series.source[None], series.translated])
    low = np.percentile(panels, 0.5, axis=(0, 2, 3))
    high = np.percentile(panels, 99.5, axis=(0, 2, 3))
    np.testing.assert_allclose(display.low, low, atol=1e-6)
    np.testing.assert_allclose(display.high, high, atol=1e-6)
    # the source panel is the input's rendering, pixel for pixel
    np.testing.assert_array_equal(crop(picture, boxes[0]), expected_composite(series.source, low, high, 16))
    for box, image in zip(boxes[1:], series.translated):
        np.testing.assert_array_equal(crop(picture, box), expected_composite(image, low, high, 16))

    # shared range: +0.1 per dose shows as the same step in every channel, on every unclipped pixel
    levels = [crop(picture, box).astype(int) for box in boxes]
    for k in (1, 2, 3):
        for rgb, c in ((2, 0), (1, 1), (0, 2)):
            step = levels[k][..., rgb] - levels[0][..., rgb]
            inside = (levels[k][..., rgb] < 255) & (levels[0][..., rgb] > 0)
            assert inside.sum() > 256 * 256 / 4
            expected = 0.1 * k / (high[c] - low[c]) * 255
            assert np.abs(step[inside] - expected).max() <= 1.0, (k, c)

    # labels and captions are text, in the SVG and in the PDF
    words = svg_text(tmp_path / "cell.svg")
    for label in ("DMSO", *DOSES, CAPTION, "input", "cell_007.tif"):
        assert label in words, label
    assert all(not re.search(r"<path[^>]*d=\"M[^\"]*\"[^>]*id=\"DejaVu", line)
               for line in (tmp_path / "cell.svg").read_text().splitlines())  # no glyphs drawn as paths
    text = pdf_text(tmp_path / "cell.pdf")
    # (matplotlib shapes "ff" into a ligature glyph that this little decoder cannot read: "40 NFE", not CAPTION)
    for label in ("DMSO", *DOSES, "40 NFE", "cell_007.tif"):
        assert label in text, label


@pytest.mark.parametrize("display_range, low, high", [("full", -1.0, 1.0), ("figure", -0.5, 0.1)])
def test_a_constant_offset_input_keeps_its_offset_in_every_panel(tmp_path, display_range, low, high) -> None:
    """Flat images, each dose 0.2 brighter: the panels step up by the same offset in every channel,
    on one range (the model's [-1, 1], or the percentiles over the figure: -0.5 to 0.1), instead of
    each panel being stretched to its own look."""
    source = np.full((3, SIZE, SIZE), -0.5, dtype=np.float32)
    translated = np.stack([source + 0.2 * (k + 1) for k in range(3)])
    layout, display = series_layout(Series(source, translated, "DMSO", DOSES), CHANNELS,
                                    FigureStyle(panel_px=32, display_range=display_range, vector=()))
    np.testing.assert_allclose(display.low, low, atol=1e-6)
    np.testing.assert_allclose(display.high, high, atol=1e-6)
    write_figure(layout, tmp_path / "flat.png")
    picture = read_png(tmp_path / "flat.png")
    for k, box in enumerate(draw(layout).boxes[0]):
        panel = crop(picture, box).reshape(-1, 3)
        assert (panel == panel[0]).all()  # flat stays flat
        level = round((-0.5 + 0.2 * k - low) / (high - low) * 255)
        assert tuple(panel[0]) == (level, level, level), k  # red, green and blue stains at the same level


def test_difference_rows_are_signed_on_one_scale_per_channel_with_colour_bars(tmp_path) -> None:
    series = offset_series(0.1)
    style = FigureStyle(panel_px=128, differences=True, vector=("svg",))
    layout, display = series_layout(series, CHANNELS, style)
    write_figure(layout, tmp_path / "d.png", style.vector)
    drawn = draw(layout)
    assert len(drawn.boxes) == 1 + len(CHANNELS)  # the images, then a row per channel
    assert all(row[0] is None for row in drawn.boxes[1:])  # the source has no difference
    picture = read_png(tmp_path / "d.png")
    # every difference is +0.1 k; the scale is the 99th percentile of |difference| = 0.3 in every channel
    np.testing.assert_allclose(display.difference_limit, 0.3, atol=1e-6)
    palette = difference_palette()
    for c in range(3):
        for k in (1, 2, 3):
            level = round(128 + 127 * 0.1 * k / 0.3)
            panel = crop(picture, drawn.boxes[1 + c][k]).reshape(-1, 3)
            assert (panel == palette[level]).all(), (c, k)
    words = svg_text(tmp_path / "d.svg")
    assert {"DNA difference", "tubulin difference", "actin difference"} <= set(words)  # row labels
    assert words.count("+0.3") == words.count("−0.3") == 3  # a colour bar per channel


def test_grey_shows_one_channel_alone_and_colours_can_be_chosen(tmp_path) -> None:
    series = offset_series()
    grey, display = series_layout(series, CHANNELS, FigureStyle(panel_px=16, grey="tubulin", vector=()))
    write_figure(grey, tmp_path / "g.png")
    panel = crop(read_png(tmp_path / "g.png"), draw(grey).boxes[0][0])
    scaled = np.clip((series.source[1] - display.low[1]) / (display.high[1] - display.low[1]), 0, 1)
    np.testing.assert_array_equal(panel[..., 0], np.round(scaled * 255).astype(np.uint8))
    assert (panel[..., 0] == panel[..., 1]).all() and (panel[..., 1] == panel[..., 2]).all()
    coloured, display = series_layout(series, CHANNELS, FigureStyle(panel_px=16, colours={"DNA": "white"}, vector=()))
    assert display.colours[0] == (1.0, 1.0, 1.0) and display.colours[2] == (1.0, 0.0, 0.0)
    with pytest.raises(ConfigError, match="Grey channel 'DAPI' is not one of the channels DNA, tubulin, actin"):
        series_layout(series, CHANNELS, FigureStyle(grey="DAPI"))


def test_panels_are_enlarged_by_a_whole_factor_nearest_neighbour() -> None:
    assert FigureStyle(panel_px=256).factor(68) == 4 and FigureStyle(panel_px=256).factor(64) == 4
    assert FigureStyle(panel_px=0).factor(68) == 1 and FigureStyle(panel_px=100).factor(128) == 1
    with pytest.raises(ConfigError, match="Figure format 'png' is not one of svg, pdf"):
        FigureStyle(vector=("png",))


def test_a_grid_labels_its_columns_once_and_its_rows_at_the_left(tmp_path) -> None:
    images = np.random.default_rng(0).uniform(-1, 1, (3, 2, 3, 8, 8)).astype(np.float32)  # 3 rows x 2 columns
    layout, _ = grid_layout(images, CHANNELS, FigureStyle(panel_px=32, vector=("svg",)),
                            column_labels=["before", "after"], row_labels=["a.tif", "b.tif", "c.tif"])
    write_figure(layout, tmp_path / "grid.png", ("svg",))
    words = svg_text(tmp_path / "grid.svg")
    assert words.count("before") == 1 and words.count("after") == 1
    assert all(name in words for name in ("a.tif", "b.tif", "c.tif"))
    assert [len(row) for row in draw(layout).boxes] == [2, 2, 2]


def test_vector_files_are_reproducible(tmp_path) -> None:
    layout, _ = series_layout(offset_series(), CHANNELS, FigureStyle(panel_px=16, vector=("svg", "pdf")))
    write_figure(layout, tmp_path / "a" / "x.png", ("svg", "pdf"))
    write_figure(layout, tmp_path / "b" / "x.png", ("svg", "pdf"))
    for name in ("x.png", "x.svg", "x.pdf"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
