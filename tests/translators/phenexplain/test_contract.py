"""The shared translator contract, for both projection spaces."""

from __future__ import annotations

from phenbench.translators.phenexplain.config import PhenexplainConfig
from phenbench.translators.phenexplain.translator import PhenexWPlusTranslator, PhenexWTranslator
from tests.translators.contract import TranslatorContract


def tiny_config(steps: int, **overrides) -> PhenexplainConfig:
    """A StyleGAN2 of a few hundred parameters per layer: 8 x 8 images, seconds on a CPU."""
    settings = dict(
        z_dim=8, w_dim=8, mapping_layers=1, d_mapping_layers=1, channel_base=64, channel_max=16,
        steps=steps, batch_size=4, pl_interval=2, r1_interval=2, ada_interval=1, ada_kimg=0.01,
        centre_samples=64, projection_steps=4, projection_batch_size=2,
    )
    settings.update(overrides)
    return PhenexplainConfig(**settings)


class TestPhenexWContract(TranslatorContract):
    translator_class = PhenexWTranslator
    supports_resume = True

    def tiny_config(self, steps: int) -> PhenexplainConfig:
        return tiny_config(steps)


class TestPhenexWPlusContract(TranslatorContract):
    translator_class = PhenexWPlusTranslator
    supports_resume = True

    def tiny_config(self, steps: int) -> PhenexplainConfig:
        return tiny_config(steps)
