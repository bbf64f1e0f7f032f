"""The identity translator: `translate` returns the source image.

Every comparison table includes it. A method that does not beat it on a metric has shown nothing
on that metric: e.g. on FID at a low dose, where real treated cells barely differ from DMSO, copying
the source already scores well.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from phenbench.core.dataset import PreparedDataset
from phenbench.core.translator import (
    ConditionArg,
    FitOptions,
    FitReport,
    TranslationResult,
    Translator,
)


@dataclass(frozen=True)
class IdentityConfig:
    """The identity translator has nothing to configure."""


class IdentityTranslator(Translator):
    name = "identity"
    config_class = IdentityConfig
    presets: dict = {}  # nothing to size: a --preset is refused rather than labelling a second row
    handles_unseen_conditions = True  # it ignores the target: a held-out compound is no harder

    def fit(self, dataset: PreparedDataset, options: FitOptions = FitOptions()) -> FitReport:
        return FitReport(steps=0, seconds=0.0)


    def translate(self, images: torch.Tensor, source: ConditionArg, target: ConditionArg) -> TranslationResult:
        start = time.perf_counter()
        self.check_images(images)
        self.condition_indices(source, len(images))
        self.condition_indices(target, len(images))
        return TranslationResult(images=images.clone(), nfe=0, seconds=time.perf_counter() - start)
