import torch

from phenbench.translators.identity.translator import IdentityConfig, IdentityTranslator
from tests.translators.contract import TranslatorContract


class TestIdentityContract(TranslatorContract):
    translator_class = IdentityTranslator

    def tiny_config(self, steps: int) -> IdentityConfig:
        return IdentityConfig()


def test_identity_returns_the_source_unchanged() -> None:
    contract = TestIdentityContract()
    translator = contract.fitted()
    images = contract.batch()
    torch.testing.assert_close(translator.translate(images, 0, 2).images, images, rtol=0, atol=0)
