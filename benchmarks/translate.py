"""Benchmark: `phenbench translate` throughput (images/s) for each translator's quick preset on CPU.

For each registered built-in translator: build it from its `quick` preset at 64 x 64, 3 channels,
4 conditions (DMSO and three doses), fit ONE step on random images (inference cost does not
depend on training; the GANs and CycleGAN need a fit to build their pair models), save it, and
time `translate_folder` on a folder of 16-bit TIFFs: one target, then a 3-dose series (with its
default figures: a PNG, an SVG, the panels' .npy and a GIF per input, and a 12-row contact sheet). Times include reading, preprocessing, writing and the manifest, not the fit.

Run from the repository root:  python benchmarks/translate.py [--images 32] [--batch-size 16]
                                [--translators identity,stargan,...]
                                python benchmarks/translate.py --memory 64,1024   (peak memory)
Prints its figures; the measured ones are in docs/benchmarks/translate.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CONDITIONS = ("DMSO", "drug@0.3", "drug@1", "drug@10")
CHANNELS = ("DNA", "tubulin", "actin")
SIZE = 64
# One fit step: enough to build every network and pair model; schedules shortened to match.
ONE_STEP = {
    "identity": {},
    "phendiff": {"steps": 1, "lr_warmup_steps": 0},
    "stargan": {"steps": 1, "decay_steps": 0},
    "cyclegan": {"steps": 1, "decay_steps": 0},
    "phenex-w": {"steps": 1},
    "phenex-wplus": {"steps": 1},
}


def saved_model(name: str, directory: Path) -> Path:
    import torch

    from phenbench.imaging.normalization import Normalization
    from phenbench.core.conditions import ConditionSet
    from phenbench.core.dataset import DataSpec
    from phenbench.core.plugins import load_registries
    from phenbench.core.translator import FitOptions
    from phenbench.datasets.in_memory import InMemoryDataset

    spec = DataSpec(CHANNELS, SIZE, ConditionSet(CONDITIONS))
    n = 16 * len(CONDITIONS)
    labels = [i % len(CONDITIONS) for i in range(n)]
    images = torch.rand(n, len(CHANNELS), SIZE, SIZE, generator=torch.Generator().manual_seed(0)) * 2 - 1
    data = InMemoryDataset(spec, {"train": images, "test": images}, {"train": labels, "test": labels})
    cls = load_registries(entry_points=False).translators.load(name)
    translator = cls(cls.config_for("quick" if cls.presets else None, ONE_STEP[name]), spec)  # identity has none
    pairs = tuple((0, t) for t in range(1, len(CONDITIONS)))
    translator.fit(data, FitOptions(seed=0, progress=False, pairs=pairs))
    translator.save(directory)
    Normalization(CHANNELS, (0.0,) * 3, (65535.0,) * 3, origin="benchmark").save(directory)
    return directory


def write_inputs(folder: Path, count: int) -> None:
    import numpy as np
    import tifffile

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        tifffile.imwrite(folder / f"cell_{i:04d}.tif", rng.integers(0, 65535, size=(3, SIZE, SIZE), dtype=np.uint16),
                         photometric="minisblack")


def bench(name: str, work: Path, images: Path, batch_size: int, model_only: bool = True) -> tuple[float, float, float]:
    import torch

    from phenbench.apply.runner import TranslateOptions, load_translator, translate_folder

    model = saved_model(name, work / name / "model")
    # the model alone, on random [-1, 1] batches of the same size: what the pipeline adds is the rest
    translator = load_translator(model)
    count = len(list(images.glob("*.tif")))
    start = time.perf_counter()
    with torch.no_grad():
        for first in range(0, count if model_only else 0, batch_size):
            n = min(batch_size, count - first)
            translator.translate(torch.rand(n, len(CHANNELS), SIZE, SIZE) * 2 - 1, "DMSO", "drug@1")
    rates = [count / (time.perf_counter() - start) if model_only else float("nan")]
    for label, extra in (("one", {"targets": ("drug@1",)}), ("series", {"dose_series": "drug"})):
        options = TranslateOptions(checkpoint=model, images=images, out=work / name / label, source="DMSO",
                                   batch_size=batch_size, progress=False, **extra)
        start = time.perf_counter()
        report = translate_folder(options)
        rates.append(report.images / (time.perf_counter() - start))
    return rates[0], rates[1], rates[2]


MEMORY_SCRIPT = """
import resource, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, {repo!r})
import torch
torch.set_num_threads(1)
from benchmarks.translate import saved_model, write_inputs
from phenbench.apply.runner import TranslateOptions, translate_folder
work = Path(tempfile.mkdtemp())
write_inputs(work / "in", {count})
model = saved_model("identity", work / "model")
start = time.perf_counter()
translate_folder(TranslateOptions(checkpoint=model, images=work / "in", out=work / "out", source="DMSO",
                                  targets=("drug@1", "drug@10"), batch_size=16, progress=False))
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def bench_memory(counts: list[int]) -> None:
    """Peak memory of an identity job in a fresh process: bounded streaming keeps it flat in N."""
    import subprocess

    print(f"{'images':>8}{'seconds':>10}{'peak RSS MiB':>14}   (identity, 2 targets, batch 16, fresh process)")
    for count in counts:
        code = MEMORY_SCRIPT.format(repo=str(REPO), count=count)
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        seconds, peak = map(float, done.stdout.split()[-2:])
        print(f"{count:>8}{seconds:>10.1f}{peak:>14.0f}", flush=True)


