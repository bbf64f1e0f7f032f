"""Acceptance on the small synthetic world, through the runner and the comparison table:

- a translator that blanks one channel of every output (here: real target cells, the best
  distribution-matcher, with channel 1, tubulin, blanked) has segmentation failures near 1 and wins
  no column that the unbroken real-target does not win too;
- `real-target` (random real training cells of the target) wins the FID-like measures but loses
  `source-fidelity`, where the identity keeps every cell.
"""

from __future__ import annotations

import pytest

from phenbench import hookimpl
from phenbench.core.compare import FLOOR_ROW, comparison_table
from phenbench.core.plugins import load_registries
from phenbench.core.registry import Registration
from phenbench.core.run_config import RunConfig
from phenbench.core.runner import run_benchmark
from phenbench.core.store import ResultsStore
from phenbench.translators.real_target.translator import RealTargetTranslator
from tests.metrics.helpers import register_tiny_extractor
from tests.metrics.small_world import SMALL_WORLD


class BlankChannelTranslator(RealTargetTranslator):
    """Real target cells with channel 1 set to black: a broken translator that matches the target otherwise."""

    name = "blank-channel"

    def translate(self, images, source, target):
        result = super().translate(images, source, target)
        result.images = result.images.clone()
        result.images[:, 1] = -1.0
        return result


class BlankPlugin:
    @hookimpl
    def register_translators(self):
        return [Registration("blank-channel", "tests.metrics.test_baselines_acceptance:BlankChannelTranslator")]


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("baselines")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PHENBENCH_CACHE", str(tmp / "cache"))
        extractor = register_tiny_extractor()  # FID and KID maths with a stand-in for Inception
        registries = load_registries(entry_points=False, extra=(BlankPlugin(),))
        for translator in ("identity", "real-target", "blank-channel"):
            config = RunConfig(
                translator=translator, dataset="synthetic", dataset_config=SMALL_WORLD, pairs="from-control",
                store=str(tmp / "r.h5"), work_dir=str(tmp / "runs"), progress=False,
                metric_options={"fid": {"feature_extractor": extractor}, "kid": {"feature_extractor": extractor},
                                "fd-cellprofiler": {"components": 3}},
            )
            run_benchmark(config, registries)
        yield comparison_table(ResultsStore(tmp / "r.h5"))


def _pooled(table, row, metric):
    return table.loc[row, (metric, "pooled")]


def test_a_blanked_channel_fails_segmentation_and_wins_nothing(table):
    assert _pooled(table, "blank-channel", "segmentation-failures") >= 0.9
    assert _pooled(table, "identity", "segmentation-failures") == 0.0
    assert _pooled(table, FLOOR_ROW, "segmentation-failures") <= 0.05  # real cells segment
    best = set(table.attrs["phenbench"]["best"])
    # Its untouched channels are real target cells, exactly real-target's: a shared tie there
    # (e.g. counterfactual/contrast-actin) is deserved. Anything it wins alone is a defect.
    won = {(metric, condition) for row, metric, condition in best if row == "blank-channel"}
    assert {cell for cell in won if ("real-target", *cell) not in best} == set()
    assert not any(metric == "counterfactual/contrast-tubulin" for metric, _ in won)
    assert _pooled(table, "blank-channel", "classifier/target-share") <= 0.1  # failures are misses
    assert _pooled(table, "blank-channel", "source-fidelity") <= 0.1


def test_real_target_wins_the_fid_like_measures_and_loses_source_fidelity(table):
    best = set(table.attrs["phenbench"]["best"])
    for metric in ("fid", "kid", "fd-cellprofiler"):
        assert ("real-target", metric, "pooled") in best, metric
        assert _pooled(table, "real-target", metric) < _pooled(table, "identity", metric)
    assert ("real-target", "classifier/target-share", "pooled") in best
    assert _pooled(table, "identity", "source-fidelity") == 1.0
    real_target = table.attrs["phenbench"]["cells"][("real-target", "source-fidelity", "pooled")]
    chance = _pooled(table, FLOOR_ROW, "source-fidelity")
    assert real_target["ci_low"] <= chance + 0.05 and _pooled(table, "real-target", "source-fidelity") < 0.3
    assert ("identity", "source-fidelity", "pooled") in best

