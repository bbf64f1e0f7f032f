"""Channel display: colours, per-channel contrast, composites, single channels, difference maps."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from phenbench.core.errors import ConfigError
from phenbench.imaging.display import (
    ChannelDisplay,
    data_uri,
    default_colours,
    difference_palette,
    parse_colour,
    png_bytes,
)

BLUE, GREEN, RED = (0.0, 0.0, 1.0), (0.0, 1.0, 0.0), (1.0, 0.0, 0.0)


def test_stain_names_get_their_conventional_colours() -> None:
    assert default_colours(["DNA", "tubulin", "actin"]) == [BLUE, GREEN, RED]
    assert default_colours(["Actin", "DAPI", "Tubulin"]) == [RED, BLUE, GREEN]
    # Unknown stains take palette colours not used by the known ones, in order.
    assert default_colours(["Hoechst", "ER", "Mito"]) == [BLUE, (1.0, 0.0, 1.0), (0.0, 1.0, 1.0)]
    assert default_colours(["only"]) == [(1.0, 1.0, 1.0)]  # one channel: grey


def test_chosen_colours_override_and_unknown_channels_are_refused() -> None:
    assert default_colours(["DNA", "actin"], {"DNA": "#ff8000"}) == [(1.0, 128 / 255, 0.0), RED]
    with pytest.raises(ConfigError, match="unknown channel.*dna.*DNA, actin"):
        default_colours(["DNA", "actin"], {"dna": "blue"})
    with pytest.raises(ConfigError, match="Unknown colour 'bleu'"):
        parse_colour("bleu")


def test_each_channel_has_its_own_display_range() -> None:
    rng = np.random.default_rng(0)
    reference = np.stack([rng.uniform(-1.0, -0.5, (4, 16, 16)), rng.uniform(0.0, 1.0, (4, 16, 16))], axis=1)
    display = ChannelDisplay.fit(["DNA", "actin"], reference)
    assert display.low[0] == pytest.approx(np.percentile(reference[:, 0], 0.5))
    assert display.high[1] == pytest.approx(np.percentile(reference[:, 1], 99.5))
    assert display.high[0] < -0.49 and display.low[1] > -0.01  # not one range for both


def test_composite_adds_channels_in_their_colours() -> None:
    display = ChannelDisplay(("DNA", "tubulin", "actin"), (BLUE, GREEN, RED), (-1.0,) * 3, (1.0,) * 3, (1.0,) * 3)
    image = np.full((1, 3, 2, 2), -1.0, dtype=np.float32)
    image[0, 0, 0, 0] = 1.0  # DNA only: pure blue
    image[0, 0, 1, 1] = image[0, 2, 1, 1] = 1.0  # DNA + actin: magenta
    image[0, 1, 0, 1] = 0.0  # tubulin at mid range: half green
    rgb = display.composite(image)[0]
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.uint8
    assert tuple(rgb[0, 0]) == (0, 0, 255)
    assert tuple(rgb[1, 1]) == (255, 0, 255)
    assert tuple(rgb[0, 1]) == (0, 128, 0)
    assert tuple(rgb[1, 0]) == (0, 0, 0)
    assert display.single(image, 1)[0, 0, 1] == 128


@pytest.mark.parametrize("channels", [1, 2, 4, 6])
def test_any_channel_count(channels: int) -> None:
    rng = np.random.default_rng(channels)
    names = [f"stain{k}" for k in range(channels)]
    images = rng.uniform(-1, 1, (3, channels, 8, 8)).astype(np.float32)
    display = ChannelDisplay.fit(names, images, images - images[::-1])
    assert display.composite(images).shape == (3, 8, 8, 3)
    assert display.difference(images, images).shape == (3, 8, channels * 8 + (channels - 1), 3)


def test_difference_maps_are_signed_per_channel() -> None:
    source = np.zeros((1, 2, 4, 4), dtype=np.float32)
    translated = source.copy()
    translated[0, 0] += 0.5  # channel 0 brighter everywhere, channel 1 unchanged
    display = ChannelDisplay(("a", "b"), (BLUE, RED), (-1.0, -1.0), (1.0, 1.0), (0.5, 0.5))
    strip = display.difference(translated, source)[0].astype(int)
    brighter, unchanged = strip[:, :4], strip[:, 5:]
    assert (strip[:, 4] == 150).all()  # the grey gap between the panels
    assert (brighter[..., 0] > brighter[..., 2] + 50).all()  # (dark) red: brighter
    assert (np.abs(unchanged - unchanged[0, 0]).max() == 0) and (unchanged[0, 0] > 240).all()  # white
    darker = display.difference(source, translated)[0].astype(int)[:, :4]
    assert (darker[..., 2] > darker[..., 0] + 50).all()  # (dark) blue: darker


def test_png_round_trips() -> None:
    pixels = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    png = png_bytes(pixels)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png))), pixels)
    assert data_uri(png).startswith("data:image/png;base64,iVBOR")


def test_paletted_difference_png_decodes_to_the_colour_map() -> None:
    display = ChannelDisplay(("a", "b"), (BLUE, RED), (-1.0, -1.0), (1.0, 1.0), (0.5, 0.5))
    translated = np.linspace(-0.5, 0.5, 32, dtype=np.float32).reshape(1, 2, 4, 4)
    levels = display.difference_levels(translated, np.zeros_like(translated))[0]
    png = png_bytes(levels, palette=difference_palette())
    decoded = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert np.array_equal(decoded, display.difference(translated, np.zeros_like(translated))[0])
    assert levels[0, 0] == 1 and levels[-1, -1] == 255 and levels[0, 4] == 0  # -limit, +limit, gap
    assert tuple(decoded[0, 4]) == (150, 150, 150)  # gaps are grey, unlike "unchanged" (white)


def test_a_difference_beyond_the_scale_is_the_deepest_blue_not_the_gap_grey() -> None:
    """Level 0 is reserved for the gaps between panels: a pixel far darker than the scale's limit
    must saturate at level 1 (deepest blue), as one far brighter saturates at 255 (deepest red)."""
    display = ChannelDisplay(("a",), (BLUE,), (-1.0,), (1.0,), (0.1,))
    source = np.zeros((1, 1, 1, 2), dtype=np.float32)
    translated = np.array([[[[-1.0, 1.0]]]], dtype=np.float32)  # 10x the limit, both ways
    assert display.difference_planes(translated, source)[0, 0, 0].tolist() == [1, 255]
    colours = display.difference(translated, source)[0, 0]
    assert tuple(colours[0]) != (150, 150, 150) and colours[0][2] > colours[0][0]  # blue, not grey