FIGURE_OUTPUTS = {"figure": "png", "gif": "gif", "figure-svg": "svg", "panels": "npy"}


def bench_figures(repeats: int = 5) -> None:
    """Seconds per input of a 3-dose series' figure outputs (64 x 64 x 3 random panels, 256 px)."""
    import numpy as np

    from phenbench.apply.series import write_series_outputs
    from phenbench.imaging.figures import FigureStyle, Series

    rng = np.random.default_rng(0)
    source = rng.uniform(-1, 0.2, (3, SIZE, SIZE)).astype(np.float32)
    series = Series(source, np.stack([source + 0.2 * k for k in (1, 2, 3)]), "DMSO", CONDITIONS[1:],
                    caption="bench, 1 NFE", name="cell.tif")
    work = Path(tempfile.mkdtemp())
    print(f"{'outputs':<36}{'difference rows':>16}{'s per input':>13}")
    for differences in (False, True):
        style = FigureStyle(differences=differences)
        write_series_outputs(series, CHANNELS, style, {"figure": work / "warm.png"})  # imports, fonts
        for kinds in (("figure",), ("figure", "gif"), ("figure", "figure-svg", "panels", "gif")):
            start = time.perf_counter()
            for i in range(repeats):
                write_series_outputs(series, CHANNELS, style,
                                     {k: work / f"{i}.{FIGURE_OUTPUTS[k]}" for k in kinds})
            seconds = (time.perf_counter() - start) / repeats
            print(f"{' + '.join(FIGURE_OUTPUTS[k] for k in kinds):<36}{str(differences):>16}{seconds:>13.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--translators", default=",".join(ONE_STEP))
    parser.add_argument("--skip-model-only", action="store_true", help="Leave out the model-only column (slow methods).")
    parser.add_argument("--memory", default="", help="Comma-separated image counts: measure peak memory instead.")
    parser.add_argument("--figures", action="store_true", help="Time a dose series' figure outputs instead.")
    args = parser.parse_args()
    if args.figures:
        bench_figures()
        return
    if args.memory:
        bench_memory([int(c) for c in args.memory.split(",")])
        return

    import torch

    torch.set_num_threads(args.threads)
    print(f"{args.images} 16-bit TIFFs, 3 x {SIZE} x {SIZE}, batch {args.batch_size}, {args.threads} torch thread(s)")
    print(f"{'translator':<14}{'model only img/s':>18}{'1 target img/s':>16}{'3-dose series img/s':>22}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_inputs(work / "in", args.images)
        for name in args.translators.split(","):
            model, one, series = bench(name, work, work / "in", args.batch_size, not args.skip_model_only)
            print(f"{name:<14}{model:>18.2f}{one:>16.2f}{series:>22.2f}", flush=True)


if __name__ == "__main__":
    main()
