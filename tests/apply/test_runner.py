"""translate_folder end to end with tiny saved translators."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
import tifffile

from phenbench.apply.runner import TranslateOptions, translate_folder
from phenbench.core.errors import ConfigError, DataError, UnknownNameError
from tests.apply.helpers import write_tiff_folder


def options(checkpoint: Path, images: Path, out: Path, **changes) -> TranslateOptions:
    values = dict(checkpoint=checkpoint, images=images, out=out, source="DMSO", targets=("drug@1",),
                  batch_size=2, progress=False)
    values.update(changes)
    return TranslateOptions(**values)


def test_16_bit_three_channel_tiffs_in_give_16_bit_tiffs_of_the_same_shape_out(identity_checkpoint, tmp_path) -> None:
    inputs = write_tiff_folder(tmp_path / "in", 3)
    report = translate_folder(options(identity_checkpoint, tmp_path / "in", tmp_path / "out"))
    assert report.written == 3 and report.skipped == 0 and report.images == 3
    for path in inputs:
        written = tifffile.imread(tmp_path / "out" / "drug@1" / path.name)
        original = tifffile.imread(path)
        assert written.dtype == np.uint16 and written.shape == original.shape == (3, 16, 16)
        # identity + the saved normalisation, inverted on output: the raw values come back exactly
        np.testing.assert_array_equal(written, original)


def test_channels_last_and_other_sizes_keep_their_layout_and_shape(identity_checkpoint, tmp_path) -> None:
    [path] = write_tiff_folder(tmp_path / "in", 1, shape=(3, 24, 20), layout="hwc")
    translate_folder(options(identity_checkpoint, path, tmp_path / "out"))
    written = tifffile.imread(tmp_path / "out" / "drug@1" / path.name)
    original = tifffile.imread(path)
    assert written.shape == original.shape == (24, 20, 3) and written.dtype == np.uint16
    # resized to 16 x 16 and back: close to, not equal to, the input
    error = np.abs(written.astype(float) - original).mean()
    assert 0 < error < np.abs(original.astype(float) - original.mean()).mean()


def test_eight_bit_png_round_trips_through_the_dtype_range(identity_checkpoint, tmp_path) -> None:
    from PIL import Image

    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    (tmp_path / "in").mkdir()
    Image.fromarray(pixels).save(tmp_path / "in" / "a.png")
    translate_folder(options(identity_checkpoint, tmp_path / "in", tmp_path / "out", normalization="dtype"))
    with Image.open(tmp_path / "out" / "drug@1" / "a.png") as image:
        assert image.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(image), pixels)


def test_wrong_channel_count_is_a_one_line_error_naming_the_file(identity_checkpoint, tmp_path) -> None:
    [path] = write_tiff_folder(tmp_path / "in", 1, shape=(4, 16, 16))
    with pytest.raises(DataError, match=r"cell_000.tif has 4 channel\(s\) but the model was trained on 3 \(DNA, tubulin, actin\)"):
        translate_folder(options(identity_checkpoint, tmp_path / "in", tmp_path / "out"))


def test_unreadable_file_is_a_one_line_error_naming_the_file(identity_checkpoint, tmp_path) -> None:
    write_tiff_folder(tmp_path / "in", 1)
    (tmp_path / "in" / "broken.tif").write_bytes(b"II*\x00 this is not a tiff")
    with pytest.raises(DataError, match=r"broken.tif") as error:
        translate_folder(options(identity_checkpoint, tmp_path / "in", tmp_path / "out"))
    assert "\n" not in str(error.value)
    (tmp_path / "in" / "broken.tif").write_bytes(b"\x00" * 64)
    with pytest.raises(DataError, match=r"broken.tif cannot be read"):
        translate_folder(options(identity_checkpoint, tmp_path / "in", tmp_path / "out"))


def test_unknown_target_and_empty_folder_are_clear_errors(identity_checkpoint, tmp_path) -> None:
    write_tiff_folder(tmp_path / "in", 1)
    with pytest.raises(UnknownNameError, match="Did you mean: drug@1"):
        translate_folder(options(identity_checkpoint, tmp_path / "in", tmp_path / "out", targets=("drug@1.0",)))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="No PNG or TIFF files"):
        translate_folder(options(identity_checkpoint, tmp_path / "empty", tmp_path / "out"))


def test_rerun_skips_existing_files_and_fills_in_missing_ones(stargan_checkpoint, tmp_path) -> None:
    write_tiff_folder(tmp_path / "in", 5)
    job = options(stargan_checkpoint, tmp_path / "in", tmp_path / "out", targets=("drug@1", "drug@10"))
    first = translate_folder(job)
    assert first.written == 10
    files = sorted((tmp_path / "out").rglob("*.tif"))
    content = {p: p.read_bytes() for p in files}
    removed = files[3]
    removed.unlink()
    old = 1_000_000_000  # mark the kept files, so any rewrite would show in the mtime
    for p in files:
        if p != removed:
            os.utime(p, (old, old))
    second = translate_folder(job)
    assert second.written == 1 and second.skipped == 9
    assert all(p.stat().st_mtime == old for p in files if p != removed)
    assert removed.read_bytes() == content[removed]  # recomputed in the same batch: the same bytes


def test_a_folder_of_another_jobs_outputs_is_refused_not_skipped(stargan_checkpoint, identity_checkpoint, tmp_path) -> None:
    write_tiff_folder(tmp_path / "in", 2)
    translate_folder(options(stargan_checkpoint, tmp_path / "in", tmp_path / "out"))
    # Another model into the same folder would find the StarGAN files and skip them as done.
    with pytest.raises(ConfigError, match=r"another translate job \(checkpoint .*translator 'stargan' there, 'identity' now"):
        translate_folder(options(identity_checkpoint, tmp_path / "in", tmp_path / "out"))
    with pytest.raises(ConfigError, match="source 'DMSO' there, 'drug@10' now"):
        translate_folder(options(stargan_checkpoint, tmp_path / "in", tmp_path / "out", source="drug@10"))
    # The same job with one more target resumes: only the new target's files are written.
    again = translate_folder(options(stargan_checkpoint, tmp_path / "in", tmp_path / "out", targets=("drug@1", "drug@10")))
    assert again.written == 2 and again.skipped == 2


def test_manifest_lists_every_output_in_input_order(stargan_checkpoint, tmp_path) -> None:
    inputs = write_tiff_folder(tmp_path / "in", 3)
    report = translate_folder(options(stargan_checkpoint, tmp_path / "in", tmp_path / "out",
                                      targets=("drug@10", "DMSO"), differences=True))
    rows = list(csv.DictReader(report.manifest.open()))
    assert [(r["input"], r["target"], r["kind"]) for r in rows[:4]] == [
        (str(inputs[0]), "drug@10", "translated"), (str(inputs[0]), "DMSO", "translated"),
        (str(inputs[0]), "drug@10", "difference"), (str(inputs[0]), "DMSO", "difference"),
    ]
    assert len(rows) == 12 and all((tmp_path / "out" / r["output"]).is_file() for r in rows)
    assert {r["translator"] for r in rows} == {"stargan"} and {r["normalization"] for r in rows} == {"test"}


def test_difference_maps_are_translated_minus_source_per_channel(stargan_checkpoint, tmp_path) -> None:
    [path] = write_tiff_folder(tmp_path / "in", 1)
    translate_folder(options(stargan_checkpoint, tmp_path / "in", tmp_path / "out", differences=True))
    translated = tifffile.imread(tmp_path / "out" / "drug@1" / path.name).astype(np.float64)
    difference = tifffile.imread(tmp_path / "out" / "differences" / "drug@1" / path.name)
    assert difference.dtype == np.float32 and difference.shape == (3, 16, 16)
    # the map is in raw units before rounding: within half a grey level of the written images' difference
    np.testing.assert_allclose(difference, translated - tifffile.imread(path), atol=0.51)
    assert np.abs(difference).max() > 100  # a StarGAN changes the image


def test_without_normalization_json_auto_estimates_from_the_inputs(tmp_path) -> None:
    from phenbench.translators.identity.translator import IdentityConfig, IdentityTranslator
    from tests.apply.helpers import spec

    IdentityTranslator(IdentityConfig(), spec()).save(tmp_path / "model")
    inputs = write_tiff_folder(tmp_path / "in", 4)
    report = translate_folder(options(tmp_path / "model", tmp_path / "in", tmp_path / "out"))
    assert report.normalization.startswith("estimated from 4 input image(s)")
    # identity: values inside the 0.1-99.9 percentile range come back exactly, the extremes are clipped
    original = np.stack([tifffile.imread(p) for p in inputs])
    written = np.stack([tifffile.imread(tmp_path / "out" / "drug@1" / p.name) for p in inputs])
    low = np.percentile(original.transpose(1, 0, 2, 3).reshape(3, -1), 0.1, axis=1)[None, :, None, None]
    high = np.percentile(original.transpose(1, 0, 2, 3).reshape(3, -1), 99.9, axis=1)[None, :, None, None]
    inside = (original >= low + 1) & (original <= high - 1)
    assert inside.mean() > 0.99
    assert np.abs(written.astype(int) - original)[inside].max() <= 1
    np.testing.assert_allclose(written[original < low], np.broadcast_to(low, original.shape)[original < low], atol=1)


def test_sixteen_bit_grey_png_stays_sixteen_bit(tmp_path) -> None:
    from PIL import Image

    from phenbench.translators.identity.translator import IdentityConfig, IdentityTranslator
    from tests.apply.helpers import spec

    IdentityTranslator(IdentityConfig(), spec(channels=("DNA",))).save(tmp_path / "model")
    pixels = np.random.default_rng(2).integers(0, 65536, size=(16, 16), dtype=np.uint16)
    (tmp_path / "in").mkdir()
    Image.fromarray(pixels).save(tmp_path / "in" / "grey.png")
    translate_folder(options(tmp_path / "model", tmp_path / "in", tmp_path / "out", normalization="dtype"))
    with Image.open(tmp_path / "out" / "drug@1" / "grey.png") as image:
        assert image.mode.startswith("I")
        np.testing.assert_array_equal(np.asarray(image).astype(np.uint16), pixels)


def test_a_second_target_into_the_same_folder_keeps_the_first_targets_rows(identity_checkpoint, tmp_path) -> None:
    inputs = write_tiff_folder(tmp_path / "in", 3)
    translate_folder(options(identity_checkpoint, tmp_path / "in", tmp_path / "out"))
    translate_folder(options(identity_checkpoint, tmp_path / "in", tmp_path / "out", targets=("drug@10",)))
    with open(tmp_path / "out" / "manifest.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted((r["target"], Path(r["output"]).name) for r in rows) == sorted(
        (t, p.name) for t in ("drug@1", "drug@10") for p in inputs)
    assert all((tmp_path / "out" / r["output"]).is_file() for r in rows)
    # The same job again: the same rows, once each.
    translate_folder(options(identity_checkpoint, tmp_path / "in", tmp_path / "out", targets=("drug@10",)))
    with open(tmp_path / "out" / "manifest.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 6


def test_overlapping_image_and_output_folders_are_refused(identity_checkpoint, tmp_path) -> None:
    write_tiff_folder(tmp_path / "in" / "plate1", 2)
    for out in (tmp_path / "in", tmp_path / "in" / "translated", tmp_path):
        with pytest.raises(ConfigError, match="overlap"):
            translate_folder(options(identity_checkpoint, tmp_path / "in", out))
    assert sorted(p.name for p in (tmp_path / "in").rglob("*")) == ["cell_000.tif", "cell_001.tif", "plate1"]


def test_images_of_another_bit_depth_than_the_training_data_are_refused(tmp_path) -> None:
    from PIL import Image

    from phenbench.imaging.normalization import Normalization
    from tests.apply.helpers import CHANNELS, save_identity

    (tmp_path / "in").mkdir()
    Image.fromarray(np.full((16, 16, 3), 200, np.uint8)).save(tmp_path / "in" / "a.png")
    older = save_identity(tmp_path / "older")  # normalization.json without a dtype: 60000 is out of 8-bit reach
    with pytest.raises(DataError, match=r"a.png is uint8, but the model's intensity map \(test\) is for intensities up to 60000"):
        translate_folder(options(older, tmp_path / "in", tmp_path / "out"))
    newer = save_identity(tmp_path / "newer")
    Normalization(CHANNELS, (0.0,) * 3, (200.0,) * 3, origin="test", dtype="uint16").save(newer)
    with pytest.raises(DataError, match=r"a.png is uint8, but .* is for uint16 images"):
        translate_folder(options(newer, tmp_path / "in", tmp_path / "out"))
    assert not (tmp_path / "out").exists()  # refused before the folder was claimed
    translate_folder(options(newer, tmp_path / "in", tmp_path / "out", normalization="dtype"))  # said explicitly
    assert (tmp_path / "out" / "drug@1" / "a.png").is_file()
