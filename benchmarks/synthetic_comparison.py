"""Every built-in translator's quick preset on the synthetic world, into one store, then compare.

    python benchmarks/synthetic_comparison.py [--store comparison.h5] [--translators identity,phendiff,...]

Each method is fitted from scratch with the same seed, the same world and the paper's pairs
(DMSO to each condition), so the rows of the table are comparable; phenex-wplus loads the
generator phenex-w trained (the two differ only in the projection space). `identity` and
`real-target` are the two baselines (copy the source; a random real training image of the
target). Prints the headline table, the pooled comparison table (markdown), then each method's
training time, translation throughput and time to invert (project) one image. Runs already in the
store are kept (delete the store to start over).
"""

from __future__ import annotations

import argparse
import platform
import time

from phenbench.core.compare import comparison_text
from phenbench.core.plugins import load_registries
from phenbench.core.run_config import RunConfig
from phenbench.core.runner import run_benchmark
from phenbench.core.store import ResultsStore

METHODS = ("identity", "real-target", "phendiff", "stargan", "cyclegan", "phenex-w", "phenex-wplus")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="comparison.h5")
    parser.add_argument("--translators", default=",".join(METHODS))
    parser.add_argument("--work-dir", default="runs/comparison")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    registries = load_registries()
    costs, model_dirs = [], {}
    for name in args.translators.split(","):
        checkpoint = model_dirs.get("phenex-w") if name == "phenex-wplus" else None
        baseline = name in ("identity", "real-target")  # nothing to train: no presets
        config = RunConfig(
            translator=name, dataset="synthetic", preset=None if checkpoint or baseline else "quick", pairs="from-control",
            seed=args.seed, store=args.store, work_dir=args.work_dir, progress=False,
            checkpoint=str(checkpoint) if checkpoint else None,
        )
        begin = time.perf_counter()
        outcome = run_benchmark(config, registries)
        wall = time.perf_counter() - begin
        if outcome.model_dir is not None:
            model_dirs[name] = outcome.model_dir / "model"
        costs.append((name, outcome.record.timings, wall))
        print(f"{name}: done in {wall:.0f} s", flush=True)

    print(comparison_text(ResultsStore(args.store), "markdown", dataset="synthetic", headline=True))
    print(comparison_text(ResultsStore(args.store), "markdown", dataset="synthetic", conditions="pooled"))
    print(f"\nMachine: {platform.processor() or platform.machine()}, {platform.system()}; wall times include scoring.")
    print("| method | fit (s) | translation (images/s) | inversion (s per image) | NFE per image | whole run (s) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, timings, wall in costs:
        cells = [
            f"{timings['fit_seconds']:.0f}" if "fit_seconds" in timings else "loaded",
            _figure(timings.get("translate_images_per_second"), ".1f"),
            _figure(timings.get("invert_seconds_per_image"), ".2f"),
            _figure(timings.get("nfe_per_image"), ".0f"),
            f"{wall:.0f}",
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")


def _figure(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


if __name__ == "__main__":
    main()
