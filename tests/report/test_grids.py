"""Placing stored images in a method's grids: sources found again under every target."""

from __future__ import annotations

import numpy as np

from phenbench.report.grids import build_grids, choose_sources, image_key
from tests.report.conftest import CONDITIONS, all_pairs_samples


def test_sources_are_matched_across_targets_and_their_condition_recognised() -> None:
    samples = all_pairs_samples(np.random.default_rng(0), n=2)
    picks = choose_sources(samples, CONDITIONS, 2)
    # DMSO's two images are sources of both drug targets: the most widely translated, first stored.
    assert [p.condition for p in picks] == ["DMSO", "DMSO"]
    for k, pick in enumerate(picks):
        assert np.array_equal(pick.image, samples["DMSO"]["real"][k])
        assert pick.where == {"drug@1": k, "drug@10": k}
    more = choose_sources(samples, CONDITIONS, 6)
    assert [p.condition for p in more] == ["DMSO", "DMSO", "drug@1", "drug@1", "drug@10", "drug@10"]
    assert more[2].where == {"DMSO": 0, "drug@10": 2}


def test_image_grid_rows_and_cells() -> None:
    samples = all_pairs_samples(np.random.default_rng(1), n=2, shift=0.25)
    for target in CONDITIONS:
        samples[target]["reconstruction"] = samples[target]["real"][::-1].copy()
    grids = build_grids(samples, CONDITIONS, sources=2, real_per_condition=1)
    kinds = [row.kind for row in grids.images]
    assert kinds == ["translated", "translated", "real", "reconstruction"]
    first = grids.images[0]
    assert np.array_equal(first.lead.image, samples["DMSO"]["real"][0])
    assert first.tiles[0].image is None and first.tiles[0].note == "source's own condition"
    expected = np.clip(samples["DMSO"]["real"][0].astype(np.float32) + 0.25, -1, 1).astype(np.float16)
    assert np.array_equal(first.tiles[2].image, expected)  # drug@10 column: translation of source 1
    real_row, reconstruction_row = grids.images[2], grids.images[3]
    for column, target in enumerate(CONDITIONS):
        assert np.array_equal(real_row.tiles[column].image, samples[target]["real"][0])
        assert np.array_equal(reconstruction_row.tiles[column].image, samples[target]["real"][1])  # reversed
    difference = grids.differences[0].tiles[1].difference_of
    assert np.array_equal(difference[0], samples["drug@1"]["translated"][0])
    assert np.array_equal(difference[1], samples["DMSO"]["real"][0])


def test_counterfactual_rows_follow_their_sources() -> None:
    samples = all_pairs_samples(np.random.default_rng(2), n=1)
    for target in CONDITIONS:
        samples[target]["counterfactual"] = -samples[target]["source"]
    grids = build_grids(samples, CONDITIONS, sources=1, real_per_condition=0)
    assert [row.kind for row in grids.images] == ["translated", "counterfactual"]
    assert np.array_equal(grids.images[1].tiles[1].image, -samples["drug@1"]["source"][0])


def test_targets_a_run_did_not_translate_to_are_said_not_invented() -> None:
    rng = np.random.default_rng(3)
    sources = rng.uniform(-1, 1, (2, 3, 8, 8)).astype(np.float16)
    samples = {t: {"source": sources, "translated": sources, "real": sources} for t in ("drug@1", "drug@10")}
    grids = build_grids(samples, CONDITIONS, sources=2, real_per_condition=1)  # pairs: from-control
    assert "No images were translated to DMSO" in grids.notes[0]
    assert grids.images[0].tiles[0].note == "not translated to this condition"
    assert grids.images[-1].tiles[0].note == "no real image stored"
    assert all(t.image is not None for t in grids.images[0].tiles[1:])


def test_from_control_sources_stand_for_the_control_s_real_images() -> None:
    rng = np.random.default_rng(4)
    sources = rng.uniform(-1, 1, (2, 3, 8, 8)).astype(np.float16)
    samples = {t: {"source": sources, "translated": sources, "real": sources[::-1]} for t in ("drug@1", "drug@10")}
    grids = build_grids(samples, CONDITIONS, sources=2, real_per_condition=2, source_condition="DMSO")
    assert grids.images[0].tiles[0].note == "source's own condition"
    real_rows = [row for row in grids.images if row.kind == "real"]
    assert [np.array_equal(row.tiles[0].image, sources[j]) for j, row in enumerate(real_rows)] == [True, True]
    assert np.array_equal(real_rows[0].tiles[1].image, sources[1])


def test_preferred_sources_come_first_where_stored() -> None:
    samples = all_pairs_samples(np.random.default_rng(5), n=2)
    usual = choose_sources(samples, CONDITIONS, 2)
    wanted = [image_key(samples["DMSO"]["real"][1]), "not-stored", image_key(samples["drug@10"]["real"][0])]
    picks = choose_sources(samples, CONDITIONS, 3, preferred=wanted)
    assert [image_key(p.image) for p in picks] == [wanted[0], wanted[2], image_key(usual[0].image)]
    assert picks[1].condition == "drug@10"
