"""The whole report: its table, grids and plots, offline, and its size for a run of 9 conditions."""

from __future__ import annotations

import base64
import io
import os
import re

import numpy as np
import pytest
from PIL import Image

from phenbench.core.compare import FLOOR_ROW, comparison_table
from phenbench.core.compare_costs import COST_COLUMNS
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


def table_metrics(store: ResultsStore) -> set[str]:
    return {metric for metric, _ in comparison_table(store).columns}


def _section(html: str, label: str) -> str:
    return html.split(f'data-method="{label}"', 1)[1].split("</section>", 1)[0]


def _pictures(html: str) -> dict[str, str]:
    """CSS class -> data URI of every tile picture in the page's style sheet."""
    return dict(re.findall(r'\.(p\d+) \{ background-image: url\("([^"]+)"\); \}', html))


def _difference_pictures(html: str, section: str) -> set[str]:
    pictures = _pictures(html)
    return {pictures[name] for name in re.findall(r'class="im diff (p\d+)"', section)}


def _decode(uri: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB"))


def test_report_shows_table_grids_and_plots_of_both_methods(synthetic_store, synthetic_report) -> None:
    facts = page_facts(synthetic_report)
    assert {"summary-table", "comparison-table"} <= facts.ids
    summary = synthetic_report.split('id="summary-table"', 1)[1].split("</table>", 1)[0]
    # One pooled column per measure, then the three costs (fit time, images/s, inversion time).
    shown = len(table_metrics(synthetic_store)) + len(COST_COLUMNS)
    assert summary.count('class="condition"') == summary.count(">pooled<") == shown
    assert all(column in summary for column in COST_COLUMNS)
    # Pooled floors (cellprofiler: two halves of the real cells) fill the floor row of the summary too.
    assert FLOOR_ROW in summary and any(row[0] == FLOOR_ROW for row in facts.table_rows)
    assert facts.methods == ["channel-shift", "identity"]
    for anchor in ("method-channel-shift", "method-identity"):
        assert {f"grid-{anchor}", f"diff-{anchor}"} <= facts.ids
    # The table's numbers are the store's: identity's pooled counterfactual MSE, as compare prints it.
    table = comparison_table(synthetic_store)
    identity_mse = table.loc["identity", ("counterfactual/mse", "pooled")]
    [identity_row] = [row for row in facts.table_rows if row and row[0] == "identity"]
    assert identity_row[1].startswith(f"{identity_mse:.4g}")
    # Dose-response per compound from the metric's arrays, then from the stored images; the
    # histogram of feature correlations from the `cellprofiler` metric.
    assert facts.compounds == ["shrinkin", "dispersin"] * 2
    assert facts.absent == [] and facts.classes["correlation-histogram"] == 1
    # Both translators invert: real images of each condition with their reconstructions, 3 each.
    assert facts.classes["row-real"] == facts.classes["row-reconstruction"] == 2 * 3
    # Pairs from DMSO only: nothing was translated to DMSO, and the page says so.
    assert "No images were translated to DMSO" in synthetic_report
    # Every tile has the composite and each of the 3 channels alone.
    assert facts.classes["v-composite"] == facts.classes["v-c0"] == facts.classes["v-c2"] > 0
    assert all(src.startswith("data:image/png;base64,") for src in facts.img_sources)


def test_report_works_offline(synthetic_report) -> None:
    assert external_references(synthetic_report) == []
    assert "<script" not in synthetic_report  # nothing to run, nothing to fetch
    assert external_references('<img src="https://cdn.example/x.png">')  # the check itself can fail


def test_identity_changes_nothing_and_its_difference_maps_are_white(synthetic_report) -> None:
    differences = _difference_pictures(synthetic_report, _section(synthetic_report, "identity"))
    assert len(differences) == 1  # every translated-minus-source map is the same blank strip
    strip = _decode(differences.pop())
    white, gap = (strip > 240).all(axis=-1), (strip == 150).all(axis=-1)
    assert (white | gap).all() and white.sum() == 3 * 32 * 32  # three white 32 x 32 panels, grey gaps
    assert len(_difference_pictures(synthetic_report, _section(synthetic_report, "channel-shift"))) > 1


def test_pictures_shared_by_methods_are_written_once(synthetic_report) -> None:
    """Sources, real images and true counterfactuals are the same test images in both runs."""
    facts = page_facts(synthetic_report)
    pictures = _pictures(synthetic_report)
    assert all(uri.startswith("data:image/png;base64,") for uri in pictures.values())
    assert len(set(pictures.values())) == len(pictures)  # no picture twice
    tiles = facts.classes["im"]
    assert tiles > 2 * len(pictures) * 0.6
    # Every picture a tile names is defined.
    assert set(re.findall(r'class="im [^"]*?(p\d+)"', synthetic_report)) == set(pictures)


def test_sample_dose_response_is_the_mean_of_the_stored_images(synthetic_store) -> None:
    data = load_report_data(synthetic_store)
    [dna_shrinkin] = [s for s in sample_dose_series(data) if s.compound == "shrinkin" and "DNA" in s.quantity]
    assert dna_shrinkin.conditions == ["DMSO", "shrinkin@0.1", "shrinkin@0.3", "shrinkin@1", "shrinkin@3"]
    identity = synthetic_store.read(synthetic_store.run_ids()[0], samples=True)
    assert identity.translator == "identity"
    # From-control runs store DMSO images as the sources of every target: the real control point.
    assert dna_shrinkin.real[0] == pytest.approx(identity.samples["shrinkin@1"]["source"][:, 0].astype(np.float64).mean())
    for condition, real in zip(dna_shrinkin.conditions[1:], dna_shrinkin.real[1:]):
        assert real == pytest.approx(identity.samples[condition]["real"][:, 0].astype(np.float64).mean())
    translated = dna_shrinkin.translated["identity"]
    assert translated[0] is None  # nothing was translated to DMSO
    assert translated[-1] == pytest.approx(identity.samples["shrinkin@3"]["translated"][:, 0].astype(np.float64).mean())


def test_metric_dose_response_and_histogram_are_the_stored_arrays(synthetic_store) -> None:
    data = load_report_data(synthetic_store)
    stored = {m.label: {r.name: r for r in m.record.metrics} for m in data.methods}
    dose = stored["channel-shift"]["dose-response/spearman-translated"].arrays
    series = [s for s in metric_dose_series(data) if s.compound == "dispersin"]
    assert 1 <= len(series) <= 4
    first = series[0]
    assert first.quantity == str(dose["feature_names"][dose["top-features/dispersin"][0]])
    assert first.conditions == ["DMSO", "dispersin@0.03", "dispersin@0.1", "dispersin@0.3", "dispersin@1"]
    assert first.real == pytest.approx(list(dose["real-means/dispersin"][:, 0]))
    assert first.translated["channel-shift"] == pytest.approx(list(dose["translated-means/dispersin"][:, 0]))
    [histogram] = correlation_sets(data)
    cellprofiler = stored["channel-shift"]["cellprofiler/median-r"]
    assert histogram.metric == "cellprofiler/median-r"
    assert np.array_equal(histogram.counts["channel-shift"], cellprofiler.arrays["histogram"])
    assert histogram.medians["channel-shift"] == cellprofiler.pooled.value
    assert histogram.medians["identity"] is None and "do not vary" in histogram.missing["identity"]


def _store_with_arrays(tmp_path) -> ResultsStore:
    """Hand-made arrays in the formats of `dose-response` and `cellprofiler`."""
    rng = np.random.default_rng(0)
    store = ResultsStore(tmp_path / "r.h5")
    for index, (translator, shift) in enumerate([("good", 0.2), ("identity", 0.0)]):
        dose_arrays = {
            "feature_names": np.array(["area", "intensity", "texture"]),
            "concentrations/drug": np.array([0.0, 1.0, 10.0]),
            "top-features/drug": np.array([2, 0]),
            "real-means/drug": np.array([[0.0, 5.0], [10.0, 5.0], [20.0, 5.0]]),
            "translated-means/drug": np.array([[0.0, 5.0], [10.0 * shift, 5.0], [20.0 * shift, 5.0]]),
        }
        histogram = {"histogram_edges": np.linspace(-1, 1, 5), "histogram": np.array([1, 2, 3, 4 * index]),
                     "undefined/drug": np.array([index])}
        metrics = [
            MetricResult("dose-response/spearman-translated", True, {"drug": value(0.9)}, value(0.9), arrays=dose_arrays),
            MetricResult("cellprofiler/median-r", True, {"drug": value(0.5)}, value(0.5), arrays=histogram),
            MetricResult("fid", False, {"DMSO": value(3.0), "drug@1": MetricValue.absent("needs Inception weights"),
                                        "drug@10": value(2.0)}, value(2.5)),
        ]
        samples = all_pairs_samples(rng, n=2, shift=shift)
        store.write(make_record(f"run-{index}", translator, samples, metrics=metrics))
    return store


def test_plots_from_metric_arrays_and_missing_values_with_reasons(tmp_path) -> None:
    store = _store_with_arrays(tmp_path)
    data = load_report_data(store)
    [texture, area] = metric_dose_series(data)
    assert (texture.quantity, area.quantity) == ("texture", "area")
    assert texture.conditions == CONDITIONS
    assert texture.real == [0.0, 10.0, 20.0] and texture.translated["good"] == pytest.approx([0.0, 2.0, 4.0])
    assert area.translated["identity"] == [5.0, 5.0, 5.0]
    [histogram] = correlation_sets(data)
    assert histogram.undefined == {"good": 0, "identity": 1}
    assert list(histogram.counts["identity"]) == [1, 2, 3, 4]

    html = build_report(store, tmp_path / "out").read_text(encoding="utf-8")
    facts = page_facts(html)
    assert facts.absent == []
    assert facts.classes["correlation-histogram"] == 1
    assert "identity: 10 features with a correlation, 1 without" in html
    assert facts.compounds == ["drug", "drug"]  # from the metric's arrays, and from the stored images
    [good_row] = [row for row in facts.table_rows if row and row[0] == "good"]
    assert "—" in good_row[-2]  # fid at drug@1 is missing ...
    assert "needs Inception weights" in "".join(facts.text)  # ... and the page says why


def test_plots_without_data_are_said_absent(tmp_path) -> None:
    store = ResultsStore(tmp_path / "r.h5")
    store.write(make_record("run-a", "identity", all_pairs_samples(np.random.default_rng(0))))
    facts = page_facts(build_report(store, tmp_path / "out").read_text(encoding="utf-8"))
    assert facts.absent == ["Dose-response of measured features", "Histogram of feature correlations"]
    assert facts.compounds == ["drug"]  # the stored images still give a dose-response of pixel values


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
    written = build_report(store, tmp_path / "full")
    full = written.stat().st_size
    umask = os.umask(0)
    os.umask(umask)
    assert written.stat().st_mode & 0o777 == 0o666 & ~umask  # shareable, not mkstemp's private 0600
    html = build_report(store, tmp_path / "out", ReportOptions(max_megabytes=full / 2e6)).read_text(encoding="utf-8")
    assert len(html.encode("utf-8")) <= full / 2
    facts = page_facts(html)
    assert "size-note" in facts.ids
    shown = facts.classes["row-translated"] // 2
    assert 1 <= shown < 6 and f"shows {shown} of the 6 source images" in html


@pytest.mark.parametrize("channels", [("Golgi",), ("DNA", "ER", "RNA", "AGP", "Mito", "actin")])
def test_any_channel_count_and_conditions_without_doses(tmp_path, channels) -> None:
    conditions = ["DMSO", "nocodazole"]  # two classes, no dose axis (as the Golgi set)
    samples = all_pairs_samples(np.random.default_rng(0), n=2, channels=len(channels), conditions=conditions)
    store = ResultsStore(tmp_path / "r.h5")
    store.write(make_record("run-a", "identity", samples, conditions=conditions, channels=channels))
    failed = make_record("run-b", "broken", {}, conditions=conditions, channels=channels)
    failed.status, failed.error = "failed", "the GPU caught fire"
    store.write(failed)
    html = build_report(store, tmp_path / "out").read_text(encoding="utf-8")
    facts = page_facts(html)
    views = 1 if len(channels) == 1 else 1 + len(channels)  # a lone channel is its own composite
    tiles = facts.classes["v-composite"]
    assert tiles > 0 and sum(facts.classes[f"v-c{k}"] for k in range(len(channels))) == tiles * (views - 1)
    assert facts.absent[0] == "Dose-response plots" and "have no doses" in html
    assert "Failed run not shown: run-b (broken): the GPU caught fire" in "".join(facts.text)
    assert facts.methods == ["identity"]


def test_every_method_grid_starts_from_the_same_cells(synthetic_report) -> None:
    row = r'<tr class="row-translated"><th scope="row">[^<]*</th><td class="tile"[^>]*>(.*?)</td>'
    leads = [re.findall(row, _section(synthetic_report, label)) for label in ("channel-shift", "identity")]
    assert len(leads[0]) == 6 and leads[0] == leads[1]
