"""FastNetwork prepares a network once and prepares it again exactly when it must: a compiled graph
with frozen weights would otherwise translate with weights the model no longer has."""

from __future__ import annotations

import torch

from phenbench.core.fast_inference import FastNetwork


def small_network() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.SiLU())


def test_a_compiled_network_is_rebuilt_when_its_weights_change_in_place_and_only_then() -> None:
    fast, network = FastNetwork(channels_last=False, compile=True), small_network()
    first = fast(network)
    assert first is not network and fast(network) is first  # same weights: the same compiled graph
    network[0].weight.data.mul_(2.0)  # .data: no version bump, the object unchanged
    rebuilt = fast(network)
    assert rebuilt is not first and fast(network) is rebuilt
    network[0].bias.data.copy_(network[0].bias.data)  # written, but the same values
    assert fast(network) is rebuilt


def test_an_eager_network_is_prepared_once_per_object_and_runs_its_current_weights() -> None:
    fast, network = FastNetwork(channels_last=True, compile=False), small_network()
    assert fast(network) is network
    assert network[0].weight.is_contiguous(memory_format=torch.channels_last)
    network[0].weight.data.mul_(2.0)
    assert fast(network) is network  # eager reads the live weights: nothing to rebuild
    other = small_network()
    assert fast(other) is other


def test_the_compiled_graph_holds_its_weights_as_constants() -> None:
    # Freezing is what makes the rebuild above necessary, and what lets oneDNN prepack the weights:
    # the graph built before an in-place change still computes with the weights it was built from.
    fast, network = FastNetwork(channels_last=False, compile=True), small_network()
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        compiled = fast(network)
        before = compiled(x)
        network[0].weight.data.mul_(2.0)
        torch.testing.assert_close(compiled(x), before, rtol=0, atol=0)
        torch.testing.assert_close(fast(network)(x), network(x), rtol=1e-5, atol=1e-6)
