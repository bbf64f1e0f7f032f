"""The channel-shift translator: translate(x) = x + mean(target) - mean(source), per channel.

`fit` measures each condition's mean intensity per channel on the training split. It captures
global brightness changes (as cycloheximide's rise in every channel) and nothing of morphology,
which makes it a useful second baseline beside identity.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch

from phenbench.core.dataset import PreparedDataset
from phenbench.core.errors import PhenbenchError
from phenbench.core.translator import (
    FitOptions,
    FitReport,
    TranslationResult,
    Translator,
)


@dataclass(frozen=True)
class ChannelShiftConfig:
    """How many training images per condition to average (all if None)."""

    max_images_per_condition: int | None = None


class ChannelShiftTranslator(Translator):
    name = "channel-shift"
    config_class = ChannelShiftConfig
    presets = {"quick": {"max_images_per_condition": 64}, "paper": {}}

    def __init__(self, config: ChannelShiftConfig, spec):
        super().__init__(config, spec)
        self.means: torch.Tensor | None = None  # conditions x channels

    def fit(self, dataset: PreparedDataset, options: FitOptions = FitOptions()) -> FitReport:
        start = time.perf_counter()
        means = torch.zeros(len(self.spec.conditions), self.spec.num_channels)
        for index in range(len(self.spec.conditions)):
            rows = dataset.rows("train", index)[: self.config.max_images_per_condition]
            if len(rows):
                means[index] = dataset.read("train", rows).mean(dim=(0, 2, 3))
        self.means = means
        return FitReport(steps=1, seconds=time.perf_counter() - start)


    def translate(self, images, source, target) -> TranslationResult:
        if self.means is None:
            raise PhenbenchError("channel-shift is not fitted: call fit() or load a saved model first.")
        self.check_images(images)
        n = len(images)
        source, target = self.condition_indices(source, n), self.condition_indices(target, n)
        shift = (self.means[target] - self.means[source])[:, :, None, None]
        return TranslationResult(images=(images + shift).clamp(-1, 1), nfe=0)

    def _save_weights(self, directory: Path) -> None:
        torch.save({"means": self.means}, directory / "means.pt")

    def _load_weights(self, directory: Path) -> None:
        self.means = torch.load(directory / "means.pt")["means"]
