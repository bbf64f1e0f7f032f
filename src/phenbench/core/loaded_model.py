"""What a run may ask of a model it loads (`phenbench run --checkpoint`): the data it was trained
on, its preset, its config. It takes new translation settings (`Translator.translation_settings`:
sampler, sampling steps, batch size, precision); a request it cannot honour is refused in one
line, never silently ignored: the record would otherwise name settings the model did not use."""

from __future__ import annotations

import dataclasses
from typing import Any

from phenbench.core.config import config_from_dict, config_to_dict
from phenbench.core.errors import ConfigError
from phenbench.core.run_config import RunConfig
from phenbench.core.translator import TRANSLATOR_FILE, read_manifest


def settings_for_loaded_model(translator_cls, checkpoint: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """The values of `overrides` (a run's translator_config) that differ from the saved model's, to
    load it with (`Translator.load(settings=...)`). Refuses a differing field that is not a
    translation setting: the weights were trained with the saved value."""
    if not overrides:
        return {}
    saved = config_from_dict(translator_cls.config_class, read_manifest(checkpoint)["config"],
                             where=f"{checkpoint}/{TRANSLATOR_FILE}")
    given = {f.name for f in dataclasses.fields(saved) if f.init}  # what a config file can set
    have = {name: value for name, value in config_to_dict(saved).items() if name in given}
    wanted = config_to_dict(translator_cls.config_for(None, {**have, **overrides}))  # unknown keys refused
    changed = sorted(key for key in overrides if wanted[key] != have[key])
    fixed = [key for key in changed if key not in translator_cls.translation_settings]
    if fixed:
        asked = ", ".join(f"{key}={wanted[key]!r}" for key in fixed)
        kept = ", ".join(f"{key}={have[key]!r}" for key in fixed)
        free = ", ".join(sorted(translator_cls.translation_settings)) or "none"
        raise ConfigError(
            f"translator_config sets {asked}, but the model in {checkpoint} was trained with {kept}; a loaded "
            f"model takes new translation settings only ({free}): leave the others out, or train a new model."
        )
    return {key: overrides[key] for key in changed}


def check_loaded_model(translator, dataset, config: RunConfig) -> None:
    """Refuse to score `translator`, loaded from config.checkpoint, on data or a preset it was not trained for."""
    checkpoint = config.checkpoint
    if translator.spec.conditions != dataset.conditions or translator.spec.channels != dataset.spec.channels:
        raise ConfigError(
            f"The translator in {checkpoint} was trained on conditions {list(translator.spec.conditions)} "
            f"and channels {list(translator.spec.channels)}, which differ from the dataset's. "
            "Use the same dataset (and selection) it was trained on."
        )
    if config.preset and translator.preset and config.preset != translator.preset:
        raise ConfigError(
            f"--preset {config.preset} differs from the preset the model in {checkpoint} was trained "
            f"with ({translator.preset}); leave --preset out to score it."
        )
