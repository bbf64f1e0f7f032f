"""PhenDiff's configuration: every hyper-parameter of the published model, and the presets.

The `paper` preset is the configuration of the PhenDiff paper (Bourou et al., 2024). The model is
built for the data's image size and channel count (the paper trained on 128 x 128 RGB crops).
`quick` and `small` share one 0.69 M-parameter network sized for a 2-core CPU: `quick` trains on
the synthetic 64 x 64 set in a few minutes (10 DDIM steps each way, fixed-point inversion: 40 NFE
per translated image) but moves the phenotype only a third of the way; `small` trains 5,000 steps
(about 40 minutes) and translates with guidance 1.5 (100 NFE per image), and reaches the
synthetic ground truth's bar (docs/phendiff.md, "What the CPU presets reach").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SAMPLERS = ("ddim", "edict")
MIXED_PRECISION = ("no", "fp16", "bf16")
TRANSLATE_PRECISIONS = ("auto", "fp32", "fp16", "bf16")
# Settings that only change how the model translates, never its training: a resumed fit may change them.
TRANSLATION_SETTINGS = ("inversion_steps", "inference_steps", "inversion_iterations", "guidance_scale", "sampler",
                        "edict_mix", "edict_unstable_class_change", "translate_batch_size", "translate_precision",
                        "channels_last", "compile")
SPACINGS = ("leading", "trailing")
LR_SCALINGS = ("none", "sqrt-processes")



@dataclass(frozen=True)
class PhenDiffConfig:
    """Model, noise schedule, optimiser, EMA, training and sampling settings of PhenDiff."""

    # --- model: a pixel-space class-conditional UNet2DModel ---------------------------------
    block_out_channels: tuple[int, ...] = (128, 256, 512)
    layers_per_block: int = 2
    # Self-attention only at the lowest resolution: the last down block, the mid block, the first up block.
    attention_at_lowest_resolution_only: bool = True
    norm_num_groups: int = 32
    # --- noise schedule (one alpha table, shared by training, inversion and generation) ------
    num_train_timesteps: int = 3000
    beta_schedule: str = "scaled_linear"
    beta_start: float = 1e-4
    beta_end: float = 0.02
    rescale_betas_zero_snr: bool = True
    prediction_type: str = "v_prediction"
    clip_sample: bool = True  # predicted x0 clipped to [-1, 1]
    # The original run's scheduler config (3k_steps_clipping_rescaling.json) has "trailing": the
    # grid then ends at the last training timestep, where alpha = 0 (zero terminal SNR).
    timestep_spacing: str = "trailing"
    # --- optimiser and schedule (lengths in optimizer steps, whatever the number of processes) --
    learning_rate: float = 1e-4
    # "sqrt-processes": the learning rate is multiplied by sqrt(number of processes), as the
    # original train.py does (its effective batch grows with the GPU count). "none": as given.
    learning_rate_scaling: str = "sqrt-processes"
    adam_beta1: float = 0.95
    adam_beta2: float = 0.999
    weight_decay: float = 1e-6
    adam_epsilon: float = 1e-8
    lr_warmup_steps: int = 500
    max_grad_norm: float = 1.0
    # --- EMA (a separate copy, used for evaluation and saving) -------------------------------
    ema_max_decay: float = 0.9999
    ema_inv_gamma: float = 1.0
    ema_power: float = 0.75
    # --- training ----------------------------------------------------------------------------
    steps: int = 30_000  # optimizer steps
    batch_size: int = 96  # images per process per micro-batch
    # Micro-batches whose gradients are summed into one optimizer step: an effective batch of
    # batch_size x gradient_accumulation_steps x processes where memory holds only batch_size.
    gradient_accumulation_steps: int = 1
    unconditional_probability: float = 0.1  # a whole batch trained with the null class
    random_flips: bool = True  # random horizontal and vertical flips
    mixed_precision: str = "no"  # "no" | "fp16" | "bf16" (fp16/bf16 on GPU)
    # --- translation -------------------------------------------------------------------------
    inversion_steps: int = 100
    inference_steps: int = 100
    # Fixed-point iterations per DDIM inversion step (0: plain DDIM inversion, as the research code).
    # Each one costs a network evaluation per step and brings the inversion closer to the exact
    # inverse of generation (sampling.fixed_point_invert). Unused by EDICT, which is exact.
    inversion_iterations: int = 2
    guidance_scale: float = 1.0  # 1.0: no classifier-free guidance (the paper's translation)
    sampler: str = "ddim"  # "ddim" | "edict" (exactly invertible)
    edict_mix: float = 0.93  # EDICT's mixing weight p
    # EDICT with an epsilon (or x0) model is written in the noise estimate, whose own-sample factor
    # reaches 1/sqrt(alpha): a change of condition diverges (docs/phendiff.md). Such translations
    # are refused unless this is set; v-prediction models (the default) translate with EDICT.
    edict_unstable_class_change: bool = False
    translate_batch_size: int = 64  # images per UNet call when translating
    # The UNet's arithmetic when translating: "auto" is the training's mixed precision (bf16/fp16
    # autocast) on a GPU, fp32 elsewhere; "fp32" always fp32; "bf16"/"fp16" autocast where the device has it.
    translate_precision: str = "auto"
    # The UNet's weights and activations in NHWC memory order: 1.3x faster translation on a CPU
    # (docs/benchmarks.md), the order tensor cores want on a GPU.
    channels_last: bool = True
    compile: bool = False  # torch.compile the UNet for translation (first batch pays the compile)

    def __post_init__(self) -> None:
        checks = [
            (self.sampler in SAMPLERS, f"sampler must be one of {SAMPLERS}, got {self.sampler!r}"),
            (self.mixed_precision in MIXED_PRECISION,
             f"mixed_precision must be one of {MIXED_PRECISION}, got {self.mixed_precision!r}"),
            (self.timestep_spacing in SPACINGS, f"timestep_spacing must be one of {SPACINGS}"),
            (self.learning_rate_scaling in LR_SCALINGS,
             f"learning_rate_scaling must be one of {LR_SCALINGS}, got {self.learning_rate_scaling!r}"),
            (self.steps >= 0 and self.batch_size >= 1, "steps must be >= 0 and batch_size >= 1"),
            (self.gradient_accumulation_steps >= 1, "gradient_accumulation_steps must be >= 1"),
            (self.translate_precision in TRANSLATE_PRECISIONS,
             f"translate_precision must be one of {TRANSLATE_PRECISIONS}, got {self.translate_precision!r}"),
            (self.inversion_steps >= 1 and self.inference_steps >= 1,
             "inversion_steps and inference_steps must be >= 1"),
            (0 <= self.inversion_iterations <= 50, "inversion_iterations must be in 0..50"),
            (0.0 <= self.unconditional_probability <= 1.0, "unconditional_probability must be in [0, 1]"),
            (0.0 < self.edict_mix < 1.0, "edict_mix must be in (0, 1)"),
            (len(self.block_out_channels) >= 1, "block_out_channels needs at least one level"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        if self.inversion_steps != self.inference_steps:
            raise ValueError(
                f"inversion_steps ({self.inversion_steps}) must equal inference_steps ({self.inference_steps}): "
                "inversion and generation walk one timestep grid, so the noise level the inversion ends at is "
                "the one generation starts from"
            )
        for steps in (self.inversion_steps, self.inference_steps):
            if self.num_train_timesteps % steps:
                raise ValueError(
                    f"{steps} sampling steps do not divide num_train_timesteps={self.num_train_timesteps}: "
                    "choose a divisor so inversion and generation share one uniform timestep grid"
                )


PRESETS: dict[str, dict[str, Any]] = {
    # The original run: its scheduler config, 30k steps x 96 images per GPU, the learning rate
    # scaled by sqrt(GPUs), and plain DDIM inversion (docs/phendiff.md lists every difference).
    "paper": {"inversion_iterations": 0},
    "small": {
        # The CPU preset that learns the synthetic world's phenotypes: the quick network trained
        # about 8 times longer, and classifier-free guidance 1.5 at translation (inverted with the
        # same guided network, three fixed-point iterations: two leave guided reconstructions
        # at 34 dB on one seed of three); under 45 minutes on a 2-core CPU (docs/benchmarks.md).
        "block_out_channels": (16, 32, 64),
        "layers_per_block": 1,
        "norm_num_groups": 8,
        "learning_rate": 1e-3,
        "lr_warmup_steps": 100,
        "steps": 5000,
        "batch_size": 16,
        "inversion_steps": 10,
        "inference_steps": 10,
        "translate_batch_size": 8,  # one CPU thread: 1.06x faster than 16, itself 1.3x faster than 64
        "guidance_scale": 1.5,
        "inversion_iterations": 3,
    },
    "quick": {
        # Sized for a 2-core CPU: the 64 x 64 synthetic set in a few minutes of training, and its
        # test split (9 conditions x 16 images, each to 8 targets) translated in a couple more.
        "block_out_channels": (16, 32, 64),
        "layers_per_block": 1,
        "norm_num_groups": 8,
        "learning_rate": 1e-3,
        "lr_warmup_steps": 30,
        "steps": 600,
        "batch_size": 16,
        "inversion_steps": 10,
        "inference_steps": 10,
        "translate_batch_size": 8,  # one CPU thread: 1.06x faster than 16, itself 1.3x faster than 64
    },
}
