"""Shipped protocols: options merged under the user's, published figures stored beside the measured
ones and shown column by column in `phenbench compare`."""

from __future__ import annotations

import pytest

from phenbench.core.compare import comparison_table, comparison_text
from phenbench.core.conditions import ConditionSet
from phenbench.core.errors import ConfigError, UnknownNameError
from phenbench.core.metric_result import MetricResult, MetricValue
from phenbench.core.run_config import load_run_config
from phenbench.core.store import ResultsStore, RunRecord, utc_now
from phenbench.protocols import load_protocol, protocol_names
from phenbench.protocols.published import other_methods_text, published_results

LATRUNCULIN = ConditionSet(["DMSO"] + [f"latrunculin B@{c:g}" for c in (0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30)])


def test_shipped_protocols_load_and_a_misspelled_one_gets_a_suggestion():
    assert protocol_names() == ["impa-bbbc021", "phendiff-paper"]
    with pytest.raises(UnknownNameError, match="Did you mean: impa-bbbc021"):
        load_run_config(None, protocol="impa-bbbc")


def test_the_users_options_go_on_top_of_the_protocols_key_by_key(tmp_path):
    config = load_run_config(None, protocol="impa-bbbc021", translator="identity")
    assert config.dataset == "bbbc021-impa" and config.pairs == "from-control" and config.match_batches is True
    assert config.dataset_config["conditions"] == "compound" and "latrunculin B" in config.dataset_config["held_out_compounds"]
    assert config.metric_options["fid"] == {"protocol": "impa-bbbc021"} and config.protocol == "impa-bbbc021"
    (tmp_path / "run.yaml").write_text("dataset_config: {held_out_compounds: [docetaxel]}\n"
                                       "metric_options: {fid: {allow_download: false}}\nmetrics: [fid, moa-accuracy]\n")
    config = load_run_config(tmp_path / "run.yaml", protocol="impa-bbbc021")
    assert config.dataset_config == {"conditions": "compound", "held_out_compounds": ["docetaxel"]}
    assert config.metric_options == {"fid": {"protocol": "impa-bbbc021", "allow_download": False}}  # kid dropped
    (tmp_path / "bad.yaml").write_text("metric_options: {fid: 3}\n")
    with pytest.raises(ConfigError, match="metric_options.fid must be a mapping"):
        load_run_config(tmp_path / "bad.yaml", protocol="impa-bbbc021")


def test_published_figures_map_c1_to_c8_onto_the_doses_in_increasing_order():
    protocol = load_protocol("phendiff-paper")
    by_name = {r.name: r for r in published_results(protocol, "phendiff", LATRUNCULIN)}
    fid = by_name["fid/per-class-mean (published)"]
    assert fid.per_condition["latrunculin B@0.01"].value == 22.19 and fid.per_condition["latrunculin B@30"].value == 16.6
    assert fid.pooled.value is None and "per concentration" in fid.pooled.missing
    assert "PhenDiff (Bourou et al., 2024)" in fid.unit
    assert by_name["reconstruction/l2-255 (published)"].pooled.value == 415.15
    assert [r.name for r in published_results(protocol, "cyclegan", LATRUNCULIN)] == ["fid/per-class-mean (published)"]
    assert published_results(protocol, "identity", LATRUNCULIN) == []
    three = ConditionSet(["DMSO", "latrunculin B@1", "latrunculin B@3", "latrunculin B@10"])
    [fid, _] = published_results(protocol, "phendiff", three)
    assert fid.per_condition == {} and "publishes 8 concentrations of latrunculin B; this data has 3" in fid.pooled.missing
    text = other_methods_text(load_protocol("impa-bbbc021"), {"phendiff", "identity"})
    assert "CellFlux: fid/overall 18.72; fid/per-class-mean 56.8; kid/overall 1.62; kid/per-class-mean 1.59" in text


def _record(run_id, translator, metrics):
    return RunRecord(run_id=run_id, translator=translator, dataset="bbbc021", status="complete", seed=0,
                     started=utc_now(), ended=utc_now(), configs={"data_spec": {"unseen": ["latrunculin B@30"]}},
                     versions={}, git_hash=None, dataset_hash="h", metrics=metrics)


def test_compare_puts_each_published_column_beside_its_measured_one_and_marks_held_out_conditions(tmp_path):
    store = ResultsStore(tmp_path / "r.h5")
    measured = MetricResult("fid/per-class-mean", False, {"latrunculin B@0.01": MetricValue(25.0, n=40),
                                                          "latrunculin B@30": MetricValue(19.0, n=40)},
                            MetricValue(22.0, n=80), rows_digest="r", options_digest="o")
    published = [r for r in published_results(load_protocol("phendiff-paper"), "phendiff", LATRUNCULIN)
                 if r.name.startswith("fid")]
    store.write(_record("20260101T000000-phendiff-bbbc021-0001", "phendiff", [measured, *published]))
    table = comparison_table(store)
    columns = [c for c in table.columns if c[1] in ("latrunculin B@0.01", "latrunculin B@30")]
    measured_name, published_name = "fid/per-class-mean", "fid/per-class-mean (published)"
    assert columns == [(measured_name, "latrunculin B@0.01"), (published_name, "latrunculin B@0.01"),
                       (measured_name, "latrunculin B@30"), (published_name, "latrunculin B@30")]
    assert [c[1] for c in table.columns if c[0] == published_name][1:] == list(LATRUNCULIN.names[1:])  # dose order
    text = comparison_text(store, "markdown")
    assert "| latrunculin B@0.01 · N=40 | latrunculin B@0.01 · published | latrunculin B@0.03 · published |" in text
    assert "latrunculin B@30 (held out) · N=40 | latrunculin B@30 (held out) · published" in text
    assert "| phendiff | 22 | — [1] | 25 | 22.19 | 21.18 |" in text
    assert "Held out of training (unseen compounds): latrunculin B@30" in text
    csv = comparison_text(store, "csv")
    assert "fid/per-class-mean (published)" in csv.splitlines()[0]


def test_a_method_the_source_does_not_publish_shows_why_its_published_cell_is_empty(tmp_path):
    store = ResultsStore(tmp_path / "r.h5")
    measured = MetricResult("reconstruction/l2-255", False, {}, MetricValue(500.0, n=32), rows_digest="r",
                            options_digest="o")
    published = [r for r in published_results(load_protocol("phendiff-paper"), "phendiff", LATRUNCULIN)
                 if r.name.startswith("reconstruction")]
    store.write(_record("20260101T000000-phendiff-bbbc021-0001", "phendiff", [measured, *published]))
    store.write(_record("20260101T000001-identity-bbbc021-0002", "identity", [measured]))
    text = comparison_text(store, "markdown")
    assert "| phendiff | 500 | 415.15 |" in text  # the figure as published, not rounded to 4 digits (415.1)
    assert "| identity | 500 | — [1] |" in text
    assert "- [1] the protocol's source publishes no figure for this method" in text
