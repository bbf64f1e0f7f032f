"""The evaluated rows depend on the fixed evaluation seed, never on the training seed."""

from __future__ import annotations

import numpy as np
import pytest

from phenbench.core.plugins import load_registries
from phenbench.core.run_config import RunConfig
from phenbench.core.runner import run_benchmark
from tests.core.tiny_plugins import TinyPlugins


@pytest.fixture
def registries():
    return load_registries(entry_points=False, extra=(TinyPlugins(),))


def _run(tmp_path, registries, **changes):
    config = RunConfig(dataset="tiny", dataset_config={"per_condition": 6}, store=str(tmp_path / "r.h5"),
                       work_dir=str(tmp_path / "runs"), progress=False, metrics=("counterfactual",),
                       max_test_per_condition=2, pairs="from-control", **changes)
    return run_benchmark(config, registries).record


def test_the_training_seed_does_not_choose_the_evaluated_rows(tmp_path, registries) -> None:
    first, second = _run(tmp_path, registries, seed=1), _run(tmp_path, registries, seed=2)
    other = _run(tmp_path, registries, seed=1, eval_seed=2)
    digest = {r.metrics[0].rows_digest for r in (first, second)}
    assert len(digest) == 1 and None not in digest
    assert other.metrics[0].rows_digest not in digest
    # The same source images were translated: the stored samples are the same pixels.
    np.testing.assert_array_equal(first.samples["drug@1"]["source"], second.samples["drug@1"]["source"])
    assert not np.array_equal(first.samples["drug@1"]["source"], other.samples["drug@1"]["source"])
    assert first.metrics[0].options_digest == other.metrics[0].options_digest
    assert first.configs["run"]["eval_seed"] == 0 and other.configs["run"]["eval_seed"] == 2
