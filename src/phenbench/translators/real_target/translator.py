"""The real-target translator: returns a random real image of the target condition.

It ignores its input entirely, so it is the perfect "looks like the target" translator and the
worst "keeps the cell" translator: it wins the distribution measures (FID, `fd-cellprofiler`,
`classifier`, `cellprofiler`, `dose-response`, `effect`) and must lose `source-fidelity`. A method
has shown that it translates *the given cell* only where it beats this baseline on
`source-fidelity` while approaching it on the distribution measures.

`fit` keeps up to `max_per_condition` images of each condition from the dataset's *training*
split (a seeded subset): never the test images it is scored against, which would be a copy of the
answer. The choice of image is a function of the source image, the target and the fit's seed, so
the same input always gives the same output (before and after save and load). Saved as a NumPy
archive (float16 images and their labels), read back without pickle.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from phenbench.core.dataset import PreparedDataset
from phenbench.core.errors import ConfigError, PhenbenchError
from phenbench.core.translator import ConditionArg, FitOptions, FitReport, TranslationResult, Translator

IMAGES_FILE = "real_images.npz"


@dataclass(frozen=True)
class RealTargetConfig:
    """How many training images of each condition to keep (a seeded subset)."""

    max_per_condition: int = 256

    def __post_init__(self) -> None:
        if not isinstance(self.max_per_condition, int) or self.max_per_condition < 1:
            raise ValueError(f"max_per_condition must be a positive integer, got {self.max_per_condition!r}")


class RealTargetTranslator(Translator):
    name = "real-target"
    config_class = RealTargetConfig
    presets: dict = {}  # nothing to train or size: a --preset is refused, as for identity

    def __init__(self, config: RealTargetConfig, spec):
        super().__init__(config, spec)
        self._images: torch.Tensor | None = None  # kept training images, float16-exact float32
        self._labels: np.ndarray | None = None
        self._seed = 0

    def fit(self, dataset: PreparedDataset, options: FitOptions = FitOptions()) -> FitReport:
        start = time.perf_counter()
        rng = np.random.default_rng(options.seed)
        kept = []
        for index in range(len(self.spec.conditions)):
            rows = dataset.rows("train", index)
            if len(rows) > self.config.max_per_condition:
                rows = np.sort(rng.choice(rows, size=self.config.max_per_condition, replace=False))
            kept.append(rows)
        rows = np.concatenate(kept)
        labels = dataset.labels("train")[rows]
        images = dataset.read("train", rows) if len(rows) else torch.zeros(0, self.spec.num_channels,
                                                                           self.spec.image_size, self.spec.image_size)
        self._keep(images, labels, options.seed)
        return FitReport(steps=0, seconds=time.perf_counter() - start)

    def _keep(self, images: torch.Tensor, labels: np.ndarray, seed: int) -> None:
        self._images = images.detach().cpu().half().float()  # stored as float16: keep what is saved
        self._labels = np.asarray(labels, dtype=np.int64)
        self._seed = int(seed)

    def translate(self, images: torch.Tensor, source: ConditionArg, target: ConditionArg) -> TranslationResult:
        start = time.perf_counter()
        self.check_images(images)
        self.condition_indices(source, len(images))
        targets = self.condition_indices(target, len(images)).tolist()
        if self._images is None:
            raise PhenbenchError("The real-target translator has not been fitted: call fit (or load a saved one) first.")
        picks = [self._pick(image, t) for image, t in zip(images, targets)]
        out = self._images[torch.as_tensor(picks, dtype=torch.long)] if picks else images.clone()
        return TranslationResult(images=out.to(images.device), nfe=0, seconds=time.perf_counter() - start)

    def _pick(self, image: torch.Tensor, target: int) -> int:
        """A kept image of `target`, chosen by a seed derived from the source image's bytes."""
        candidates = np.flatnonzero(self._labels == target)
        if not len(candidates):
            raise PhenbenchError(
                f"The real-target translator kept no training image of {self.spec.conditions.name(target)}: "
                "the dataset's training split has none; it cannot translate to that condition."
            )
        digest = hashlib.sha256(image.detach().float().cpu().contiguous().numpy().tobytes())
        digest.update(f"{target}|{self._seed}".encode())
        return int(candidates[np.random.default_rng(int.from_bytes(digest.digest()[:8], "little")).integers(len(candidates))])

    def _save_weights(self, directory: Path) -> None:
        if self._images is None:
            raise PhenbenchError("Nothing to save: the real-target translator has not been fitted.")
        tmp = directory / (IMAGES_FILE + ".tmp.npz")
        np.savez(tmp, images=self._images.half().numpy(), labels=self._labels, seed=np.int64(self._seed))
        tmp.replace(directory / IMAGES_FILE)

    def _load_weights(self, directory: Path) -> None:
        path = directory / IMAGES_FILE
        try:
            with np.load(path, allow_pickle=False) as stored:
                images, labels, seed = stored["images"], stored["labels"], int(stored["seed"])
        except (OSError, KeyError, ValueError) as exc:
            raise ConfigError(f"{path} is missing or not a real-target image archive ({exc}); fit the model again.") from None
        self._keep(torch.from_numpy(images.astype(np.float32)), labels, seed)
