"""The two Phenexplain translators, `phenex-w` and `phenex-wplus`: one model, two projection spaces.

Translation of a real image: project it (starting from its condition's centre in W), add
(centre of target - centre of source) to the projected latent, and synthesise with the projected
noise. The two translators differ only in the space of the projection. Only the EMA generator and
the centres are kept, saved and loaded: inference needs neither the discriminator nor the raw
generator (the training checkpoint holds those, for resuming).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import torch

from phenbench.core.accelerator import make_accelerator
from phenbench.core.dataset import PreparedDataset
from phenbench.core.errors import DataError, PhenbenchError
from phenbench.core.safe_checkpoint import load_checkpoint_state
from phenbench.core.translator import (
    ConditionArg,
    FitOptions,
    FitReport,
    InversionResult,
    TranslationResult,
    Translator,
)
from phenbench.translators.phenexplain.config import PRESETS, PhenexplainConfig, resolve
from phenbench.translators.phenexplain.latent_ops import condition_centres
from phenbench.translators.phenexplain.perceptual import LPIPSDistance, find_vgg16_weights
from phenbench.translators.phenexplain.projection import Projection, concatenate, image_seed, project
from phenbench.translators.phenexplain.training import NOT_TRAINING_FIELDS, Trainer, build_discriminator, build_generator

WEIGHTS_FILE = "phenexplain.pt"
PROJECTION_CACHE_IMAGES = 1024  # bounded: the noise maps of one 128 px image take 170 kB


class PhenexplainTranslator(Translator):
    """Conditional StyleGAN2; real images enter its latent space by projection (`space`: "w" or "w+")."""

    config_class = PhenexplainConfig
    translation_settings = frozenset(NOT_TRAINING_FIELDS - {"steps"})  # projection: how a real image enters W
    presets = PRESETS
    has_latent_space = True
    space: ClassVar[str] = "w"
    # Training does not depend on the projection space: one fit serves both translators.
    loads_models_of = ("phenex-w", "phenex-wplus")

    def __init__(self, config: PhenexplainConfig, spec):
        super().__init__(config, spec)
        self.hp = resolve(config, spec.image_size)
        with torch.random.fork_rng(devices=[]):  # weights are trained or loaded: leave the global RNG alone
            self.G_ema = build_generator(config, self.hp, spec).eval().requires_grad_(False)
        self.centres: torch.Tensor | None = None  # K x w_dim, mean of mapping(z, c) per condition
        self.spreads: torch.Tensor | None = None  # K, RMS distance of W samples from their centre
        self.last_projection: Projection | None = None
        self._perceptual: LPIPSDistance | None = None
        self._projections: OrderedDict[str, Projection] = OrderedDict()  # recent images, see `project`

    # --- fit ---------------------------------------------------------------------------------------

    def fit(self, dataset: PreparedDataset, options: FitOptions = FitOptions()) -> FitReport:
        self._check_dataset(dataset)
        if self.config.perceptual_weight > 0:
            find_vgg16_weights(self.config.vgg16_weights)  # fail now, not after hours of training
        # accelerate runs the fit on one process or, under a launcher, data parallel on several.
        accelerator = make_accelerator("no", options.device)
        processes, device = accelerator.num_processes, accelerator.device
        # StyleGAN2-ADA's auto config depends on the GPU count (reference_gpus, else this run's processes).
        self.hp = resolve(self.config, self.spec.image_size, processes)
        # Network initialisation draws from the global RNG: fork it so fits are seeded and side-effect free.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(options.seed)
            generator = build_generator(self.config, self.hp, self.spec)
            discriminator = build_discriminator(self.config, self.hp, self.spec)
        trainer = Trainer(self.config, self.hp, generator, discriminator, device)
        trainer.distribute(accelerator)
        # Each process draws its own rows, z and noise, from (seed, step, rank).
        state = trainer.train(dataset, options)
        accelerator.wait_for_everyone()
        self.G_ema = trainer.G_ema
        self._projections.clear()
        self.device = device
        began = time.perf_counter()
        self.centres, self.spreads = condition_centres(self.G_ema, self.config.centre_samples, self.config.projection_seed)
        centre_seconds = time.perf_counter() - began
        return FitReport(
            steps=state.step,
            seconds=state.seconds + centre_seconds,
            images_per_second=state.step * self.hp.batch_size / state.seconds if state.seconds > 0 else None,
            losses=list(state.losses),
            extra={
                "g_losses": list(state.g_losses),
                "d_losses": list(state.d_losses),
                "ada_p": state.ada_p[-1] if state.ada_p else 0.0,
                "batch_size": self.hp.batch_size,
                "r1_gamma": self.hp.r1_gamma,
                "learning_rate": self.hp.learning_rate,
                "ema_kimg": self.hp.ema_kimg,
                "num_ws": self.G_ema.num_ws,
                "reference_gpus": self.hp.reference_gpus,
                "processes": processes,
                "loader_workers": trainer.loader_workers,
                "batch_per_process": self.hp.batch_per_process,
                "G_parameters": sum(p.numel() for p in generator.parameters()),
                "D_parameters": sum(p.numel() for p in discriminator.parameters()),
                "centre_seconds": centre_seconds,
                "resumed_from_step": trainer.resumed_from_step,
            },
        )

    def _check_dataset(self, dataset: PreparedDataset) -> None:
        """The whole data spec must match: reordered or renamed conditions would mislabel the centres."""
        spec = dataset.spec
        if spec == self.spec:
            return
        if spec.num_channels != self.spec.num_channels or spec.image_size != self.spec.image_size:
            found = (f"was built for {self.spec.num_channels} channel(s) at {self.spec.image_size} px but the "
                     f"dataset '{dataset.name}' has {spec.num_channels} at {spec.image_size} px")
        elif spec.conditions != self.spec.conditions:
            found = (f"was built for the conditions {', '.join(self.spec.conditions.names)} but the dataset "
                     f"'{dataset.name}' has {', '.join(spec.conditions.names)} (names or order differ)")
        else:
            found = f"does not match the dataset '{dataset.name}' (its channel names or held-out conditions differ)"
        raise DataError(f"{self.name} {found}; build the translator from dataset.spec.")

    # --- projection, inversion, translation ----------------------------------------------------------

    def _require_fitted(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.centres is None or self.spreads is None:
            raise PhenbenchError(f"{self.name} is not trained: call fit, or load a saved model with --checkpoint.")
        return self.centres.to(self.device), self.spreads.to(self.device)

    def _perceptual_distance(self) -> LPIPSDistance | None:
        if self.config.perceptual_weight <= 0:
            return None
        if self._perceptual is None:
            self._perceptual = LPIPSDistance(self.config.vgg16_weights)
        return self._perceptual.to(self.device)

    def project(self, images: torch.Tensor, source: ConditionArg) -> Projection:
        """Project real images of `source` into this translator's space, `projection_batch_size` at a time.

        Each image's result depends only on the image, its condition and `projection_seed` (see
        projection.py), so results are remembered per image: the runner's reconstruction of real
        images already projected as sources reuses them instead of repeating the optimisation.
        """
        images = self.check_images(images)
        sources = self.condition_indices(source, len(images))
        centres, spreads = self._require_fitted()
        seeds = [image_seed(image, int(c), self.config.projection_seed) for image, c in zip(images, sources)]
        keys = [f"{seed:x}" for seed in seeds]
        todo = [i for i, key in enumerate(keys) if key not in self._projections]
        size = self.config.projection_batch_size
        if todo:
            perceptual = self._perceptual_distance()
            # Projection optimises by gradient descent, also when called under torch.inference_mode()
            # (as the runner does); clone() turns inference tensors into ordinary ones autograd accepts.
            with torch.inference_mode(False), torch.enable_grad():
                pending = images[todo].clone().float().to(self.device)
                pending_sources = sources[todo].clone().to(self.device)
                generator = self.G_ema.to(self.device)
                for first in range(0, len(todo), size):
                    part = slice(first, first + size)
                    batch_sources = pending_sources[part]
                    result = project(generator, pending[part], centres[batch_sources].clone(),
                                     spreads[batch_sources].clone(), self.space, self.config, perceptual,
                                     [seeds[i] for i in todo[part]])
                    for offset, i in enumerate(todo[part]):
                        self._projections[keys[i]] = result.image(offset)
        for key in keys:
            self._projections.move_to_end(key)
        self.last_projection = concatenate([self._projections[key] for key in keys])
        while len(self._projections) > max(PROJECTION_CACHE_IMAGES, len(keys)):
            self._projections.popitem(last=False)
        return self.last_projection

    def invert(self, images: torch.Tensor, source: ConditionArg) -> InversionResult:
        projection = self.project(images, source)
        return InversionResult(
            latents=projection.latents, kind=self.space, nfe=projection.steps + 1, seconds=projection.seconds
        )

    @torch.no_grad()
    def _synthesise(self, projection: Projection, shift: torch.Tensor) -> torch.Tensor:
        """Images from projected latents moved by `shift` (N x w_dim), with the projected noise."""
        ws = projection.ws(self.G_ema.num_ws) + shift.unsqueeze(1)
        return self.G_ema.synthesis(ws, noise=projection.noise).clamp(-1, 1).float()

    def _translate_projected(
        self, projection: Projection, sources: torch.Tensor, target: ConditionArg, share_of_projection: float
    ) -> TranslationResult:
        began = time.perf_counter()
        centres, _ = self._require_fitted()
        targets = self.condition_indices(target, len(sources)).to(self.device)
        images = self._synthesise(projection, centres[targets] - centres[sources])
        return TranslationResult(
            images=images.cpu(),
            nfe=projection.steps + 2,  # projection steps, its final render, and the translated render
            seconds=share_of_projection + time.perf_counter() - began,
            latents=InversionResult(projection.latents, self.space, projection.steps + 1, projection.seconds),
        )

    def translate(self, images: torch.Tensor, source: ConditionArg, target: ConditionArg) -> TranslationResult:
        self.condition_indices(target, len(images))  # a bad target fails before the costly projection
        projection = self.project(images, source)
        sources = self.condition_indices(source, len(images)).to(self.device)
        return self._translate_projected(projection, sources, target, projection.seconds)

    def translate_to_each(
        self, images: torch.Tensor, source: ConditionArg, targets: Sequence[int | str]
    ) -> dict[int, TranslationResult]:
        """Project once and move the latent to every target; each result carries a share of the projection time."""
        indices = [int(self.condition_indices(t, 1).item()) for t in targets]
        projection = self.project(images, source)
        sources = self.condition_indices(source, len(images)).to(self.device)
        share = projection.seconds / max(1, len(indices))
        return {index: self._translate_projected(projection, sources, index, share) for index in indices}

    def to(self, device: str | torch.device) -> "PhenexplainTranslator":
        super().to(device)
        self.G_ema.to(self.device)
        return self

    # --- persistence ---------------------------------------------------------------------------------

    def _save_weights(self, directory: Path) -> None:
        self._require_fitted()
        payload = {"G_ema": self.G_ema.state_dict(), "centres": self.centres.cpu(), "spreads": self.spreads.cpu()}
        tmp = directory / (WEIGHTS_FILE + ".tmp")
        torch.save(payload, tmp)
        tmp.replace(directory / WEIGHTS_FILE)

    def _load_weights(self, directory: Path) -> None:
        path = directory / WEIGHTS_FILE
        if not path.exists():
            raise PhenbenchError(f"{path} is missing: the Phenexplain save in {directory} is incomplete; re-run fit.")
        payload = load_checkpoint_state(path, fix="train the model again, or restore its folder")
        # Saves of earlier versions also hold G and D: only the EMA generator is read.
        if not isinstance(payload, dict) or not {"G_ema", "centres", "spreads"} <= set(payload):
            raise PhenbenchError(f"{path} is not a Phenexplain save (no G_ema weights and centres); train the model again.")
        self.G_ema.load_state_dict(payload["G_ema"])
        self.centres, self.spreads = payload["centres"], payload["spreads"]
        self._projections.clear()


class PhenexWTranslator(PhenexplainTranslator):
    name = "phenex-w"
    space = "w"


class PhenexWPlusTranslator(PhenexplainTranslator):
    name = "phenex-wplus"
    space = "w+"
