"""CellFlux's configuration: the published settings (the `paper` preset) and a CPU-sized `quick`.

CellFlux (Zhang et al., ICML 2025; code yuhui-zh15/CellFlux) learns a conditional flow in pixel
space along the straight path from a control cell (noised half of the time) to a treated cell of
the same plate. docs/cellflux.md lists every value of the `paper` preset with its source, and
every place where this implementation differs from the research code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MIXED_PRECISION = ("no", "fp16", "bf16")
TIME_SAMPLINGS = ("skewed", "uniform")
TIME_GRIDS = ("edm", "uniform")
CONDITION_ENCODERS = ("learned",)
# Fixed-grid ODE methods of torchdiffeq (through flow_matching's ODESolver) and their velocity
# evaluations per step; adaptive methods are left out so that every translation has a known cost.
ODE_METHODS = {"euler": 1, "midpoint": 2, "heun2": 2, "heun3": 3, "rk4": 4}
# Settings that change only how a trained model samples, never its weights.
TRANSLATION_SETTINGS = frozenset({"ode_method", "sampling_steps", "time_grid", "guidance_scale", "sampling_seed",
                                  "translate_batch_size", "translate_precision", "channels_last", "compile"})


@dataclass(frozen=True)
class CellFluxConfig:
    """Velocity network, probability path, optimiser, EMA, training and ODE sampling settings."""

    # --- velocity network: a pixel-space diffusers UNet2DModel -------------------------------
    block_out_channels: tuple[int, ...] = (256, 256, 256)  # CellFlux: model_channels 128 x (2, 2, 2)
    layers_per_block: int = 4  # CellFlux: num_res_blocks 4
    attention_levels: tuple[int, ...] = (1,)  # CellFlux: attention_resolutions [2] = the level downsampled once
    norm_num_groups: int = 32
    dropout: float = 0.3
    # The time t in [0, 1] of flow_matching is multiplied by this before the UNet's sinusoidal
    # embedding, which diffusers builds for timesteps in [0, 1000): fed t itself, most of its
    # frequencies would barely change over the whole path.
    time_scale: float = 1000.0
    # How a condition becomes the vector added to the time embedding. "learned": one trained
    # vector per condition plus one for 'no condition' (guidance). The encoder is its own module
    # (model.py) so that one built from molecular fingerprints can take its place.
    condition_encoder: str = "learned"
    # --- probability path and training pairs -------------------------------------------------
    noise_level: float = 1.0  # std of the Gaussian noise added to the control image (use_initial 2)
    noise_probability: float = 0.5  # share of training batches whose control is noised
    time_sampling: str = "skewed"  # "skewed": t = 1 / (1 + exp(N(p_mean, p_std))), toward the data end
    time_p_mean: float = -1.2
    time_p_std: float = 1.2
    condition_drop_probability: float = 0.2  # a whole batch trained without its condition
    # Also learn control -> control (CellFlux trains treated targets only): it makes translation
    # to the control condition, hence `reconstruct` of control cells, something the model knows.
    learn_control_target: bool = True
    flip_probability: float = 0.3  # horizontal and vertical flips, each, of each image
    # --- optimiser ----------------------------------------------------------------------------
    learning_rate: float = 1e-4
    adam_beta1: float = 0.9
    adam_beta2: float = 0.95
    weight_decay: float = 0.01  # torch's AdamW default, which CellFlux keeps
    lr_warmup_steps: int = 0  # linear warm-up, then constant (CellFlux: constant, no warm-up)
    max_grad_norm: float | None = None  # None: no clipping (CellFlux's default)
    ema_decay: float = 0.999  # with warm-up min(decay, (1 + n) / (10 + n)), as CellFlux's EMA
    # --- training length ----------------------------------------------------------------------
    epochs: float = 200  # passes over the training targets (CellFlux: 200 epochs)
    steps: int | None = None  # optimizer steps; when set, it wins over `epochs`
    batch_size: int = 32  # pairs per process per step
    mixed_precision: str = "no"  # "no" | "fp16" | "bf16" (CellFlux trains under fp16 autocast on GPU)
    # --- sampling ------------------------------------------------------------------------------
    ode_method: str = "heun2"
    sampling_steps: int = 50  # steps of the time grid (CellFlux's "nfe": 50 is the grid's length)
    time_grid: str = "edm"  # "edm": CellFlux's grid, denser toward t = 1; "uniform": equal steps from 0
    # Classifier-free guidance as PhenDiff counts it: s * v(x, c) + (1 - s) * v(x, null); 1.0 is
    # none. CellFlux's cfg_scale w is s - 1: its published 0.2 is 1.2 here.
    guidance_scale: float = 1.2
    sampling_seed: int = 0  # seeds each image's start noise, from the image itself (batch-independent)
    translate_batch_size: int = 64  # images per network call when translating
    # The network's arithmetic when translating ("auto": the training's bf16/fp16 autocast on a
    # GPU, fp32 on a CPU), its memory order and compilation (core/fast_inference.py).
    translate_precision: str = "auto"
    channels_last: bool = True
    compile: bool = False

    def __post_init__(self) -> None:
        levels = len(self.block_out_channels)
        checks = [
            (levels >= 1, "block_out_channels needs at least one level"),
            (all(0 <= level < levels for level in self.attention_levels),
             f"attention_levels must be levels of the UNet, 0..{levels - 1}"),
            (self.condition_encoder in CONDITION_ENCODERS,
             f"condition_encoder must be one of {CONDITION_ENCODERS}, got {self.condition_encoder!r}"),
            (self.time_sampling in TIME_SAMPLINGS, f"time_sampling must be one of {TIME_SAMPLINGS}"),
            (self.time_grid in TIME_GRIDS, f"time_grid must be one of {TIME_GRIDS}"),
            (self.ode_method in ODE_METHODS,
             f"ode_method must be a fixed-grid method, one of {tuple(ODE_METHODS)}, got {self.ode_method!r}"),
            (self.mixed_precision in MIXED_PRECISION, f"mixed_precision must be one of {MIXED_PRECISION}"),
            (self.noise_level >= 0, "noise_level must be >= 0"),
            (0.0 <= self.noise_probability <= 1.0, "noise_probability must be in [0, 1]"),
            (0.0 <= self.condition_drop_probability <= 1.0, "condition_drop_probability must be in [0, 1]"),
            (0.0 <= self.flip_probability <= 1.0, "flip_probability must be in [0, 1]"),
            (0.0 <= self.dropout < 1.0, "dropout must be in [0, 1)"),
            (0.0 <= self.ema_decay < 1.0, "ema_decay must be in [0, 1)"),
            (self.epochs >= 0 and (self.steps is None or self.steps >= 0), "epochs and steps must be >= 0"),
            (self.batch_size >= 1 and self.translate_batch_size >= 1, "batch sizes must be >= 1"),
            (self.sampling_steps >= 1, "sampling_steps must be >= 1"),
            (self.translate_precision in ("auto", "fp32", "fp16", "bf16"),
             f"translate_precision must be auto, fp32, fp16 or bf16, got {self.translate_precision!r}"),
            (self.time_scale > 0, "time_scale must be > 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


PRESETS: dict[str, dict[str, Any]] = {
    # CellFlux's published BBBC021 run (scripts/slurm_bbbc021.sh, models/model_configs.py), at the
    # data's image size and channel count: docs/cellflux.md gives each value's source.
    "paper": {},
    "quick": {
        # Sized for a 2-core CPU: the network of PhenDiff's quick preset, trained for a few
        # minutes on the synthetic 64 x 64 set; 10 Heun steps (20 velocity evaluations, 40
        # network passes with guidance) per translated image.
        "block_out_channels": (16, 32, 64),
        "layers_per_block": 1,
        "attention_levels": (2,),
        "norm_num_groups": 8,
        "dropout": 0.0,
        "learning_rate": 1e-3,
        "lr_warmup_steps": 30,
        "steps": 1000,
        "batch_size": 16,
        "sampling_steps": 10,
    },
}
