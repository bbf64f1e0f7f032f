"""The PhenDiff translator: invert under the source condition, regenerate under the target.

`translate` is any source to any target (one per image or one for all), batched. `reconstruct` is
`translate` with target = source. `translate_to_each` inverts once and regenerates the shared latent
under every target in one batched walk. With `sampler="edict"` inversion is exact: reconstruction
returns the input to float precision. Every result records its NFE (network evaluations per image).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from phenbench.core.dataset import DataSpec, PreparedDataset
from phenbench.core.errors import ConfigError, MissingWeightsError
from phenbench.core.fast_inference import FastNetwork, autocast, autocast_dtype
from phenbench.core.translator import (
    ConditionArg,
    FitOptions,
    FitReport,
    InversionResult,
    TranslationResult,
    Translator,
)
from phenbench.translators.phendiff.config import PRESETS, TRANSLATION_SETTINGS, PhenDiffConfig
from phenbench.translators.phendiff.edict import edict_generate, edict_invert
from phenbench.translators.phendiff.model import UNet2DModel, build_scheduler, build_unet, null_class
from phenbench.translators.phendiff.sampling import (
    Denoiser,
    Grid,
    ddim_generate,
    fixed_point_invert,
    guided,
    make_grid,
)

WEIGHTS_FOLDER = "unet"


class PhenDiffTranslator(Translator):
    """Class-conditional DDIM translation (PhenDiff), with an optional exactly invertible sampler."""

    name = "phendiff"
    config_class = PhenDiffConfig
    translation_settings = frozenset(TRANSLATION_SETTINGS)
    presets = PRESETS
    has_latent_space = True

    def __init__(self, config: PhenDiffConfig, spec: DataSpec):
        super().__init__(config, spec)
        with torch.random.fork_rng():
            torch.manual_seed(0)  # a fixed initialisation until `fit` draws one from its seed
            self.unet = build_unet(config, spec)  # the live (training) weights
        self.ema_unet = copy.deepcopy(self.unet)  # the EMA weights: used to translate, and saved
        self.ema_unet.eval().requires_grad_(False)
        self.scheduler = build_scheduler(config)
        self._grid: Grid | None = None
        self._fast = FastNetwork(config.channels_last, config.compile)

    # --- fit ---------------------------------------------------------------------------------

    def fit(self, dataset: PreparedDataset, options: FitOptions = FitOptions()) -> FitReport:
        from phenbench.translators.phendiff.training import train

        with torch.random.fork_rng():
            torch.manual_seed(options.seed)
            self.unet = build_unet(self.config, self.spec)
        self.ema_unet = copy.deepcopy(self.unet).eval().requires_grad_(False)
        report = train(self.config, self.spec, dataset, options, self.unet, self.ema_unet)
        self.to(options.device)
        return report

    def to(self, device: str | torch.device) -> "PhenDiffTranslator":
        super().to(device)
        self.unet.to(self.device)
        self.ema_unet.to(self.device)
        return self

    # --- sampling helpers --------------------------------------------------------------------

    @property
    def grid(self) -> Grid:
        if self._grid is None:
            self._grid = make_grid(self.scheduler, self.config.inference_steps)
        return self._grid

    def _denoiser(self) -> Denoiser:
        """The EMA UNet as the samplers call it: in the config's translation precision (bf16/fp16
        autocast, its output back in fp32 for the sampler's steps), memory order and compilation."""
        device, fast = self.device, self._fast
        unet = fast(self.ema_unet)
        dtype = autocast_dtype(self.config.translate_precision, self.config.mixed_precision, device)

        def denoise(samples: torch.Tensor, timestep: int, classes: torch.Tensor) -> torch.Tensor:
            t = torch.full((len(samples),), timestep, dtype=torch.long, device=device)
            with autocast(dtype, device):
                output = unet(fast.input(samples), t, class_labels=classes).sample
            return output.float()

        return denoise

    def _chunks(self, n: int) -> list[slice]:
        size = self.config.translate_batch_size
        return [slice(i, min(i + size, n)) for i in range(0, n, size)]

    def _guided_denoiser(self) -> Denoiser:
        """The network as generation uses it: with classifier-free guidance when the config asks.
        Inversion uses it too, so that it inverts the very step generation takes (with plain
        inversion under guidance, even a reconstruction would not return the image)."""
        return guided(self._denoiser(), null_class(self.spec), self.config.guidance_scale)

    def _invert(self, images: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        denoise, grid, config = self._guided_denoiser(), self.grid, self.config
        parts = []
        for part in self._chunks(len(images)):
            if config.sampler == "edict":
                parts.append(edict_invert(denoise, images[part], classes[part], grid, config.edict_mix,
                                          config.prediction_type))
            else:
                parts.append(fixed_point_invert(denoise, images[part], classes[part], grid,
                                                config.inversion_iterations, config.prediction_type))
        return torch.cat(parts)

    def _generate(self, latents: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        config, grid, denoise = self.config, self.grid, self._guided_denoiser()
        parts = []
        for part in self._chunks(len(latents)):
            if config.sampler == "edict":
                parts.append(edict_generate(denoise, latents[part], classes[part], grid, config.edict_mix,
                                            config.prediction_type))
            else:
                parts.append(ddim_generate(denoise, latents[part], classes[part], grid))
        return torch.cat(parts).clamp(-1, 1).float()

    def _nfe_per_step(self) -> int:
        return 2 if self.config.sampler == "edict" else 1

    def _nfe_per_evaluation(self) -> int:
        return 1 if self.config.guidance_scale == 1.0 else 2  # guidance: conditional + null

    def inversion_nfe(self) -> int:
        per_step = 2 if self.config.sampler == "edict" else 1 + self.config.inversion_iterations
        return self.config.inversion_steps * per_step * self._nfe_per_evaluation()

    def generation_nfe(self) -> int:
        return self.config.inference_steps * self._nfe_per_step() * self._nfe_per_evaluation()

    # --- the verbs ---------------------------------------------------------------------------

    def invert(self, images: torch.Tensor, source: ConditionArg) -> InversionResult:
        """Inversion of real images under their source condition: fixed-point DDIM (plain DDIM with
        `inversion_iterations: 0`) or EDICT."""
        start = time.perf_counter()
        images = self.check_images(images).float()
        classes = self.condition_indices(source, len(images)).to(self.device)
        with torch.inference_mode():
            latents = self._invert(images.to(self.device), classes)
        kind = "noise-pair" if self.config.sampler == "edict" else "noise"
        return InversionResult(latents=latents.cpu(), kind=kind, nfe=self.inversion_nfe(),
                               seconds=time.perf_counter() - start)

    def generate(self, latents: InversionResult | torch.Tensor, target: ConditionArg) -> TranslationResult:
        """Regenerate images from inverted latents under `target`."""
        start = time.perf_counter()
        tensor = latents.latents if isinstance(latents, InversionResult) else latents
        classes = self.condition_indices(target, len(tensor)).to(self.device)
        with torch.inference_mode():
            images = self._generate(tensor.to(self.device), classes).cpu()
        return TranslationResult(images=images, nfe=self.generation_nfe(), seconds=time.perf_counter() - start)

    def _check_class_change(self, sources: torch.Tensor, targets: torch.Tensor) -> None:
        config = self.config
        if (config.sampler == "edict" and config.prediction_type != "v_prediction"
                and not config.edict_unstable_class_change and bool((sources != targets).any())):
            raise ConfigError(
                f"EDICT with a {config.prediction_type} model diverges under a change of condition (its coupled "
                "sequences amplify it by up to 1/sqrt(alpha) over the grid); use sampler 'ddim' to translate, "
                "EDICT for reconstructions, or set edict_unstable_class_change: true to try anyway."
            )

    def translate(self, images: torch.Tensor, source: ConditionArg, target: ConditionArg) -> TranslationResult:
        """Invert under `source`, regenerate under `target` (one per image, or one for all)."""
        targets = self.condition_indices(target, len(images))
        self._check_class_change(self.condition_indices(source, len(images)), targets)
        inverted = self.invert(images, source)
        result = self.generate(inverted, targets)
        return TranslationResult(
            images=result.images, nfe=inverted.nfe + result.nfe,
            seconds=inverted.seconds + result.seconds, latents=inverted,
        )

    def translate_to_each(
        self, images: torch.Tensor, source: ConditionArg, targets: Sequence[int | str]
    ) -> dict[int, TranslationResult]:
        """Invert once, then regenerate the latents under every target in one batched walk."""
        indices = [int(self.condition_indices(t, 1).item()) for t in targets]
        sources = self.condition_indices(source, len(images))
        for index in indices:
            self._check_class_change(sources, torch.full_like(sources, index))
        inverted = self.invert(images, source)
        n = len(images)
        stacked = inverted.latents.repeat(len(indices), *([1] * (inverted.latents.ndim - 1)))
        classes = torch.tensor(indices).repeat_interleave(n)
        generated = self.generate(stacked, classes)
        share = generated.seconds / max(len(indices), 1)
        # Each result carries the full per-image cost of producing it (inversion + generation).
        return {
            index: TranslationResult(
                images=generated.images[k * n:(k + 1) * n], nfe=inverted.nfe + generated.nfe,
                seconds=inverted.seconds / len(indices) + share, latents=inverted,
            )
            for k, index in enumerate(indices)
        }

    # --- persistence -------------------------------------------------------------------------

    def _save_weights(self, directory: Path) -> None:
        # The EMA copy is the model: it is what translates, so it is what is saved.
        self.ema_unet.save_pretrained(directory / WEIGHTS_FOLDER, safe_serialization=True)

    def _load_weights(self, directory: Path) -> None:
        folder = directory / WEIGHTS_FOLDER
        if not (folder / "config.json").exists():
            raise MissingWeightsError(
                f"No PhenDiff weights in {folder}; point at a directory written by PhenDiffTranslator.save."
            )
        loaded = UNet2DModel.from_pretrained(folder)
        self.ema_unet.load_state_dict(loaded.state_dict())
        self.unet.load_state_dict(loaded.state_dict())
