"""CellFlux's velocity network: a diffusers UNet2DModel, a replaceable condition encoder, and the
guided velocity field that flow_matching's ODE solver integrates.

The UNet takes its condition as a vector added to its time embedding (`class_embed_type
"identity"`), so what turns a condition into that vector is a separate module: a learned table
now; an encoder of molecular fingerprints (CellFlux's and IMPA's way to unseen compounds) can
replace it without touching the UNet.
"""

from __future__ import annotations

import torch
from torch import nn

from phenbench.core.dataset import DataSpec
from phenbench.core.errors import ConfigError
from phenbench.core.torch_compat import ensure_torchvision_importable
from phenbench.core.unet_shape import check_unet_shape
from phenbench.translators.cellflux.config import CellFluxConfig

ensure_torchvision_importable()

from diffusers import UNet2DModel  # noqa: E402
from flow_matching.utils import ModelWrapper  # noqa: E402


def null_condition(spec: DataSpec) -> int:
    """The index reserved for 'no condition' (classifier-free guidance)."""
    return len(spec.conditions)


def time_embedding_size(config: CellFluxConfig) -> int:
    """The width of the UNet's time embedding, which the condition vector is added to."""
    return config.block_out_channels[0] * 4


class LearnedConditionEncoder(nn.Module):
    """One trained vector per condition, plus one for 'no condition'."""

    def __init__(self, conditions: int, width: int):
        super().__init__()
        self.table = nn.Embedding(conditions + 1, width)  # + the null condition

    def forward(self, conditions: torch.Tensor) -> torch.Tensor:
        return self.table(conditions)


def build_condition_encoder(config: CellFluxConfig, spec: DataSpec) -> nn.Module:
    if config.condition_encoder != "learned":  # the config refuses other names; kept for the next encoder
        raise ConfigError(f"unknown condition_encoder {config.condition_encoder!r}")
    return LearnedConditionEncoder(len(spec.conditions), time_embedding_size(config))


def build_unet(config: CellFluxConfig, spec: DataSpec) -> UNet2DModel:
    """A pixel-space UNet2DModel whose class embedding is the condition vector it is given."""
    check_unet_shape(spec.image_size, config.block_out_channels, config.norm_num_groups)
    levels = len(config.block_out_channels)
    attention = set(config.attention_levels)
    down = tuple("AttnDownBlock2D" if level in attention else "DownBlock2D" for level in range(levels))
    up = tuple("AttnUpBlock2D" if level in attention else "UpBlock2D" for level in reversed(range(levels)))
    return UNet2DModel(
        sample_size=spec.image_size,
        in_channels=spec.num_channels,
        out_channels=spec.num_channels,
        layers_per_block=config.layers_per_block,
        block_out_channels=tuple(config.block_out_channels),
        down_block_types=down,
        up_block_types=up,
        norm_num_groups=config.norm_num_groups,
        dropout=config.dropout,
        attention_head_dim=None,  # one head as wide as its block (CellFlux: num_heads 1)
        resnet_time_scale_shift="scale_shift",  # CellFlux: use_scale_shift_norm
        class_embed_type="identity",
    )


class VelocityNetwork(nn.Module):
    """v(x, t, c): the UNet with its condition encoder, for t in [0, 1] as flow_matching uses it."""

    def __init__(self, config: CellFluxConfig, spec: DataSpec):
        super().__init__()
        self.unet = build_unet(config, spec)
        self.encoder = build_condition_encoder(config, spec)
        self.time_scale = config.time_scale

    def forward(self, x: torch.Tensor, t: torch.Tensor, conditions: torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device).reshape(-1).expand(len(x))
        vectors = self.encoder(conditions.to(x.device)).to(x.dtype)
        return self.unet(x, t * self.time_scale, class_labels=vectors).sample


class GuidedVelocity(ModelWrapper):
    """The velocity field the ODE solver integrates: classifier-free guided when the scale is not 1.

    s * v(x, t, c) + (1 - s) * v(x, t, null), the conditional and unconditional passes in one
    batch. Counts network passes per image (`passes`), for the NFE every result records.
    """

    def __init__(self, network: VelocityNetwork, null: int, guidance_scale: float):
        super().__init__(network)
        self.null = null
        self.scale = guidance_scale
        self.passes = 0

    def forward(self, x: torch.Tensor, t: torch.Tensor, **extras) -> torch.Tensor:
        conditions = extras["conditions"]
        if self.scale == 1.0:
            self.passes += 1
            return self.model(x, t, conditions)
        self.passes += 2
        both = self.model(torch.cat([x, x]), t, torch.cat([conditions, torch.full_like(conditions, self.null)]))
        conditional, unconditional = both.chunk(2)
        return self.scale * conditional + (1.0 - self.scale) * unconditional
