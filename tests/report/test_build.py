"""The whole report: its table, grids and plots, offline, and its size for a run of 9 conditions."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from PIL import Image

from phenbench.core.compare import comparison_table
from phenbench.core.metric import MetricResult, MetricValue
from phenbench.core.store import ResultsStore
from phenbench.report import ReportOptions, build_report
from phenbench.report.data import load_report_data
from phenbench.report.plot_data import correlation_sets, metric_dose_series, sample_dose_series
from tests.report.conftest import CONDITIONS, all_pairs_samples, make_record, value
from tests.report.dom import external_references, page_facts


@pytest.fixture(scope="module")
def synthetic_report(synthetic_store, tmp_path_factory):
    path = build_report(synthetic_store, tmp_path_factory.mktemp("report"))
    return path.read_text(encoding="utf-8")


def _section(html: str, label: str) -> str:
    return html.split(f'data-method="{label}"', 1)[1].split("</section>", 1)[0]


def _decode(uri: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB"))


def test_report_shows_table_grids_and_plots_of_both_methods(synthetic_store, synthetic_report) -> None:
    facts = page_facts(synthetic_report)
    assert "comparison-table" in facts.ids
    assert facts.methods == ["channel-shift", "identity"]
    for anchor in ("method-channel-shift", "method-identity"):
        assert {f"grid-{anchor}", f"diff-{anchor}"} <= facts.ids
    # The table's numbers are the store's: identity's pooled counterfactual MSE, as compare prints it.
    table = comparison_table(synthetic_store)
    identity_mse = table.loc["identity", ("counterfactual/mse", "pooled")]
    [identity_row] = [row for row in facts.table_rows if row and row[0] == "identity"]
    assert identity_row[1].startswith(f"{identity_mse:.4g}")
    # Dose-response from the stored images, one figure per compound; no feature-correlation data.
    assert facts.compounds == ["shrinkin", "dispersin"]
    assert facts.absent == ["Dose-response of measured features", "Histogram of feature correlations"]
    # Every tile has the composite and each of the 3 channels alone.
    assert facts.classes["v-composite"] == facts.classes["v-c0"] == facts.classes["v-c2"] > 0
    assert all(src.startswith("data:image/png;base64,") for src in facts.img_sources)


def test_report_works_offline(synthetic_report) -> None:
    assert external_references(synthetic_report) == []
    assert "<script" not in synthetic_report  # nothing to run, nothing to fetch
    assert external_references('<img src="https://cdn.example/x.png">')  # the check itself can fail


def test_identity_changes_nothing_and_its_difference_maps_are_white(synthetic_report) -> None:
    section = _section(synthetic_report, "identity")
    differences = set(re.findall(r'class="diff"[^>]*src="([^"]+)"', section))
    assert len(differences) == 1  # every translated-minus-source map is the same blank strip
    assert (_decode(differences.pop()) > 240).all()
    shifted = set(re.findall(r'class="diff"[^>]*src="([^"]+)"', _section(synthetic_report, "channel-shift")))
    assert len(shifted) > 1


def test_sample_dose_response_is_the_mean_of_the_stored_images(synthetic_store) -> None:
    data = load_report_data(synthetic_store)
    [dna_shrinkin] = [s for s in sample_dose_series(data) if s.compound == "shrinkin" and "DNA" in s.quantity]
    assert dna_shrinkin.conditions == ["DMSO", "shrinkin@0.1", "shrinkin@0.3", "shrinkin@1", "shrinkin@3"]
    record = synthetic_store.read(synthetic_store.run_ids()[-1], samples=True)
    for condition, real in zip(dna_shrinkin.conditions, dna_shrinkin.real):
        assert real == pytest.approx(record.samples[condition]["real"][:, 0].astype(np.float64).mean())
    translated = dna_shrinkin.translated["identity"]
    identity = synthetic_store.read(synthetic_store.run_ids()[0], samples=True)
    assert translated[-1] == pytest.approx(identity.samples["shrinkin@3"]["translated"][:, 0].astype(np.float64).mean())


def _store_with_arrays(tmp_path) -> ResultsStore:
    rng = np.random.default_rng(0)
    store = ResultsStore(tmp_path / "r.h5")
    for index, (translator, shift) in enumerate([("good", 0.2), ("identity", 0.0)]):
        arrays = {"feature_names": np.array([b"area", b"intensity"]), "feature_correlation": rng.uniform(-1, 1, 30)}
        for k, condition in enumerate(CONDITIONS):
            arrays[f"real/{condition}"] = np.array([10.0 * k, 1.0])
            arrays[f"translated/{condition}"] = np.array([10.0 * k * shift, 1.0])
        metrics = [
            MetricResult("dose-response", True, {c: value(0.9) for c in CONDITIONS}, value(0.9), arrays=arrays),
            MetricResult("fid", False, {"DMSO": value(3.0), "drug@1": MetricValue.absent("needs Inception weights"),
                                        "drug@10": value(2.0)}, value(2.5)),
        ]
        samples = all_pairs_samples(rng, n=2, shift=shift)
        store.write(make_record(f"run-{index}", translator, samples, metrics=metrics))
    return store


def test_plots_from_metric_arrays_and_missing_values_with_reasons(tmp_path) -> None:
    store = _store_with_arrays(tmp_path)
    data = load_report_data(store)
    [area, other] = metric_dose_series(data)  # both features fit under the per-compound cap
    assert area.quantity == "area" and area.conditions == CONDITIONS
    assert area.real == [0.0, 10.0, 20.0] and area.translated["good"] == pytest.approx([0.0, 2.0, 4.0])
    [correlations] = correlation_sets(data)
    assert set(correlations.values) == {"good", "identity"} and len(correlations.values["good"]) == 30

    html = build_report(store, tmp_path / "out").read_text(encoding="utf-8")
    facts = page_facts(html)
    assert facts.absent == []
    assert facts.classes["correlation-histogram"] == 1
    assert facts.compounds == ["drug", "drug"]  # from the metric's arrays, and from the stored images
    [good_row] = [row for row in facts.table_rows if row and row[0] == "good"]
    assert "—" in good_row[-2]  # fid at drug@1 is missing ...
    assert "needs Inception weights" in "".join(facts.text)  # ... and the page says why


def _nine_condition_store(tmp_path, size: int, runs: int = 1) -> ResultsStore:
    """Runs of 9 conditions with 8 images of every kind per condition, uniform noise (PNG's worst case)."""
    rng = np.random.default_rng(0)
    names = ["DMSO"] + [f"{c}@{d}" for c in ("a", "b") for d in (0.1, 0.3, 1, 3)]
    store = ResultsStore(tmp_path / "r.h5")
    for index in range(runs):
        kinds = ("translated", "real", "reconstruction", "counterfactual")
        samples = {t: {k: rng.uniform(-1, 1, (8, 3, size, size)).astype(np.float16) for k in kinds} for t in names}
        control = rng.uniform(-1, 1, (8, 3, size, size)).astype(np.float16)
        for target in names:
            samples[target]["source"] = control if target != "DMSO" else samples["a@0.1"]["real"]
        store.write(make_record(f"run-{index}", f"method{index}", samples, conditions=names, image_size=size))
    return store


def test_report_of_a_run_of_nine_conditions_stays_under_20_mb(tmp_path) -> None:
    """96 x 96 x 3 noise, every kind of sample stored (reconstructions, counterfactuals): the
    default report shows everything it asks for and stays under 20 MB."""
    store = _nine_condition_store(tmp_path, 96)
    html = build_report(store, tmp_path / "out").read_text(encoding="utf-8")
    size = len(html.encode("utf-8"))
    assert 5e6 < size < 20e6, f"report is {size / 1e6:.1f} MB"
    assert "size-note" not in html
    facts = page_facts(html)
    assert facts.classes["row-translated"] == facts.classes["row-counterfactual"] == 6
    assert facts.classes["row-real"] == facts.classes["row-reconstruction"] == 3


def test_a_page_over_its_size_budget_shows_fewer_rows_and_says_so(tmp_path) -> None:
    store = _nine_condition_store(tmp_path, 24, runs=2)
    full = build_report(store, tmp_path / "full").stat().st_size
    html = build_report(store, tmp_path / "out", ReportOptions(max_megabytes=full / 2e6)).read_text(encoding="utf-8")
    assert len(html.encode("utf-8")) <= full / 2
    facts = page_facts(html)
    assert "size-note" in facts.ids
    shown = facts.classes["row-translated"] // 2
    assert 1 <= shown < 6 and f"shows {shown} of the 6 source images" in html
