"""The default device: the CPU without a GPU; under a launcher, the GPU of the process's LOCAL_RANK."""

from __future__ import annotations

import torch

from phenbench.core.devices import default_device
from phenbench.core.provenance import resolve_device
from phenbench.core.translator import FitOptions


def test_without_a_gpu_everything_defaults_to_the_cpu(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert default_device() == resolve_device("auto") == FitOptions().device == "cpu"


def test_each_launched_process_gets_its_own_gpu(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv("LOCAL_RANK", "3")  # more processes than GPUs: they share, round robin
    assert default_device() == resolve_device("auto") == FitOptions().device == "cuda:1"
    monkeypatch.delenv("LOCAL_RANK")
    assert FitOptions().device == "cuda:0"
    assert FitOptions(device="cpu").device == "cpu"  # a named device is kept
