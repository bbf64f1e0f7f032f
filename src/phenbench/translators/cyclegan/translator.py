"""The CycleGAN translator: one two-domain model per unordered pair of conditions a run needs.

`fit` trains a model for each unordered pair in `FitOptions.pairs` (all pairs when None): the
paper's DMSO -> each concentration set is `--pairs from-control`, N - 1 models for N conditions.
Domain A of a model is the lower condition index, B the higher; G: A -> B and F: B -> A. `translate`
routes each image to the generator of its (source, target) pair and raises for a pair no model was
trained for. Translating to the source condition itself (and so `reconstruct`) applies the
generator *into* that condition, which the identity loss trains to leave such images unchanged.
CycleGAN has no latent space: `invert` returns the images themselves.
"""

from __future__ import annotations

import time
from itertools import combinations
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from phenbench.core.config import config_to_dict
from phenbench.core.dataset import PreparedDataset
from phenbench.core.errors import DataError, PhenbenchError
from phenbench.core.sharding import current_shard
from phenbench.core.step_loader import loader_workers
from phenbench.core.translator import (
    ConditionArg,
    FitOptions,
    FitReport,
    TranslationResult,
    Translator,
)
from phenbench.translators.cyclegan.config import PRESETS, TRANSLATION_SETTINGS, CycleGANConfig
from phenbench.translators.cyclegan.losses import CycleGANPair
from phenbench.translators.cyclegan.networks import check_image_size, discriminator_depth
from phenbench.translators.cyclegan.pair_fit import fit_pair
from phenbench.translators.cyclegan.pair_sharing import PairSharing

WEIGHTS_FILE = "cyclegan-generators.safetensors"
Pair = tuple[int, int]


