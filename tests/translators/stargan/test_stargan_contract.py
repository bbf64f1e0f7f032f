from phenbench.translators.stargan.config import StarGANConfig
from phenbench.translators.stargan.translator import StarGANTranslator
from tests.translators.contract import TranslatorContract


def tiny_config(steps: int, **changes) -> StarGANConfig:
    values = dict(
        generator_filters=4,
        residual_blocks=1,
        discriminator_filters=4,
        discriminator_layers=2,
        batch_size=4,
        steps=steps,
        decay_steps=0,
        critic_steps=1,
    )
    values.update(changes)
    return StarGANConfig(**values)


class TestStarGANContract(TranslatorContract):
    translator_class = StarGANTranslator
    supports_resume = True

    def tiny_config(self, steps: int) -> StarGANConfig:
        return tiny_config(steps)
