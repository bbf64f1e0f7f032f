"""Rendering: determinism, row-order independence, value range, sizes, and true counterfactuals."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from scipy import ndimage

from phenbench.core.errors import DataError, UnknownNameError
from phenbench.datasets.synthetic.adapter import SyntheticDataset
from phenbench.datasets.synthetic.config import SyntheticConfig


def test_same_seed_gives_the_same_bytes_and_another_seed_differs(tiny_config: SyntheticConfig) -> None:
    rows = [0, 5, 11, 26]
    first = SyntheticDataset(tiny_config).read("train", rows)
    again = SyntheticDataset(tiny_config).read("train", rows)
    assert first.numpy().tobytes() == again.numpy().tobytes()
    other = SyntheticDataset(dataclasses.replace(tiny_config, seed=1)).read("train", rows)
    assert (first - other).abs().mean() > 0.02


def test_a_row_does_not_depend_on_which_rows_are_read_with_it(tiny_config: SyntheticConfig) -> None:
    together = SyntheticDataset(tiny_config).read("test", [7, 2, 13])
    fresh = SyntheticDataset(tiny_config)
    alone = torch.cat([fresh.read("test", [13]), fresh.read("test", [2]), fresh.read("test", [7])])
    assert torch.equal(together, alone.flip(0))
    # The streaming path (no cache) renders the same pixels as the cached one.
    uncached = SyntheticDataset(tiny_config)
    uncached._split_cache = lambda split: None
    assert torch.equal(uncached.read("test", [7, 2, 13]), together)


def test_train_and_test_images_differ(tiny_config: SyntheticConfig) -> None:
    world = SyntheticDataset(tiny_config)
    assert not torch.equal(world.read("train", [0]), world.read("test", [0]))


def test_images_are_float32_in_range_and_show_cells(default_world: SyntheticDataset) -> None:
    images = default_world.read("test", default_world.rows("test"))
    assert images.dtype == torch.float32 and images.shape == (9 * 16, 3, 64, 64)
    assert images.min() >= -1.0 and images.max() <= 1.0
    # Mostly dark background with bright cells in every channel.
    for channel in range(3):
        values = images[:, channel]
        assert torch.median(values) < -0.8
        assert values.amax(dim=(1, 2)).min() > -0.6  # the dimmest: actin under shrinkin@3


@pytest.mark.parametrize("size", [32, 128])
def test_other_image_sizes_render_the_same_field(size: int) -> None:
    config = SyntheticConfig(image_size=size, train_per_condition=1, test_per_condition=2)
    world = SyntheticDataset(config)
    images = world.read("test", [0, 1])
    assert images.shape == (2, 3, size, size)
    assert images.min() >= -1.0 and images.max() <= 1.0
    reference = SyntheticDataset(dataclasses.replace(config, image_size=64))
    _, here = world.phenotype_readouts(images)
    _, there = reference.phenotype_readouts(reference.read("test", [0, 1]))
    # Areas are in reference pixels: the same cells measure alike at any resolution.
    np.testing.assert_allclose(here[:, :2], there[:, :2], rtol=0.25)
    assert np.array_equal(here[:, -1], there[:, -1])  # the same number of cells


def test_counterfactual_under_the_own_condition_is_the_image(default_world: SyntheticDataset) -> None:
    rows = np.array([3, 40, 100, 143])
    images = default_world.read("test", rows)
    labels = default_world.labels("test")[rows]
    for row, label, image in zip(rows, labels, images):
        assert torch.equal(default_world.counterfactuals("test", [row], int(label))[0], image)


def _nucleus_centres(image: torch.Tensor) -> np.ndarray:
    labels, n = ndimage.label(image[0].numpy() > -0.3)
    centres = ndimage.center_of_mass(np.ones_like(labels), labels, range(1, n + 1))
    return np.array(sorted(centres))


def test_counterfactual_keeps_the_cells_and_layout_under_another_condition(default_world: SyntheticDataset) -> None:
    rows = default_world.rows("test", "DMSO")[:6]
    source = default_world.read("test", rows)
    for target in ("shrinkin@3", "dispersin@1"):
        moved = default_world.counterfactuals("test", rows, target)
        assert (moved - source).abs().mean() > 0.005  # the treatment changed the image
        for before, after in zip(source, moved):
            a, b = _nucleus_centres(before), _nucleus_centres(after)
            assert a.shape == b.shape  # same cells
            assert np.abs(a - b).max() < 1.5  # in the same places (pixels)
        # Away from every cell, the background and its read noise are the same pixels.
        brightest = torch.maximum(source.amax(dim=1), moved.amax(dim=1)).numpy()
        near_cells = ndimage.gaussian_filter(brightest, (0, 1.5, 1.5)) > -0.85  # smoothed past the noise
        far = torch.from_numpy(~ndimage.binary_dilation(near_cells, iterations=4, axes=(1, 2)))
        far = far[:, None].expand_as(source)
        assert far.float().mean() > 0.2
        np.testing.assert_allclose(source[far], moved[far], atol=0.005)


def test_content_hash_follows_the_world_not_the_root(tiny_config: SyntheticConfig) -> None:
    base = SyntheticDataset(tiny_config).content_hash()
    assert SyntheticDataset(dataclasses.replace(tiny_config, root="/somewhere")).content_hash() == base
    assert SyntheticDataset(dataclasses.replace(tiny_config, seed=3)).content_hash() != base
    assert SyntheticDataset(dataclasses.replace(tiny_config, image_size=32)).content_hash() != base


def test_metadata_carries_the_ground_truth(tiny_config: SyntheticConfig) -> None:
    world = SyntheticDataset(tiny_config)
    meta = world.metadata("train")
    assert len(meta) == 27
    assert list(meta["condition"]) == [world.conditions.name(i) for i in world.labels("train")]
    dmso = meta[meta["condition"] == "DMSO"]
    assert dmso["concentration"].isna().all() and (dmso["hill_fraction"] == 0).all()
    assert meta["n_cells"].between(1, 3).all()
    high = meta[meta["condition"] == "shrinkin@3"]
    assert high["hill_fraction"].iloc[0] == pytest.approx(3**1.5 / (1 + 3**1.5))
    cells = world.cell_table("train")
    assert len(cells) == meta["n_cells"].sum()
    # The same cells under DMSO and shrinkin@3: the cytoplasm radius drops by max_shift * hill.
    rows = world.rows("train", "DMSO")
    base = cells[cells["row"].isin(rows)]["cytoplasm_radius"].to_numpy()
    shrink = world.hill_fraction("shrinkin@3") * -4.0
    assert np.all(base > 3.0 - shrink)  # no cell hits the minimum radius, so the shift is exact
    assert effects_table_names(world) == {("shrinkin", "cell_area"), ("shrinkin", "actin_rim_intensity"),
                                          ("dispersin", "organelle_spread"), ("dispersin", "nuclear_area")}


def effects_table_names(world: SyntheticDataset) -> set[tuple[str, str]]:
    table = world.effects()
    return set(zip(table["compound"], table["readout"]))


def test_bad_rows_splits_and_conditions_are_one_line_errors(tiny_config: SyntheticConfig) -> None:
    world = SyntheticDataset(tiny_config)
    with pytest.raises(DataError, match="Rows must lie in 0..26"):
        world.read("train", [27])
    with pytest.raises(DataError, match="no split 'val'"):
        world.read("val", [0])
    with pytest.raises(DataError, match="integers"):
        world.read("train", [0.5])
    with pytest.raises(UnknownNameError, match="shrinkin@3"):
        world.counterfactuals("train", [0], "shrinkin@30")
    with pytest.raises(DataError, match="out of range"):
        world.counterfactuals("train", [0], 9)
    assert world.read("train", []).shape == (0, 3, 64, 64)


def test_another_process_renders_the_same_bytes(tiny_config: SyntheticConfig) -> None:
    """Nothing in a process (hash seeds, import order, earlier reads) leaks into the pixels."""
    import hashlib
    import subprocess
    import sys

    script = (
        "import hashlib; from phenbench.datasets.synthetic.adapter import SyntheticDataset; "
        "from phenbench.datasets.synthetic.config import SyntheticConfig; "
        "w = SyntheticDataset(SyntheticConfig(train_per_condition=3, test_per_condition=2)); "
        "print(hashlib.sha256(w.read('train', [4, 20]).numpy().tobytes()).hexdigest())"
    )
    other = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.strip()
    here = hashlib.sha256(SyntheticDataset(tiny_config).read("train", [4, 20]).numpy().tobytes()).hexdigest()
    assert other == here


def test_streams_row_by_row_as_a_torch_dataset(tiny_config: SyntheticConfig) -> None:
    world = SyntheticDataset(tiny_config)
    rows = world.torch_dataset("test")
    assert len(rows) == 18
    image, label = rows[5]
    assert image.shape == (3, 64, 64) and label == int(world.labels("test")[5])
    assert torch.equal(image, world.read("test", [5])[0])