class CycleGANTranslator(Translator):
    """CycleGAN (Zhu et al., 2017) adapted to any channel count and image size."""

    name = "cyclegan"
    config_class = CycleGANConfig
    translation_settings = TRANSLATION_SETTINGS
    presets = PRESETS
    has_latent_space = False
    trains_per_pair = True

    def __init__(self, config: CycleGANConfig, spec) -> None:
        super().__init__(config, spec)
        check_image_size(spec.image_size)
        self.models: dict[Pair, CycleGANPair] = {}

    # --- fit ---------------------------------------------------------------------------------

    def fit(self, dataset: PreparedDataset, options: FitOptions = FitOptions()) -> FitReport:
        """Train one model per needed pair; under several processes each trains its share of the
        pairs (pair_sharing.py) and every process ends with all of them."""
        self._check_dataset(dataset)
        pairs = self.pairs_needed(options.pairs)
        rows = {pair: self._training_rows(dataset, pair) for pair in pairs}  # every pair checked before any trains
        config, device = self.config, torch.device(options.device)
        workers = loader_workers(options.loader_workers, str(device))
        identity = {"config": config_to_dict(config), "spec": self.spec.to_dict()}
        names = self.spec.conditions.names
        sharing = PairSharing(current_shard(), len(pairs))
        trained = {}
        for index in sharing.mine():
            pair = pairs[index]
            fit = fit_pair(
                pair, rows[pair], dataset, config,
                channels=self.spec.num_channels,
                blocks=config.blocks_for(self.spec.image_size),
                discriminator_layers=discriminator_depth(self.spec.image_size, config.discriminator_layers),
                seed=options.seed,
                device=device,
                checkpoint_dir=None if options.checkpoint_dir is None else Path(options.checkpoint_dir) / f"pair-{pair[0]}-{pair[1]}",
                checkpoint_every=options.checkpoint_every,
                progress=options.progress and sharing.shard.is_main,
                identity=identity,
                label=f"cyclegan {names[pair[0]]}<->{names[pair[1]]}",
                log_every=options.log_every,
                workers=workers,
            )
            trained[index] = (fit.model.generator_state(), fit.without_model())
        everything = sharing.share(trained)
        self.models = {pair: self._pair_from(generators) for pair, (generators, _) in zip(pairs, everything)}
        fits = {pair: fit for pair, (_, fit) in zip(pairs, everything)}
        trainers = {pair: sharing.trainer_of(index) for index, pair in enumerate(pairs)}
        return self._report(fits, trainers, sharing.shard.count, workers)

    def _training_rows(self, dataset: PreparedDataset, pair: Pair) -> tuple:
        names = self.spec.conditions.names
        rows = (dataset.rows("train", pair[0]), dataset.rows("train", pair[1]))
        for index, found in zip(pair, rows):
            if len(found) == 0:
                raise DataError(
                    f"CycleGAN cannot learn {names[pair[0]]} <-> {names[pair[1]]}: the 'train' split of "
                    f"'{dataset.name}' has no images of {names[index]}. Drop that pair (--pairs) or add images."
                )
        return rows

    def pairs_needed(self, pairs: tuple[tuple[int, int], ...] | None) -> list[Pair]:
        """The unordered pairs (low, high) a set of (source, target) pairs needs; all when None."""
        count = len(self.spec.conditions)
        if pairs is None:
            return list(combinations(range(count), 2))
        needed = set()
        for source, target in pairs:
            for index in (source, target):
                if not 0 <= int(index) < count:
                    raise PhenbenchError(f"pair ({source}, {target}) names condition {index}; this data has {count}.")
            if source != target:
                needed.add((min(source, target), max(source, target)))
        return sorted((int(a), int(b)) for a, b in needed)

    def _report(self, fits: dict, trainers: dict[Pair, int], processes: int, workers: int) -> FitReport:
        names = self.spec.conditions.names
        label = {pair: f"{names[pair[0]]}<->{names[pair[1]]}" for pair in fits}
        curves = [fit.generator_losses for fit in fits.values()]
        # One curve for the run: the mean generator loss over the pair models at each iteration.
        losses = [sum(values) / len(values) for values in zip(*curves)] if curves else []
        # The processes train side by side: the fit lasts as long as its busiest process's pairs.
        def busiest(seconds_of) -> float:
            return max(sum(seconds_of(fit) for pair, fit in fits.items() if trainers[pair] == rank)
                       for rank in range(processes)) if fits else 0.0

        seconds, seconds_now = busiest(lambda fit: fit.seconds), busiest(lambda fit: fit.seconds_now)
        images_now = sum(fit.steps_now for fit in fits.values()) * self.config.batch_size * 2
        total_steps = sum(fit.steps for fit in fits.values())
        return FitReport(
            steps=total_steps,
            seconds=seconds,
            images_per_second=images_now / seconds_now if images_now and seconds_now > 0 else None,
            losses=losses,
            extra={
                "models_trained": len(fits),
                "pairs": [label[pair] for pair in fits],
                "steps_per_model": {label[pair]: fit.steps for pair, fit in fits.items()},
                "total_steps": total_steps,
                "total_seconds": sum(fit.seconds for fit in fits.values()),  # summed over the processes
                "processes": processes,
                "loader_workers": workers,
                "trained_by_process": {label[pair]: trainers[pair] for pair in fits},
                "seconds_per_model": {label[pair]: fit.seconds for pair, fit in fits.items()},
                "loss": "generator loss per iteration, mean over the pair models",
                "generator_losses": {label[pair]: fit.generator_losses for pair, fit in fits.items()},
                "discriminator_losses": {label[pair]: fit.discriminator_losses for pair, fit in fits.items()},
                "resumed_from_step": {label[pair]: fit.resumed_from for pair, fit in fits.items()},
            },
        )

    def _check_dataset(self, dataset: PreparedDataset) -> None:
        if dataset.spec != self.spec:
            raise DataError(
                f"The dataset '{dataset.name}' does not match this CycleGAN's data (channels, size or conditions); "
                "build the translator from dataset.spec."
            )
        if "train" not in dataset.splits():
            raise DataError(f"CycleGAN trains on a 'train' split; the dataset '{dataset.name}' has {dataset.splits()}.")

    def _pair_from(self, generators: dict[str, torch.Tensor]) -> CycleGANPair:
        """An inference model: the two generators of a trained one (its `generator_state`), no discriminators."""
        model = self._empty_pair()
        model.load_state_dict(generators)
        return model.to(self.device).eval()

    def _empty_pair(self) -> CycleGANPair:
        with torch.random.fork_rng(devices=[]):  # the weights are overwritten: keep the global RNG as it was
            return CycleGANPair(
                self.spec.num_channels, self.config, self.config.blocks_for(self.spec.image_size), 1, train=False
            )

    # --- invert, translate -------------------------------------------------------------------


    def translate(self, images: torch.Tensor, source: ConditionArg, target: ConditionArg) -> TranslationResult:
        """Each image through the generator of its (source, target) pair: one generator pass."""
        began = time.perf_counter()
        if not self.models:
            raise PhenbenchError("This CycleGAN has not been trained: call fit(dataset) or CycleGANTranslator.load(dir).")
        self.check_images(images)
        sources = self.condition_indices(source, len(images))
        targets = self.condition_indices(target, len(images))
        routes = torch.stack([sources, targets], dim=1)
        generators = {tuple(route): self.generator_for(*route) for route in routes.unique(dim=0).tolist()}
        translated = torch.empty_like(images, dtype=torch.float32)
        with torch.no_grad():
            for route, generator in generators.items():
                where = ((sources == route[0]) & (targets == route[1])).nonzero().flatten()
                translated[where] = self._run(generator, images[where]).to(images.device)
        return TranslationResult(images=translated.clamp(-1, 1), nfe=1, seconds=time.perf_counter() - began)

    def generator_for(self, source: int, target: int) -> nn.Module:
        """The generator mapping `source` to `target`, or a clear error naming the trained pairs."""
        names = self.spec.conditions.names
        if source != target:
            pair = (min(source, target), max(source, target))
            if pair in self.models:
                model = self.models[pair]
                return model.a_to_b if source < target else model.b_to_a
        else:
            for (a, b), model in self.models.items():
                if source in (a, b):  # the generator whose output domain is `source`
                    return model.b_to_a if source == a else model.a_to_b
        trained = ", ".join(f"{names[a]}<->{names[b]}" for a, b in self.models) or "none"
        raise PhenbenchError(
            f"This CycleGAN has no model for {names[source]} -> {names[target]} (trained pairs: {trained}). "
            "Fit it with pairs that include this one (e.g. --pairs all)."
        )

    def _run(self, generator: nn.Module, images: torch.Tensor) -> torch.Tensor:
        device = next(generator.parameters()).device
        step = self.config.translate_batch_size
        return torch.cat([generator(images[i : i + step].to(device)) for i in range(0, len(images), step)])

    def to(self, device: str | torch.device) -> "CycleGANTranslator":
        super().to(device)
        for model in self.models.values():
            model.to(self.device)
        return self

    # --- persistence -------------------------------------------------------------------------

    def _save_weights(self, directory: Path) -> None:
        if not self.models:
            raise PhenbenchError("This CycleGAN has not been trained: there are no weights to save.")
        tensors = {
            f"{a}-{b}/{key}": value.detach().cpu().contiguous()
            for (a, b), model in self.models.items()
            for key, value in model.state_dict().items()
        }
        pairs = ",".join(f"{a}-{b}" for a, b in self.models)
        tmp = directory / (WEIGHTS_FILE + ".tmp")
        save_file(tensors, str(tmp), metadata={"pairs": pairs})
        tmp.replace(directory / WEIGHTS_FILE)

    def _load_weights(self, directory: Path) -> None:
        path = directory / WEIGHTS_FILE
        if not path.exists():
            raise PhenbenchError(f"{path} is missing: {directory} is not a complete CycleGAN save.")
        with safe_open(str(path), framework="pt") as handle:
            pairs = [tuple(int(i) for i in text.split("-")) for text in handle.metadata()["pairs"].split(",")]
            self.models = {}
            for a, b in pairs:
                prefix = f"{a}-{b}/"
                self.models[(a, b)] = self._pair_from(
                    {key[len(prefix):]: handle.get_tensor(key) for key in handle.keys() if key.startswith(prefix)})
