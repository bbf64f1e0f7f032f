"""The StarGAN translator: fit on all conditions at once, translate with one generator pass.

StarGAN has no latent space: `invert` returns the images themselves (InversionResult kind
"image", 0 network evaluations), and reconstruction is translation to the source condition,
G(x, c_source), one generator pass.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from phenbench.core.accelerator import make_accelerator
from phenbench.core.config import config_to_dict
from phenbench.core.dataset import PreparedDataset
from phenbench.core.errors import DataError, PhenbenchError
from phenbench.core.loss_window import LossWindow
from phenbench.core.resume_guard import check_same_draws, check_same_processes
from phenbench.core.step_loader import loader_workers, step_batches
from phenbench.core.translator import (
    ConditionArg,
    FitOptions,
    FitReport,
    TranslationResult,
    Translator,
)
from phenbench.translators.stargan.batches import DRAWS, draw_targets_and_mix, training_batches
from phenbench.translators.stargan.checkpoint import load_checkpoint, save_checkpoint
from phenbench.translators.stargan.config import PRESETS, TRANSLATION_SETTINGS, StarGANConfig
from phenbench.translators.stargan.networks import (
    Discriminator,
    Generator,
    check_image_size,
    discriminator_depth,
)
from phenbench.translators.stargan.training import critic_step, generator_step, set_learning_rate

WEIGHTS_FILE = "stargan-generator.safetensors"


class StarGANTranslator(Translator):
    """StarGAN (Choi et al., 2018) adapted to any channel count and image size."""

    name = "stargan"
    config_class = StarGANConfig
    translation_settings = TRANSLATION_SETTINGS
    presets = PRESETS
    has_latent_space = False

    def __init__(self, config: StarGANConfig, spec) -> None:
        super().__init__(config, spec)
        check_image_size(spec.image_size)
        self.generator = self._new_generator()
        self._trained = False

    def _new_generator(self) -> Generator:
        c = self.config
        return Generator(self.spec.num_channels, len(self.spec.conditions), c.generator_filters, c.residual_blocks)

    def _new_discriminator(self) -> Discriminator:
        c = self.config
        depth = discriminator_depth(self.spec.image_size, c.discriminator_layers)
        return Discriminator(
            self.spec.num_channels, len(self.spec.conditions), self.spec.image_size, c.discriminator_filters, depth
        )

    # --- fit ---------------------------------------------------------------------------------

    def fit(self, dataset: PreparedDataset, options: FitOptions = FitOptions()) -> FitReport:
        """Train G and D with accelerate: distributed data parallel under `accelerate launch` / torchrun,
        each process drawing `batch_size` images per iteration (the reference's per-GPU batch).

        Batches are read ahead (`FitOptions.loader_workers`), the targets and interpolation weights
        drawn on the device, and the losses read back once every `FitOptions.log_every` iterations.
        Every draw is a function of (seed, iteration, rank), so a resumed fit draws what an
        uninterrupted one would have."""
        labels = self._training_labels(dataset)
        config = self.config
        accelerator = make_accelerator("no", options.device)
        rank, processes = accelerator.process_index, accelerator.num_processes
        # Weights are initialised from the seed without disturbing the caller's global RNG.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(options.seed)
            generator, discriminator = self._new_generator(), self._new_discriminator()
        betas = (config.beta1, config.beta2)
        g_optimizer = torch.optim.Adam(generator.parameters(), config.generator_lr, betas=betas)
        d_optimizer = torch.optim.Adam(discriminator.parameters(), config.discriminator_lr, betas=betas)

        config_dict, spec_dict = config_to_dict(config), self.spec.to_dict()
        state = load_checkpoint(options.checkpoint_dir, config_dict, spec_dict)
        start, d_losses, g_losses, seconds_before = 0, [], [], 0.0
        if state is not None:
            check_same_draws(state.get("draws"), DRAWS, "StarGAN", options.checkpoint_dir)
            check_same_processes(state.get("processes"), processes, options.checkpoint_dir)
            generator.load_state_dict(state["generator"])
            discriminator.load_state_dict(state["discriminator"])
            g_optimizer.load_state_dict(state["generator_optimizer"])
            d_optimizer.load_state_dict(state["discriminator_optimizer"])
            start, d_losses, g_losses = state["step"], list(state["d_losses"]), list(state["g_losses"])
            seconds_before = state["seconds"]
        # One process: the modules themselves; several: each wrapped in DistributedDataParallel.
        generator, discriminator, g_optimizer, d_optimizer = accelerator.prepare(
            generator, discriminator, g_optimizer, d_optimizer)
        device = accelerator.device
        workers = loader_workers(options.loader_workers, str(device))
        batches = step_batches(training_batches(dataset, labels, config, options.seed, rank, processes),
                               start, config.steps, workers, str(device))
        d_window, g_window = LossWindow(accelerator, d_losses), LossWindow(accelerator, g_losses)

        def checkpoint(step: int, seconds: float) -> None:
            d_window.flush(), g_window.flush()
            if accelerator.is_main_process:
                save_checkpoint(options.checkpoint_dir, {
                    "generator": accelerator.unwrap_model(generator).state_dict(),
                    "discriminator": accelerator.unwrap_model(discriminator).state_dict(),
                    "generator_optimizer": g_optimizer.state_dict(),
                    "discriminator_optimizer": d_optimizer.state_dict(),
                    "draws": DRAWS,
                    "processes": processes,
                    "step": step,
                    "d_losses": d_losses,
                    "g_losses": g_losses,
                    "seconds": seconds,
                    "config": config_dict,
                    "spec": spec_dict,
                })
            accelerator.wait_for_everyone()

        began = time.perf_counter()
        shown = options.progress and accelerator.is_main_process
        bar = tqdm(total=config.steps, initial=min(start, config.steps), desc="stargan", disable=not shown)
        for step in range(start, config.steps):
            set_learning_rate(g_optimizer, config.learning_rate(config.generator_lr, step))
            set_learning_rate(d_optimizer, config.learning_rate(config.discriminator_lr, step))
            real, source = (tensor.to(device, non_blocking=True) for tensor in next(batches))
            batch = draw_targets_and_mix(real, source, options.seed, step, rank)
            done = step + 1
            d_loss = critic_step(generator, discriminator, d_optimizer, batch, config)
            if done % config.critic_steps == 0:
                # The critic's gradients from the generator step are never used (the critic step
                # zeroes them first): they are not averaged over the processes either.
                with accelerator.no_sync(discriminator):
                    g_window.keep(generator_step(generator, discriminator, g_optimizer, batch, config))
            bar.update(1)
            if d_window.add(d_loss, done, options.log_every, config.steps):
                g_window.flush()  # both curves are read at the same steps on every process
                if shown:
                    bar.set_postfix(d_loss=f"{d_losses[-1]:.3f}", g_loss=f"{g_losses[-1]:.3f}" if g_losses else "-")
            if options.checkpoint_dir is not None and (
                done == config.steps or (options.checkpoint_every and done % options.checkpoint_every == 0)
            ):
                checkpoint(done, seconds_before + time.perf_counter() - began)
        bar.close()
        d_window.flush(), g_window.flush()
        seconds_now = time.perf_counter() - began
        steps_now = max(0, config.steps - start)
        images_now = steps_now * config.batch_size * processes

        self.generator = accelerator.unwrap_model(generator).eval()
        self._trained = True
        return FitReport(
            steps=config.steps,
            seconds=seconds_before + seconds_now,
            images_per_second=images_now / seconds_now if steps_now and seconds_now > 0 else None,
            losses=d_losses[: config.steps],
            extra={
                "loss": "discriminator (WGAN-GP critic) loss per iteration, mean over the processes",
                "generator_losses": g_losses,
                "resumed_from_step": start,
                "processes": processes,
                "loader_workers": workers,
                "discriminator_layers": discriminator_depth(self.spec.image_size, config.discriminator_layers),
            },
        )

    def _training_labels(self, dataset: PreparedDataset) -> np.ndarray:
        if dataset.spec != self.spec:
            raise DataError(
                f"The dataset '{dataset.name}' does not match this StarGAN's data (channels, size or conditions); "
                "build the translator from dataset.spec."
            )
        if "train" not in dataset.splits():
            raise DataError(f"StarGAN trains on a 'train' split; the dataset '{dataset.name}' has {dataset.splits()}.")
        labels = dataset.labels("train")
        if len(labels) == 0:
            raise DataError(f"The 'train' split of '{dataset.name}' is empty: StarGAN has nothing to learn from.")
        return labels

    # --- invert, translate -------------------------------------------------------------------


    def translate(self, images: torch.Tensor, source: ConditionArg, target: ConditionArg) -> TranslationResult:
        """G(x, c_target): one generator pass; the source condition is not an input of StarGAN's G."""
        began = time.perf_counter()
        self._require_trained()
        self.check_images(images)
        self.condition_indices(source, len(images))
        targets = self.condition_indices(target, len(images))
        model_device = next(self.generator.parameters()).device
        outputs = []
        with torch.no_grad():
            for chunk in range(0, len(images), self.config.translate_batch_size):
                part = slice(chunk, chunk + self.config.translate_batch_size)
                outputs.append(self.generator(images[part].to(model_device), targets[part].to(model_device)))
        translated = torch.cat(outputs).clamp(-1, 1).float().to(images.device)
        return TranslationResult(images=translated, nfe=1, seconds=time.perf_counter() - began)

    def to(self, device: str | torch.device) -> "StarGANTranslator":
        super().to(device)
        self.generator.to(self.device)
        return self

    def _require_trained(self) -> None:
        if not self._trained:
            raise PhenbenchError("This StarGAN has not been trained: call fit(dataset) or StarGANTranslator.load(dir).")

    # --- persistence -------------------------------------------------------------------------

    def _save_weights(self, directory: Path) -> None:
        self._require_trained()
        state = {k: v.detach().cpu().contiguous() for k, v in self.generator.state_dict().items()}
        tmp = directory / (WEIGHTS_FILE + ".tmp")
        save_file(state, str(tmp))
        tmp.replace(directory / WEIGHTS_FILE)

    def _load_weights(self, directory: Path) -> None:
        path = directory / WEIGHTS_FILE
        if not path.exists():
            raise PhenbenchError(f"{path} is missing: {directory} is not a complete StarGAN save.")
        self.generator.load_state_dict(load_file(str(path)))
        self.generator.eval()
        self._trained = True
