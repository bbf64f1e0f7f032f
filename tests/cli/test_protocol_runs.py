"""The two shipped protocols end to end through the command line, on generated miniature releases
(tiny settings): IMPA's layout with identity and PhenDiff quick, and the PhenDiff paper's raw
latrunculin B release, prepared then run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from phenbench.cli import build_cli
from phenbench.core.store import ResultsStore
from tests.datasets.bbbc021 import mini_release
from tests.datasets.bbbc021.mini_impa import make_impa_release
from tests.metrics.helpers import register_tiny_extractor
from tests.torch_threads import one_torch_thread  # noqa: F401 (autouse fixture)

TINY_PHENDIFF = "translator_config: {steps: 4, batch_size: 8, inversion_steps: 2, inference_steps: 2}\n"


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(build_cli(), list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def offline(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no Inception weights there
    monkeypatch.setenv("PHENBENCH_CACHE", str(tmp_path / "features"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_impa_protocol_runs_identity_and_phendiff_and_compare_shows_its_measures(offline):
    release = make_impa_release(offline / "bbbc021_mini")
    (offline / "run.yaml").write_text(
        "dataset_config: {held_out_compounds: [docetaxel], image_size: 16, cache_dir: cache}\n" + TINY_PHENDIFF
        + "max_test_per_condition: 6\nmetric_options:\n  fid: {allow_download: false, bootstrap: 0}\n"
        "  kid: {allow_download: false, bootstrap: 0}\n  moa-accuracy: {bootstrap: 0}\n")
    output = _invoke("run", "--protocol", "impa-bbbc021", "--config", "run.yaml", "--translator", "phendiff",
                     "--preset", "quick", "--data", str(release.root), "--device", "cpu", "-q")
    assert "Identity baseline on the same rows" in output and "CellFlux: fid/overall 18.72" in output
    store = ResultsStore(offline / "results.h5")
    runs = store.runs_frame()
    assert sorted(runs.translator) == ["identity", "phendiff"] and set(runs.status) == {"complete"}
    record = store.read(runs.run_id[runs.translator == "phendiff"].iloc[0])
    assert record.configs["pairing"]["batch_matched"] is True and record.configs["run"]["protocol"] == "impa-bbbc021"
    assert record.configs["dataset"]["held_out_compounds"] == ["docetaxel"]
    text = _invoke("compare", "--all")
    for block in ("#### fid/overall ↓", "#### fid/per-class-mean ↓", "#### moa-accuracy ↑", "#### moa-accuracy/ceiling ↑",
                  "#### moa-accuracy/floor ↑"):
        assert block in text
    assert "Inception weights unavailable" in text  # FIDo/FIDc offline: missing, with the reason
    assert "docetaxel (held out)" in text and "Held out of training (unseen compounds): docetaxel" in text
    assert "phendiff learns one embedding per condition it trains on and cannot condition on docetaxel" in text
    values = store.metrics_frame()
    moa = values[(values.metric == "moa-accuracy") & ~values.is_floor].set_index(["translator", "condition"])
    # identity scores the held-out compound; phendiff cannot condition on it: missing, not dropped
    assert moa.loc[("identity", "docetaxel"), "value"] >= 0 and pd.isna(moa.loc[("phendiff", "docetaxel"), "value"])
    ceiling = values[values.metric == "moa-accuracy/ceiling"].set_index(["translator", "condition"])
    assert ceiling.loc[("identity", "pooled"), "value"] == ceiling.loc[("phendiff", "pooled"), "value"] > 0.5
    published = values[values.metric == "fid/overall (published)"]
    assert list(published.translator) == ["phendiff"] and published.value.iloc[0] == 48.25


def test_phendiff_paper_protocol_runs_on_a_raw_miniature_and_shows_published_beside_measured(offline, monkeypatch):
    monkeypatch.setattr(mini_release, "HEIGHT", 400)  # small fields: 4 nuclei each
    monkeypatch.setattr(mini_release, "WIDTH", 400)
    doses = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
    fields = [mini_release.FieldSpec("Week1_22123", f"B0{w}", "DMSO", 0.0) for w in (2, 3)]
    fields += [mini_release.FieldSpec("Week1_22123", f"{row}0{w}", "latrunculin B", dose)
               for row, dose in zip("CDEFGHIJ", doses) for w in (2, 3)]
    mini_release.make_release(offline / "BBBC021", fields=tuple(fields), nuclei=4)
    _invoke("data", "prepare", "bbbc021", "--root", "BBBC021", "--out", "bbbc021.h5", "--subset", "latrunculin-b",
            "--crop-size", "48", "-q")
    tiny = register_tiny_extractor()  # measured FIDs offline: an injected extractor, as the metric tests do
    (offline / "run.yaml").write_text("dataset_config: {image_size: 16}\n" + TINY_PHENDIFF
                                      + f"metric_options:\n  fid: {{feature_extractor: {tiny}, bootstrap: 0}}\n")
    output = _invoke("run", "--protocol", "phendiff-paper", "--config", "run.yaml", "--translator", "phendiff",
                     "--preset", "quick", "--data", "bbbc021.h5", "--device", "cpu", "-q")
    assert "phendiff's published figures sit beside its measured ones in that table" in output
    values = ResultsStore(offline / "results.h5").metrics_frame()
    mine = values[(values.translator == "phendiff") & ~values.is_floor].set_index(["metric", "condition"])
    for dose, published in zip(doses, (22.19, 21.18, 22.19, 21.41, 23.37, 18.38, 14.26, 16.6)):
        condition = f"latrunculin B@{dose:g}"
        assert mine.loc[("fid/per-class-mean (published)", condition), "value"] == published
        assert mine.loc[("fid/per-class-mean", condition), "value"] > 0  # measured, with the tiny extractor
    assert mine.loc[("reconstruction/l2-255 (published)", "pooled"), "value"] == 415.15
    text = _invoke("compare", "--all", "--dataset", "bbbc021")
    assert "| latrunculin B@0.01 · N=4 | latrunculin B@0.01 · published |" in text
    assert "| pooled · N=32 | pooled · published |" in text  # reconstruction/l2-255: measured, then published
