"""Checks of a stored run against values recomputed here from the saved model and the data."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from phenbench.core.plugins import load_registries, load_translator
from phenbench.core.runner import open_dataset


def assert_reconstruction_recomputes(outcome, dataset_config: dict, rel: float = 1e-5,
                                     model: str | Path | None = None) -> None:
    """Each target's stored reconstruction/mse is the mean over its real test images of the squared
    error, in [0, 1] units, of the saved model's reconstruction (a real value, not just present).

    `model`: the saved model the run loaded (its --checkpoint); by default the one the run trained.
    """
    record = outcome.record
    stored = {m.name: m for m in record.metrics}["reconstruction/mse"].per_condition
    assert stored, "no reconstruction scores"
    translator = load_translator(Path(model) if model is not None else outcome.model_dir / "model", name=record.translator)
    dataset, _ = open_dataset(load_registries(), record.dataset, None, dataset_config)
    for condition, value in stored.items():
        real = dataset.read("test", dataset.rows("test", condition))
        with torch.no_grad():
            reconstructed = translator.reconstruct(real, condition).images
        expected = (((real - reconstructed) / 2) ** 2).flatten(1).mean(dim=1).mean().item()
        assert value.n == len(real)
        assert value.value == pytest.approx(expected, rel=rel), condition
