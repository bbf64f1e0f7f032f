"""Running a trained network fast at translation: reduced-precision autocast, NHWC, torch.compile.

A translator's config names the setting (`translate_precision`, `channels_last`, `compile`); this
module turns it into what torch needs. The samplers around the network keep their arithmetic in
fp32: only the network's own matmuls and convolutions run in bf16/fp16, and its output is cast
back to fp32 before any sampler step uses it.
"""

from __future__ import annotations

import copy
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def autocast_dtype(setting: str, trained_precision: str, device: torch.device | str) -> torch.dtype | None:
    """The autocast dtype of a translation, None for fp32.

    "auto" is the precision the model was trained in (its `mixed_precision`), on a GPU only: on a
    CPU, bf16 matmuls are slower than fp32 on most processors and fp16 ones are not provided.
    """
    device = torch.device(device)
    if setting == "auto":
        setting = trained_precision if device.type == "cuda" else "fp32"
    return _DTYPES.get(setting)


def autocast(dtype: torch.dtype | None, device: torch.device | str) -> AbstractContextManager:
    """torch.autocast on the device's type for `dtype`; nothing for fp32."""
    if dtype is None:
        return nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


class _Frozen:
    """A torch.compile'd module called with Inductor's freezing on.

    `torch.compile(options={"freezing": True})` does not freeze (torch 2.13: the weights stay graph
    inputs, read in place); the config has to be set while the graph is compiled, which happens
    lazily inside a call, so every call sets it.

    It compiles a private copy of the network: dynamo keys a compiled graph on the module object, so
    compiling the same object again after an in-place weight change would reuse the graph with the
    old constants. A new object is compiled anew (dynamo keeps 8 graphs per forward, then runs
    later copies eagerly: slower, still right). The copy also records the weights it was built
    from, for `FastNetwork` to compare against.
    """

    def __init__(self, network: torch.nn.Module):
        from torch._inductor import config as inductor_config  # imported only when compiling

        self.network = copy.deepcopy(network)
        self.compiled = torch.compile(self.network, dynamic=False)
        self._inductor_config = inductor_config

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self._inductor_config.patch(freezing=True):
            return self.compiled(*args, **kwargs)


class FastNetwork:
    """A network prepared once for translation: NHWC weights and a compiled copy, as asked.

    The compiled module is built on first use, with Inductor's freezing: the weights become
    constants of the graph, so the CPU backend prepacks them for oneDNN and fuses the convolutions
    with the additions after them (outputs within 5e-6 of eager). So it is rebuilt when the network
    object changes (a new fit or a load replaces it) and when its weights change in place (compared
    with the compiled copy's): a stale graph would translate with old weights.
    """

    def __init__(self, channels_last: bool, compile: bool):
        self.channels_last, self.compile = channels_last, compile
        self._source: torch.nn.Module | None = None
        self._ready: Any = None

    def __call__(self, network: torch.nn.Module) -> Any:
        """The network ready to run; call it once per translation, not per forward (with `compile`,
        it compares every weight with the frozen copy)."""
        if network is not self._source or (self.compile and not self._weights_unchanged(network)):
            if self.channels_last:  # the weights too: NHWC inputs alone gained nothing (3%, CPU)
                network.to(memory_format=torch.channels_last)
            # Static shapes: a translation calls the network at one or two batch sizes (the last
            # chunk), and a shape-generic graph would run every call slower.
            self._ready = _Frozen(network) if self.compile else network
            self._source = network
        return self._ready

    def _weights_unchanged(self, network: torch.nn.Module) -> bool:
        current, compiled = list(network.state_dict().values()), list(self._ready.network.state_dict().values())
        return len(current) == len(compiled) and all(torch.equal(now, then) for now, then in zip(current, compiled))

    def input(self, samples: torch.Tensor) -> torch.Tensor:
        """Samples in the memory order the network was prepared for."""
        return samples.contiguous(memory_format=torch.channels_last) if self.channels_last else samples


class FastForward(torch.nn.Module):
    """`network(x, *rest)` run through a `FastNetwork` under autocast, its output back in fp32: a
    drop-in for a network that a solver (flow_matching's ODESolver, say) calls as a module. Build
    one per translation: the network is prepared once, here."""

    def __init__(self, fast: FastNetwork, network: torch.nn.Module, dtype: torch.dtype | None,
                 device: torch.device | str):
        super().__init__()
        self.fast, self.ready, self.dtype, self.device = fast, fast(network), dtype, device

    def forward(self, x: torch.Tensor, *rest: Any) -> torch.Tensor:
        with autocast(self.dtype, self.device):
            output = self.ready(self.fast.input(x), *rest)
        return output.float()
