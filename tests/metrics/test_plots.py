"""Plots are written as real PNG files from metric results, stored samples and an Evaluation."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib.image
import numpy as np

from phenbench.metrics.cellprofiler import CellProfilerCorrelation
from phenbench.metrics.dose_response import DoseResponse
from phenbench.metrics.fd_cellprofiler import FDCellProfiler
from phenbench.metrics.plots import write_plots
from tests.metrics.test_cellprofiler import _evaluation


def test_write_plots_from_results_and_evaluation(tmp_path, monkeypatch):
    monkeypatch.setenv("PHENBENCH_CACHE", str(tmp_path / "cache"))
    evaluation = _evaluation(lambda c: c)
    results = [
        *CellProfilerCorrelation().compute(evaluation),
        *FDCellProfiler(bootstrap=0, components=2).compute(evaluation),
        *DoseResponse(bootstrap=0, top_features=3).compute(evaluation),
    ]
    written = write_plots(SimpleNamespace(metrics=results, samples={}), tmp_path / "plots", evaluation)
    names = sorted(p.name for p in written)
    assert names == ["cellprofiler-histogram.png", "dose-response-drug.png", "fd-cellprofiler-features.png", "grid.png"]
    grid = matplotlib.image.imread(written[[p.name for p in written].index("grid.png")])
    assert grid.shape[:2] == (640, 640)  # 4 rows (examples) x 4 columns (source + 3 targets), 160 px each
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_grid_from_a_stored_run_with_six_channels(tmp_path):
    rng = np.random.default_rng(0)
    samples = {t: {"source": rng.uniform(-1, 1, (3, 6, 8, 8)), "translated": rng.uniform(-1, 1, (3, 6, 8, 8))}
               for t in ("a@1", "a@2")}
    written = write_plots(SimpleNamespace(metrics=[], samples=samples), tmp_path)
    assert [p.name for p in written] == ["grid.png"]
