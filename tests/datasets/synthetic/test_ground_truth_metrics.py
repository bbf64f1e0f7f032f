"""The world's counterfactuals and readouts, as the runner hands them to the ground-truth metric.

A translator that renders the true counterfactual recovers the whole shift (share 1), the identity
none (share 0), and one that renders the same cells at a lower dose a part that grows with the dose.
"""

from __future__ import annotations

import pytest
import torch

from phenbench.core.metric import ConditionBundle, Evaluation
from phenbench.core.plugins import load_registries
from phenbench.core.registry import import_target
from phenbench.datasets.synthetic.adapter import SyntheticDataset


def _share(world: SyntheticDataset, sources: torch.Tensor, translated: torch.Tensor, truth: torch.Tensor,
           target: str) -> float:
    bundle = ConditionBundle(
        target=target, translated=translated, sources=sources, source_conditions=["DMSO"] * len(sources),
        real=world.read("test", world.rows("test", target)), counterfactuals=truth,
    )
    evaluation = Evaluation(
        conditions=world.conditions, channels=world.spec.channels, bundles={target: bundle},
        dataset_hash=world.content_hash(), readouts=world.phenotype_readouts,
    )
    metric = import_target(load_registries(entry_points=False).metrics.get("phenotype-shift").target)()
    results = {r.name: r for r in metric.compute(evaluation)}
    return results["phenotype-shift"].per_condition[target].value


@pytest.mark.parametrize("target, partial", [("dispersin@1", ("dispersin@0.1", "dispersin@0.3")),
                                             ("shrinkin@3", ("shrinkin@0.3", "shrinkin@1"))])
def test_share_of_the_true_shift(default_world: SyntheticDataset, target: str, partial: tuple[str, str]) -> None:
    rows = default_world.rows("test", "DMSO")
    sources = default_world.read("test", rows)
    truth = default_world.counterfactuals("test", rows, target)
    assert _share(default_world, sources, truth, truth, target) == pytest.approx(1.0)
    assert _share(default_world, sources, sources, truth, target) == pytest.approx(0.0)
    low, middle = (_share(default_world, sources, default_world.counterfactuals("test", rows, c), truth, target)
                   for c in partial)
    assert 0.0 < low < middle < 1.0
