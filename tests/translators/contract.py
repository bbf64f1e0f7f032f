"""Contract tests that every translator's test class subclasses.

A subclass sets `translator_class` and implements `tiny_config(steps)`: a config for a tiny model
(a few channels, 8 x 8 or 16 x 16 pixels) that fits in seconds on a CPU. Translators that
checkpoint set `supports_resume = True`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import pytest
import torch

from phenbench.core.config import config_from_dict, config_to_dict
from phenbench.core.errors import ConfigError
from phenbench.core.translator import FitOptions, InversionResult, TranslationResult, Translator
from phenbench.datasets.in_memory import random_dataset


class TranslatorContract:
    translator_class: ClassVar[type[Translator]]
    supports_resume: ClassVar[bool] = False
    image_size: ClassVar[int] = 8
    fit_steps: ClassVar[int] = 2

    def tiny_config(self, steps: int) -> Any:
        raise NotImplementedError

    # --- helpers -----------------------------------------------------------------------------

    def dataset(self, channels: int = 3, seed: int = 0):
        return random_dataset(channels=channels, image_size=self.image_size, seed=seed)

    def fitted(self, channels: int = 3, seed: int = 0, steps: int | None = None, **options: Any) -> Translator:
        data = self.dataset(channels)
        translator = self.translator_class(self.tiny_config(steps or self.fit_steps), data.spec)
        translator.fit(data, FitOptions(seed=seed, progress=False, **options))
        return translator

    def batch(self, channels: int = 3, n: int = 3) -> torch.Tensor:
        return self.dataset(channels).read("test", list(range(n)))

    # --- the contract ------------------------------------------------------------------------

    @pytest.mark.parametrize("channels", [1, 3, 5])
    def test_translate_shapes_and_range(self, channels: int) -> None:
        translator = self.fitted(channels)
        images = self.batch(channels)
        result = translator.translate(images, source=0, target=[1, 2, 0])
        assert isinstance(result, TranslationResult)
        assert result.images.shape == images.shape
        assert result.images.dtype == torch.float32
        assert torch.isfinite(result.images).all()
        assert result.images.min() >= -1 - 1e-5 and result.images.max() <= 1 + 1e-5
        assert result.nfe >= 0

    @pytest.mark.parametrize("channels", [1, 3, 5])
    def test_invert_returns_latents(self, channels: int) -> None:
        translator = self.fitted(channels)
        images = self.batch(channels)
        result = translator.invert(images, source="DMSO")
        assert isinstance(result, InversionResult)
        assert result.latents.shape[0] == len(images)
        assert torch.isfinite(result.latents).all()
        if not translator.has_latent_space:
            # The latent of an image is the image: exactly it, at no cost.
            assert (result.kind, result.nfe) == ("image", 0)
            torch.testing.assert_close(result.latents, images, rtol=0, atol=0)
            return
        assert result.kind in ("noise", "noise-pair", "w", "w+") and result.nfe > 0
        # A latent is the latent of its image: two different images do not share one.
        first, second = result.latents[0], result.latents[1]
        assert first.shape == second.shape and not torch.allclose(first, second)

    def test_deterministic_under_seed(self) -> None:
        images = self.batch()
        first = self.fitted(seed=3).translate(images, 0, 2).images
        second = self.fitted(seed=3).translate(images, 0, 2).images
        torch.testing.assert_close(first, second, rtol=0, atol=1e-6)

    def test_save_load_round_trip(self, tmp_path) -> None:
        translator = self.fitted()
        images = self.batch()
        before = translator.translate(images, 0, 1).images
        translator.save(tmp_path / "model")
        loaded = self.translator_class.load(tmp_path / "model")
        assert loaded.config == translator.config
        assert loaded.spec == translator.spec
        torch.testing.assert_close(loaded.translate(images, 0, 1).images, before, rtol=0, atol=1e-5)

    def test_config_round_trip_and_unknown_keys(self) -> None:
        config = self.tiny_config(self.fit_steps)
        data = config_to_dict(config)
        assert config_from_dict(type(config), data) == config
        with pytest.raises(ConfigError, match="Valid keys"):
            config_from_dict(type(config), {**data, "no_such_option": 1})
        assert dataclasses.is_dataclass(config) and type(config).__dataclass_params__.frozen

    def test_wrong_channel_count_is_a_clear_error(self) -> None:
        translator = self.fitted(3)
        with pytest.raises(Exception, match="channel"):
            translator.translate(self.batch(channels=2), 0, 1)

    def test_resume_continues_the_same_loss_curve(self, tmp_path) -> None:
        if not self.supports_resume:
            pytest.skip(f"{self.translator_class.name} does not checkpoint")
        total, cut = 6, 3
        data = self.dataset()
        whole = self.translator_class(self.tiny_config(total), data.spec)
        reference = whole.fit(data, FitOptions(seed=1, progress=False)).losses
        # A run stopped after `cut` steps, then a new process resuming from its checkpoint.
        first = self.translator_class(self.tiny_config(cut), data.spec)
        first.fit(data, FitOptions(seed=1, progress=False, checkpoint_dir=tmp_path, checkpoint_every=1))
        resumed = self.translator_class(self.tiny_config(total), data.spec)
        report = resumed.fit(data, FitOptions(seed=1, progress=False, checkpoint_dir=tmp_path, checkpoint_every=1))
        assert len(report.losses) == total  # the full curve, the first `cut` steps read back
        torch.testing.assert_close(
            torch.tensor(report.losses), torch.tensor(reference), rtol=1e-4, atol=1e-6
        )
