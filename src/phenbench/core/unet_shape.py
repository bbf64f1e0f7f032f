"""Checks that a diffusers UNet can be built for the data, with errors that name the fix."""

from __future__ import annotations

from collections.abc import Sequence

from phenbench.core.errors import ConfigError


def check_unet_shape(image_size: int, block_out_channels: Sequence[int], norm_num_groups: int) -> None:
    """Refuse an image size the UNet's levels cannot halve, or channels its group norm cannot split."""
    levels = len(block_out_channels)
    if image_size % (2 ** (levels - 1)):
        raise ConfigError(
            f"image size {image_size} is not divisible by 2^{levels - 1}, which a UNet with "
            f"{levels} levels (block_out_channels={tuple(block_out_channels)}) needs; crop the images "
            "or use fewer levels."
        )
    bad = [c for c in block_out_channels if c % norm_num_groups]
    if bad:
        raise ConfigError(
            f"block_out_channels {bad} are not multiples of norm_num_groups={norm_num_groups}; "
            "change one of the two."
        )
