"""Batch-matched pairs: a constructed plate effect that unmatched pairing scores as a translation
error disappears when each control is drawn from its target image's plate."""

from __future__ import annotations

import numpy as np
import pytest

from phenbench.core.batch_pairs import match_batches
from phenbench.core.errors import DataError
from phenbench.core.plugins import load_registries
from phenbench.core.run_config import RunConfig
from phenbench.core.runner import run_benchmark
from phenbench.core.store import ResultsStore
from phenbench.datasets.bbbc021.impa_adapter import Bbbc021ImpaDataset, ImpaConfig
from tests.datasets.bbbc021.mini_impa import PLATES, Treatment, make_impa_release
from tests.metrics.helpers import register_tiny_extractor

# No treatment effect at all: "inert" cells look exactly like DMSO cells of their plate. The plates
# differ in brightness (a batch effect), and inert cells are on the brightest plate only.
OFFSETS = {PLATES[0]: 0.0, PLATES[1]: 30.0, PLATES[2]: 60.0}
INERT = (Treatment("inert", 1.0, "none", 1.0, plates=(PLATES[2],)),)


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return make_impa_release(tmp_path_factory.mktemp("plates") / "rel", treatments=INERT, plate_offsets=OFFSETS,
                             controls_per_plate=(8, 24), treated_per_plate=(8, 24))


def _run(release, tmp_path, match: bool):
    tiny = register_tiny_extractor()
    config = RunConfig(
        translator="identity", dataset="bbbc021-impa", data=str(release.root), pairs="from-control",
        match_batches=match, metrics=("fid",), store=str(tmp_path / "r.h5"), work_dir=str(tmp_path / "runs"),
        dataset_config={"cache_dir": str(tmp_path / "cache")}, progress=False,
        metric_options={"fid": {"feature_extractor": tiny, "bootstrap": 0}},
    )
    record = run_benchmark(config, load_registries(entry_points=False)).record
    return ResultsStore(tmp_path / "r.h5").read(record.run_id)


def test_batch_matching_removes_a_plate_effect_that_unmatched_pairs_score_as_an_error(release, tmp_path, monkeypatch):
    monkeypatch.setenv("PHENBENCH_CACHE", str(tmp_path / "features"))
    matched, unmatched = _run(release, tmp_path, True), _run(release, tmp_path, False)
    assert matched.configs["pairing"]["batch_matched"] is True
    assert unmatched.configs["pairing"] == {"batch_matched": False}
    fid = {name: {m.name: m for m in record.metrics}["fid"] for name, record in (("m", matched), ("u", unmatched))}
    floor = fid["m"].floor["inert"].value  # real inert half A against half B: the sampling noise
    assert fid["m"].per_condition["inert"].value < 3 * floor
    # Copying DMSO cells of every plate "misses" the brighter plate: a translation error that is a plate effect.
    assert fid["u"].per_condition["inert"].value > 10 * fid["m"].per_condition["inert"].value
    assert fid["u"].per_condition["inert"].value > 10 * floor


def test_every_drawn_control_shares_its_real_image_plate(release, tmp_path):
    dataset = Bbbc021ImpaDataset(ImpaConfig(root=str(release.root), cache_dir=str(tmp_path / "cache")))
    target, control = dataset.conditions.index("inert"), dataset.conditions.index("DMSO")
    real = dataset.rows("test", target)
    pairs = match_batches(dataset, control, {target: real}, seed=0)
    plates = dataset.batches("test")
    assert len(pairs.sources[target]) == len(real) == 24
    assert (plates[pairs.sources[target]] == plates[real]).all() and set(plates[real]) == {PLATES[2]}
    assert len(set(pairs.sources[target])) == 24 and not pairs.reused and not pairs.dropped
    # More real images than controls on the plate: the order starts again, and the reuse is counted.
    doubled = match_batches(dataset, control, {target: np.concatenate([real, real])}, seed=0)
    assert doubled.reused == {"inert": 24}
    assert (doubled.sources[target][:24] == doubled.sources[target][24:]).all()
    assert match_batches(dataset, control, {target: real}, seed=1).sources[target].tolist() != pairs.sources[target].tolist()


def test_without_controls_on_a_plate_the_default_falls_back_and_an_explicit_request_refuses(tmp_path):
    release = make_impa_release(tmp_path / "rel", treatments=INERT, control_plates=PLATES[:2],
                                controls_per_plate=(4, 4), treated_per_plate=(4, 4))
    tiny = register_tiny_extractor()
    base = dict(translator="identity", dataset="bbbc021-impa", data=str(release.root), pairs="from-control",
                metrics=("fid",), store=str(tmp_path / "r.h5"), work_dir=str(tmp_path / "runs"), progress=False,
                dataset_config={"cache_dir": str(tmp_path / "cache")},
                metric_options={"fid": {"feature_extractor": tiny, "bootstrap": 0}})
    record = run_benchmark(RunConfig(**base), load_registries(entry_points=False)).record
    assert record.configs["pairing"]["batch_matched"] is False
    assert f"plate(s) {PLATES[2]} have test images of inert but no DMSO test image" in record.configs["pairing"]["reason"]
    with pytest.raises(DataError, match=f"Batch-matched pairs are impossible: plate\\(s\\) {PLATES[2]}.*--no-batch-matched"):
        run_benchmark(RunConfig(**base, match_batches=True), load_registries(entry_points=False))
