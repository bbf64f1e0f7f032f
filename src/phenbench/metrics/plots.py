"""Plots of a run (matplotlib, Agg backend): image grids, feature histograms, dose-response curves.

`write_plots(record, directory, evaluation=None)` writes PNG files from a stored run (a RunRecord,
or anything with `.metrics` and `.samples`) and, where given, the run's Evaluation:

- `grid.png`: example source images (first column) and the same cells translated to each target,
  shown through the fixed channel projection used for Inception (`projection.py`);
- `cellprofiler-histogram.png`: the distribution of per-feature correlations (`cellprofiler`);
- `fd-cellprofiler-features.png`: the features that contribute most to the CellProfiler distance;
- `dose-response-<compound>.png`: the most responsive features against concentration, real
  against translated (`dose-response`).

The numbers plotted are the metrics' own `arrays`, so they are also in the results store.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from phenbench.core.metric import Evaluation, MetricResult
from phenbench.metrics.projection import to_rgb_uint8


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: never needs a display
    import matplotlib.pyplot as plt

    return plt


def _rgb(image: np.ndarray | torch.Tensor) -> np.ndarray:
    tensor = torch.as_tensor(np.asarray(image, dtype=np.float32))[None]
    return to_rgb_uint8(tensor)[0].permute(1, 2, 0).numpy()


def grid_from_samples(samples: dict[str, dict[str, np.ndarray]], rows: int = 4) -> tuple[list[str], np.ndarray, dict]:
    """(targets, source images, target -> translated images) from a stored run's samples."""
    targets = sorted(samples)
    if not targets:
        return [], np.zeros((0,)), {}
    sources = np.asarray(samples[targets[0]]["source"])[:rows]
    translated = {t: np.asarray(samples[t]["translated"])[: len(sources)] for t in targets}
    return targets, sources, translated


def grid_from_evaluation(evaluation: Evaluation, rows: int = 4) -> tuple[list[str], np.ndarray, dict]:
    """The first `rows` sources of the first bundle and their translations in every bundle."""
    targets = list(evaluation.bundles)
    first = evaluation.bundles[targets[0]]
    sources = first.sources[:rows]
    translated = {}
    for target in targets:
        bundle = evaluation.bundles[target]
        picked = []
        for source in sources:  # the same cell may sit at another row in another bundle
            match = (bundle.sources == source).flatten(1).all(dim=1).nonzero()
            picked.append(bundle.translated[match[0, 0]] if len(match) else torch.full_like(source, -1.0))
        translated[target] = torch.stack(picked).numpy()
    return targets, sources.numpy(), translated


def plot_grid(targets: list[str], sources: np.ndarray, translated: dict, path: Path) -> Path:
    plt = _pyplot()
    rows, columns = len(sources), len(targets) + 1
    figure, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.6 * rows), squeeze=False)
    for r in range(rows):
        axes[r, 0].imshow(_rgb(sources[r]))
        for c, target in enumerate(targets, start=1):
            axes[r, c].imshow(_rgb(translated[target][r]))
    for c, title in enumerate(["source", *targets]):
        axes[0, c].set_title(title, fontsize=7)
    for axis in axes.flat:
        axis.set_axis_off()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def plot_histogram(result: MetricResult, path: Path) -> Path | None:
    if "histogram" not in result.arrays:
        return None
    plt = _pyplot()
    edges, counts = result.arrays["histogram_edges"], result.arrays["histogram"]
    figure, axis = plt.subplots(figsize=(5, 3))
    axis.bar(edges[:-1], counts, width=np.diff(edges), align="edge", edgecolor="black")
    median = result.pooled.value
    if median is not None:
        axis.axvline(median, color="red", label=f"median r = {median:.2f}")
        axis.legend(fontsize=8)
    axis.set_xlabel("Pearson r, real vs translated feature means across concentrations")
    axis.set_ylabel("features")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def plot_feature_contributions(result: MetricResult, path: Path, top: int = 15) -> Path | None:
    names = result.arrays.get("feature_names")
    terms = {k.split("/", 1)[1]: v for k, v in result.arrays.items() if k.startswith("mean_term/")}
    if names is None or not terms:
        return None
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(terms), figsize=(4.5 * len(terms), 4), squeeze=False)
    for axis, (condition, term) in zip(axes[0], terms.items()):
        order = np.argsort(-term)[:top][::-1]
        axis.barh([str(names[i]) for i in order], term[order])
        axis.set_title(condition, fontsize=8)
        axis.set_xlabel("(mean translated - mean real)^2, in SD^2")
        axis.tick_params(axis="y", labelsize=6)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def plot_dose_response(result: MetricResult, directory: Path, features: int = 4) -> list[Path]:
    names = result.arrays.get("feature_names")
    paths = []
    for key in result.arrays:
        if not key.startswith("concentrations/"):
            continue
        compound = key.split("/", 1)[1]
        doses = result.arrays[key]
        top = result.arrays[f"top-features/{compound}"][:features]
        real, translated = result.arrays[f"real-means/{compound}"], result.arrays[f"translated-means/{compound}"]
        plt = _pyplot()
        figure, axes = plt.subplots(1, len(top), figsize=(3.2 * len(top), 3), squeeze=False)
        for j, (axis, feature) in enumerate(zip(axes[0], top)):
            axis.plot(doses, real[:, j], "o-", label="real")
            axis.plot(doses, translated[:, j], "s--", label="translated")
            axis.set_xscale("symlog", linthresh=max(float(np.min(doses[doses > 0], initial=1.0)), 1e-6))
            axis.set_title(str(names[feature]) if names is not None else f"feature {feature}", fontsize=6)
            axis.set_xlabel("concentration")
        axes[0, 0].set_ylabel("mean (standardised)")
        axes[0, 0].legend(fontsize=7)
        figure.suptitle(compound, fontsize=9)
        figure.tight_layout()
        path = directory / f"dose-response-{_file_safe(compound)}.png"
        figure.savefig(path, dpi=100)
        plt.close(figure)
        paths.append(path)
    return paths


def _file_safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in name)


def write_plots(record: Any, directory: str | Path, evaluation: Evaluation | None = None) -> list[Path]:
    """Write every plot the run's results allow; returns the files written."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    results: Sequence[MetricResult] = getattr(record, "metrics", record) or []
    written: list[Path] = []
    samples = getattr(record, "samples", None)
    if samples:
        grid = grid_from_samples(samples)
    elif evaluation is not None and evaluation.bundles:
        grid = grid_from_evaluation(evaluation)
    else:
        grid = ([], None, {})
    if grid[0]:
        written.append(plot_grid(*grid, directory / "grid.png"))
    for result in results:
        if result.name == "cellprofiler/median-r":
            written.append(plot_histogram(result, directory / "cellprofiler-histogram.png"))
        elif result.name == "fd-cellprofiler":
            written.append(plot_feature_contributions(result, directory / "fd-cellprofiler-features.png"))
        elif result.name == "dose-response/spearman-translated":
            written.extend(plot_dose_response(result, directory))
    return [p for p in written if p is not None]
