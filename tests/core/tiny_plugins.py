"""Plugins for runner tests: a tiny in-memory dataset, a translator that fails, a broken metric."""

from __future__ import annotations

from dataclasses import dataclass

from phenbench import hookimpl
from phenbench.core.metric import Metric, Need
from phenbench.core.registry import Registration
from phenbench.datasets.in_memory import InMemoryDataset, random_dataset
from phenbench.translators.identity.translator import IdentityTranslator


@dataclass(frozen=True)
class TinyConfig:
    root: str | None = None
    channels: int = 2
    per_condition: int = 3


class TinyDataset(InMemoryDataset):
    name = "tiny"
    config_class = TinyConfig

    def __init__(self, config: TinyConfig):
        built = random_dataset(channels=config.channels, per_condition=config.per_condition)
        super().__init__(built.spec, built._images, built._labels)


class FailingTranslator(IdentityTranslator):
    name = "failing"

    def fit(self, dataset, options=None):
        raise RuntimeError("the GPU caught fire")


class SizedTranslator(IdentityTranslator):
    """An identity with presets, for tests of what a run does with them."""

    name = "sized"
    presets = {"quick": {}, "small": {}}


@dataclass(frozen=True)
class StepsConfig:
    steps: int = 10
    sizes: tuple[int, ...] = (8, 16)
    translate_batch_size: int = 4


class ConfiguredTranslator(IdentityTranslator):
    """An identity with settings, for tests of what a run does with a loaded model's config."""

    name = "configured"
    config_class = StepsConfig
    translation_settings = frozenset({"translate_batch_size"})


class BrokenMetric(Metric):
    name = "broken"
    needs = frozenset({Need.TRANSLATED})

    def compute(self, evaluation):
        raise ZeroDivisionError("oops")


class TinyPlugins:
    @hookimpl
    def register_datasets(self):
        return [Registration("tiny", "tests.core.tiny_plugins:TinyDataset")]

    @hookimpl
    def register_translators(self):
        return [Registration("failing", "tests.core.tiny_plugins:FailingTranslator"),
                Registration("sized", "tests.core.tiny_plugins:SizedTranslator"),
                Registration("configured", "tests.core.tiny_plugins:ConfiguredTranslator")]

    @hookimpl
    def register_metrics(self):
        return [Registration("broken", "tests.core.tiny_plugins:BrokenMetric")]
