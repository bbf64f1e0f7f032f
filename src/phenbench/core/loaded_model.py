"""What a run may ask of a model it loads (`phenbench run --checkpoint`): the data it was trained
on, its preset, its config. A request the model cannot honour is refused in one line, never
silently ignored: the record would otherwise name settings the model did not use."""

from __future__ import annotations

from phenbench.core.config import config_to_dict
from phenbench.core.errors import ConfigError
from phenbench.core.run_config import RunConfig


def check_loaded_model(translator, dataset, config: RunConfig) -> None:
    """Refuse to score `translator`, loaded from config.checkpoint, where the run asks for another model."""
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
    if not config.translator_config:
        return
    have = config_to_dict(translator.config)
    wanted = config_to_dict(type(translator).config_for(None, {**have, **config.translator_config}))  # unknown keys refused
    changed = sorted(key for key in config.translator_config if wanted[key] != have[key])
    if changed:
        asked = ", ".join(f"{key}={wanted[key]!r}" for key in changed)
        kept = ", ".join(f"{key}={have[key]!r}" for key in changed)
        raise ConfigError(
            f"translator_config sets {asked}, but the model in {checkpoint} has {kept}; a loaded model keeps "
            "its config: leave those settings out, or train a new model (no --checkpoint)."
        )
