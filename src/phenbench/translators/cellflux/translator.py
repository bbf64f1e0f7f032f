"""The CellFlux translator: integrate a learned flow from a control cell to a treated one.

What the three verbs mean for a flow trained control -> treated:

- `invert` returns the image itself (kind "image", 0 NFE). The flow's real starting point, its
  "latent", is the noised source: the image plus Gaussian noise of std `noise_level`, drawn from a
  seed made of `sampling_seed` and the image's own bytes, so a cell translates the same whatever
  batch it is in and whenever it is asked again.
- `translate` from the control: the ODE dx/dt = v(x, t, target) from the noised cell to t = 1
  (flow_matching's ODESolver). From any other condition s: the flow under s is integrated
  backwards from the cell to the grid's first time, the control-side point it would have come
  from, and the flow under the target runs forward from there (twice the NFE). A dataset without a
  control condition cannot be translated, and is refused at `fit`.
- `reconstruct` is translate to the source condition. For a control cell that is a fresh
  control-like cell grown from the noised source (the noise, std 1 by default, is not undone: the
  score measures how much of the cell survives it); for a treated cell it is the backward then
  forward pass under its own condition, which returns the cell up to the solver's error.

Every result records its NFE: network passes per image (guidance makes two per velocity).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from phenbench.core.dataset import DataSpec, PreparedDataset
from phenbench.core.errors import ConfigError, MissingWeightsError
from phenbench.core.fast_inference import FastForward, FastNetwork, autocast_dtype
from phenbench.core.translator import ConditionArg, FitOptions, FitReport, TranslationResult, Translator
from phenbench.translators.cellflux.config import ODE_METHODS, PRESETS, TRANSLATION_SETTINGS, CellFluxConfig
from phenbench.translators.cellflux.model import GuidedVelocity, UNet2DModel, VelocityNetwork, null_condition
from phenbench.translators.cellflux.sampling import integrate, start_noise, time_grid

UNET_FOLDER = "unet"
ENCODER_FILE = "condition_encoder.safetensors"


class CellFluxTranslator(Translator):
    """Conditional flow matching from control to treated cells (CellFlux), any source to any target."""

    name = "cellflux"
    config_class = CellFluxConfig
    translation_settings = TRANSLATION_SETTINGS
    presets = PRESETS
    has_latent_space = False

    def __init__(self, config: CellFluxConfig, spec: DataSpec):
        super().__init__(config, spec)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)  # a fixed initialisation until `fit` draws one from its seed
            self.network = VelocityNetwork(config, spec)  # the live (training) weights
        self.ema_network = copy.deepcopy(self.network).eval().requires_grad_(False)  # translates, is saved
        self._fast = FastNetwork(config.channels_last, config.compile)

    # --- fit ---------------------------------------------------------------------------------

    def fit(self, dataset: PreparedDataset, options: FitOptions = FitOptions()) -> FitReport:
        from phenbench.translators.cellflux.training import train

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(options.seed)
            self.network = VelocityNetwork(self.config, self.spec)
        self.ema_network = copy.deepcopy(self.network).eval().requires_grad_(False)
        report = train(self.config, self.spec, dataset, options, self.network, self.ema_network)
        self.to(options.device)
        return report

    def to(self, device: str | torch.device) -> "CellFluxTranslator":
        super().to(device)
        self.network.to(self.device)
        self.ema_network.to(self.device)
        return self

    # --- costs ---------------------------------------------------------------------------------

    def flow_nfe(self) -> int:
        """Network passes per image for one integration of the flow over the time grid."""
        config = self.config
        return config.sampling_steps * ODE_METHODS[config.ode_method] * (1 if config.guidance_scale == 1.0 else 2)

    def _nfe(self, sources: torch.Tensor) -> int:
        # A batch with any non-control source pays the backward pass too (reported as the dearest image's).
        return self.flow_nfe() * (2 if bool((sources != self._control()).any()) else 1)

    # --- the flow ------------------------------------------------------------------------------

    def _control(self) -> int:
        control = self.spec.conditions.control
        if control is None:
            raise ConfigError(
                "cellflux translates along flows from the control condition, and this model's data names none; "
                "train it on a dataset with a control (control: DMSO in its config)."
            )
        return self.spec.conditions.index(control)

    def _velocity(self) -> GuidedVelocity:
        """The EMA network as the solver integrates it, in the config's translation precision, memory
        order and compilation (the solver's steps stay fp32)."""
        dtype = autocast_dtype(self.config.translate_precision, self.config.mixed_precision, self.device)
        network = FastForward(self._fast, self.ema_network, dtype, self.device)
        return GuidedVelocity(network, null_condition(self.spec), self.config.guidance_scale)

    def _chunks(self, n: int) -> list[slice]:
        size = self.config.translate_batch_size
        return [slice(i, min(i + size, n)) for i in range(0, n, size)]

    def _starts(self, images: torch.Tensor, sources: torch.Tensor) -> torch.Tensor:
        """Where each image's forward flow starts: the noised control cell, or, for a cell of
        another condition, the point its own condition's flow carries back to."""
        config = self.config
        starts = images.clone()
        controls = sources == self._control()
        if controls.any():  # noise only where it is used (it is seeded per image: a subset draws the same)
            starts[controls] = images[controls] + config.noise_level * start_noise(images[controls], config.sampling_seed)
        if not controls.all():
            velocity, back = self._velocity(), time_grid(config).flip(0)
            rows = (~controls).nonzero().flatten()
            for part in self._chunks(len(rows)):
                chosen = rows[part]
                starts[chosen] = integrate(velocity, images[chosen], sources[chosen], back, config.ode_method)
        return starts

    def _flow(self, starts: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        velocity, grid, method = self._velocity(), time_grid(self.config), self.config.ode_method
        parts = [integrate(velocity, starts[part], targets[part], grid, method) for part in self._chunks(len(starts))]
        return torch.cat(parts).clamp(-1, 1).float()

    def _check_targets(self, targets: torch.Tensor) -> None:
        if not self.config.learn_control_target and bool((targets == self._control()).any()):
            raise ConfigError(
                f"This cellflux model was trained without control targets (learn_control_target: false), as CellFlux "
                f"is, so it cannot translate to {self.spec.conditions.control}; choose a treated target, or train "
                "with learn_control_target: true."
            )

    # --- the verbs ---------------------------------------------------------------------------

    def translate(self, images: torch.Tensor, source: ConditionArg, target: ConditionArg) -> TranslationResult:
        """The flow under `target` from each noised control cell (other sources: see the module)."""
        start = time.perf_counter()
        images = self.check_images(images).float()
        sources = self.condition_indices(source, len(images))
        targets = self.condition_indices(target, len(images))
        self._check_targets(targets)
        with torch.inference_mode():
            starts = self._starts(images.to(self.device), sources.to(self.device))
            translated = self._flow(starts, targets.to(self.device)).cpu()
        return TranslationResult(images=translated, nfe=self._nfe(sources), seconds=time.perf_counter() - start)

    def translate_to_each(
        self, images: torch.Tensor, source: ConditionArg, targets: Sequence[int | str]
    ) -> dict[int, TranslationResult]:
        """One start per image (its noise, or its backward pass), flowed to every target in one batched walk."""
        began = time.perf_counter()
        images = self.check_images(images).float()
        indices = [int(self.condition_indices(t, 1).item()) for t in targets]
        sources = self.condition_indices(source, len(images))
        self._check_targets(torch.tensor(indices))
        n = len(images)
        with torch.inference_mode():
            starts = self._starts(images.to(self.device), sources.to(self.device))
            stacked = starts.repeat(len(indices), 1, 1, 1)
            classes = torch.tensor(indices, device=self.device).repeat_interleave(n)
            translated = self._flow(stacked, classes).cpu()
        seconds = (time.perf_counter() - began) / max(len(indices), 1)
        return {
            index: TranslationResult(images=translated[k * n:(k + 1) * n], nfe=self._nfe(sources), seconds=seconds)
            for k, index in enumerate(indices)
        }

    # --- persistence -------------------------------------------------------------------------

    def _save_weights(self, directory: Path) -> None:
        # The EMA copy is the model: it is what translates, so it is what is saved.
        self.ema_network.unet.save_pretrained(directory / UNET_FOLDER, safe_serialization=True)
        save_file(self.ema_network.encoder.state_dict(), str(directory / ENCODER_FILE))

    def _load_weights(self, directory: Path) -> None:
        folder = directory / UNET_FOLDER
        if not (folder / "config.json").exists() or not (directory / ENCODER_FILE).exists():
            raise MissingWeightsError(
                f"No CellFlux weights in {directory} ({UNET_FOLDER}/ or {ENCODER_FILE} missing); point at a directory "
                "written by CellFluxTranslator.save."
            )
        unet = UNet2DModel.from_pretrained(folder).state_dict()
        encoder = load_file(str(directory / ENCODER_FILE))
        for network in (self.ema_network, self.network):
            network.unet.load_state_dict(unet)
            network.encoder.load_state_dict(encoder)
