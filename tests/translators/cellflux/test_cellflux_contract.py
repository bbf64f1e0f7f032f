"""CellFlux through the translator contract (1, 3, 5 channels, determinism, save/load, resume)."""

from phenbench.translators.cellflux.config import CellFluxConfig
from phenbench.translators.cellflux.translator import CellFluxTranslator
from tests.translators.contract import TranslatorContract


def tiny_config(steps: int, **changes) -> CellFluxConfig:
    values = dict(
        block_out_channels=(8, 16),
        layers_per_block=1,
        attention_levels=(1,),
        norm_num_groups=4,
        dropout=0.0,
        steps=steps,
        batch_size=4,
        learning_rate=1e-3,
        sampling_steps=2,
    )
    values.update(changes)
    return CellFluxConfig(**values)


class TestCellFluxContract(TranslatorContract):
    translator_class = CellFluxTranslator
    supports_resume = True

    def tiny_config(self, steps: int) -> CellFluxConfig:
        return tiny_config(steps)
