"""On the synthetic world, the feature-space metrics measure the true effect.

The true counterfactual (the same cells rendered under the target) is a perfect translator; the
identity is none. `effect` and `dose-response` must tell them apart by the amounts the ground
truth implies: counterfactual error 0 against 1, shift in the real direction, the real dose
response.
"""

from __future__ import annotations

import pytest

from phenbench.core.metric import ConditionBundle, Evaluation
from phenbench.metrics.dose_response import DoseResponse
from phenbench.metrics.effect import Effect

pytestmark = pytest.mark.slow
TARGETS = ("shrinkin@1", "shrinkin@3", "dispersin@1")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from phenbench.datasets.synthetic.adapter import SyntheticDataset
    from phenbench.datasets.synthetic.config import SyntheticConfig

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PHENBENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield SyntheticDataset(SyntheticConfig(
            image_size=32, min_cells=1, max_cells=1, train_per_condition=2, test_per_condition=20))


def _evaluation(dataset, translator: str) -> Evaluation:
    rows = dataset.rows("test", "DMSO")
    sources = dataset.read("test", rows)
    bundles = {}
    for target in TARGETS:
        counterfactual = dataset.counterfactuals("test", rows, target)
        bundles[target] = ConditionBundle(
            target=target, translated=counterfactual if translator == "perfect" else sources, sources=sources,
            source_conditions=["DMSO"] * len(sources), real=dataset.read("test", dataset.rows("test", target)),
            counterfactuals=counterfactual,
        )
    return Evaluation(conditions=dataset.conditions, channels=dataset.spec.channels, bundles=bundles,
                      dataset_hash=dataset.content_hash())


def _measures(evaluation):
    results = Effect(bootstrap=0).compute(evaluation) + DoseResponse(bootstrap=0).compute(evaluation)
    return {r.name: r for r in results}


def test_true_counterfactuals_have_the_true_effect_and_identity_none(world):
    perfect, identity = _measures(_evaluation(world, "perfect")), _measures(_evaluation(world, "identity"))
    for target in TARGETS:
        assert perfect["effect/counterfactual-error"].per_condition[target].value == pytest.approx(0.0, abs=1e-9)
        assert identity["effect/counterfactual-error"].per_condition[target].value == pytest.approx(1.0)
        assert identity["effect/magnitude-ratio"].per_condition[target].value == 0.0
        # other cells of the target condition shift the same way as the true counterfactuals
        assert perfect["effect/cosine"].per_condition[target].value > 0.8
        assert 0.6 < perfect["effect/magnitude-ratio"].per_condition[target].value < 1.6
    real = perfect["dose-response/spearman-real"].per_condition["shrinkin"].value
    assert real > 0.5
    assert perfect["dose-response/spearman-translated"].per_condition["shrinkin"].value > 0.8 * real
    assert identity["dose-response/spearman-translated"].per_condition["shrinkin"].value == 0.0
