from phenbench.translators.cyclegan.config import CycleGANConfig
from phenbench.translators.cyclegan.translator import CycleGANTranslator
from tests.translators.contract import TranslatorContract


def tiny_config(steps: int, **changes) -> CycleGANConfig:
    values = dict(
        generator_filters=4,
        residual_blocks=1,
        discriminator_filters=4,
        batch_size=2,
        steps=steps,
        decay_steps=0,
        pool_size=3,
    )
    values.update(changes)
    return CycleGANConfig(**values)


class TestCycleGANContract(TranslatorContract):
    translator_class = CycleGANTranslator
    supports_resume = True

    def tiny_config(self, steps: int) -> CycleGANConfig:
        return tiny_config(steps)
