"""What a CycleGAN pair model trains on: each domain read once per epoch, ahead of the step, with
every draw a function of (pair seed, iteration), and an older checkpoint refused."""

from __future__ import annotations

import pytest
import torch

from phenbench.core.errors import ConfigError
from phenbench.core.translator import FitOptions
from phenbench.datasets.in_memory import random_dataset
from phenbench.translators.cyclegan.batches import augment_generator, pair_batches, pool_generator
from phenbench.translators.cyclegan.translator import CycleGANTranslator
from tests.translators.cyclegan.test_cyclegan_contract import tiny_config


def as_set(images: torch.Tensor) -> list[bytes]:
    return sorted(map(bytes, images.flatten(1).numpy()))


def test_an_epoch_of_each_domain_reads_each_of_its_images_once() -> None:
    data = random_dataset(channels=2, image_size=8, per_condition=4)
    rows = (data.rows("train", 0), data.rows("train", 2))
    items = pair_batches(data, rows, batch_size=len(rows[0]) // 2, seed=9)
    first, second = items[0], items[1]
    for domain in (0, 1):
        epoch = torch.cat([first[domain], second[domain]])
        assert as_set(epoch) == as_set(data.read("train", rows[domain]))
    assert set(first[2].tolist()) == {2}  # the conditions of domain B
    torch.testing.assert_close(items[0][0], first[0])  # an item is a function of its step


def test_the_augmentation_and_pool_draws_are_seeded_per_iteration() -> None:
    cpu = torch.device("cpu")
    same = [torch.rand(4, generator=augment_generator(3, 7, cpu)) for _ in range(2)]
    torch.testing.assert_close(*same)
    assert not torch.equal(torch.rand(4, generator=augment_generator(3, 8, cpu)), same[0])
    assert not torch.equal(torch.rand(4, generator=pool_generator(3, 7)), same[0])  # its own stream


def test_a_checkpoint_whose_batches_were_drawn_the_old_way_is_not_resumed(tmp_path) -> None:
    data = random_dataset(channels=2, image_size=8, per_condition=4)
    pairs = ((0, 1),)
    CycleGANTranslator(tiny_config(2), data.spec).fit(
        data, FitOptions(seed=0, progress=False, checkpoint_dir=tmp_path, pairs=pairs))
    path = next(tmp_path.glob("pair-0-1/*.pt"))
    state = torch.load(path, weights_only=True)
    assert state["draws"] == "per-iteration-v1"
    del state["draws"]  # as a checkpoint of before: one random stream carried across iterations
    torch.save(state, path)
    with pytest.raises(ConfigError, match="CycleGAN checkpoint .* drew its batches differently.*--fresh"):
        CycleGANTranslator(tiny_config(3), data.spec).fit(
            data, FitOptions(seed=0, progress=False, checkpoint_dir=tmp_path, pairs=pairs))
