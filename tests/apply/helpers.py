"""Tiny saved translators and image folders for the translate tests (plain functions, so the
subprocess scripts can use them too)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from phenbench.imaging.normalization import Normalization
from phenbench.core.conditions import ConditionSet
from phenbench.core.dataset import DataSpec

CHANNELS = ("DNA", "tubulin", "actin")
CONDITIONS = ("DMSO", "drug@1", "drug@10", "drug@0.3")  # dose order differs from index order
SIZE = 16


def spec(channels: tuple[str, ...] = CHANNELS, size: int = SIZE) -> DataSpec:
    return DataSpec(channels=channels, image_size=size, conditions=ConditionSet(CONDITIONS))


def save_identity(directory: Path, *, low: float = 100.0, high: float = 60000.0) -> Path:
    """A saved identity translator with a normalization.json mapping [low, high] to [-1, 1]."""
    from phenbench.translators.identity.translator import IdentityConfig, IdentityTranslator

    IdentityTranslator(IdentityConfig(), spec()).save(directory)
    Normalization(CHANNELS, (low,) * 3, (high,) * 3, origin="test").save(directory)
    return directory


def save_stargan(directory: Path, steps: int = 2) -> Path:
    """A StarGAN fitted for a few steps on random 16 x 16 images: outputs differ by target."""
    import torch

    from phenbench.core.translator import FitOptions
    from phenbench.datasets.in_memory import InMemoryDataset
    from phenbench.translators.stargan.config import StarGANConfig
    from phenbench.translators.stargan.translator import StarGANTranslator

    generator = torch.Generator().manual_seed(0)
    n = 4 * len(CONDITIONS)
    labels = [i % len(CONDITIONS) for i in range(n)]
    images = torch.rand(n, 3, SIZE, SIZE, generator=generator) * 2 - 1
    data = InMemoryDataset(spec(), {"train": images, "test": images}, {"train": labels, "test": labels})
    config = StarGANConfig(generator_filters=4, residual_blocks=1, discriminator_filters=4, discriminator_layers=2,
                           batch_size=4, steps=steps, decay_steps=0, critic_steps=1)
    translator = StarGANTranslator(config, data.spec)
    translator.fit(data, FitOptions(seed=0, progress=False))
    translator.save(directory)
    Normalization(CHANNELS, (0.0,) * 3, (65535.0,) * 3, origin="test").save(directory)
    return directory


def write_tiff_folder(folder: Path, count: int, *, shape=(3, SIZE, SIZE), seed: int = 0, layout: str = "chw") -> list[Path]:
    """`count` random 16-bit TIFFs (values inside [100, 60000], so nothing is clipped)."""
    import tifffile

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        pixels = rng.integers(100, 60000, size=shape, dtype=np.uint16)
        if layout == "hwc":
            pixels = np.moveaxis(pixels, 0, -1)
        path = folder / f"cell_{i:03d}.tif"
        tifffile.imwrite(path, pixels, photometric="rgb" if layout == "hwc" else "minisblack")
        paths.append(path)
    return paths
