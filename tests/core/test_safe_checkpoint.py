"""Checkpoints are read without running code: the restricted unpickler, and NumPy's RNG kept as a tensor."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from phenbench.core.errors import PhenbenchError
from phenbench.core.safe_checkpoint import (
    UnsafeCheckpointError,
    load_checkpoint_state,
    numpy_rng_state,
    restore_numpy_rng_state,
)
from tests.robustness.crafted import write_crafted_checkpoint


def test_a_crafted_checkpoint_is_refused_and_runs_nothing(tmp_path) -> None:
    marker = tmp_path / "pwned"
    path = write_crafted_checkpoint(tmp_path / "state.pt", marker)
    with pytest.raises(UnsafeCheckpointError) as caught:
        load_checkpoint_state(path, fix="delete it")
    assert not marker.exists()
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and "open" in message.split("(")[1]
    # The same file does run code through the unrestricted loader: the test plants a real threat.
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_plain_states_round_trip(tmp_path) -> None:
    state = {"weights": torch.arange(6.0).reshape(2, 3), "step": 7, "losses": [0.5, 0.25],
             "python": (3, (1, 2), None), "nested": {"lr": 1e-4, "name": "adam"}}
    torch.save(state, tmp_path / "ok.pt")
    loaded = load_checkpoint_state(tmp_path / "ok.pt", fix="delete it")
    assert torch.equal(loaded["weights"], state["weights"])
    assert {k: v for k, v in loaded.items() if k != "weights"} == {k: v for k, v in state.items() if k != "weights"}


@pytest.mark.parametrize("content", [b"", b"not a torch file", pickle.dumps([1, 2])[:5]])
def test_a_truncated_or_foreign_file_is_one_line(tmp_path, content) -> None:
    (tmp_path / "bad.pt").write_bytes(content)
    with pytest.raises(PhenbenchError) as caught:
        load_checkpoint_state(tmp_path / "bad.pt", fix="delete it")
    assert "\n" not in str(caught.value) and "bad.pt" in str(caught.value)


def test_numpy_rng_state_survives_a_restricted_load(tmp_path) -> None:
    np.random.seed(123)
    np.random.standard_normal()  # leaves a cached Gaussian in the state
    torch.save({"numpy": numpy_rng_state()}, tmp_path / "rng.pt")
    expected = np.random.random(5)
    np.random.seed(0)
    restore_numpy_rng_state(load_checkpoint_state(tmp_path / "rng.pt", fix="delete it")["numpy"])
    np.testing.assert_array_equal(np.random.random(5), expected)
