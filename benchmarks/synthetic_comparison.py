"""Every built-in translator's quick preset on the synthetic world, into one store, then compare.

    python benchmarks/synthetic_comparison.py [--store comparison.h5] [--translators identity,phendiff,...]

Each method is fitted from scratch with the same seed, the same world and the paper's pairs
(DMSO to each condition), so the rows of the table are comparable. Prints the pooled comparison
table (markdown), then each method's training time and translation throughput. Runs already in
the store are kept (delete the store to start over).
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

METHODS = ("identity", "phendiff", "stargan", "cyclegan", "phenex-w", "phenex-wplus")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="comparison.h5")
    parser.add_argument("--translators", default=",".join(METHODS))
    parser.add_argument("--work-dir", default="runs/comparison")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    registries = load_registries()
    costs = []
    for name in args.translators.split(","):
        config = RunConfig(
            translator=name, dataset="synthetic", preset="quick", pairs="from-control",
            seed=args.seed, store=args.store, work_dir=args.work_dir, progress=False,
        )
        begin = time.perf_counter()
        record = run_benchmark(config, registries).record
        wall = time.perf_counter() - begin
        costs.append((name, record.timings, wall))
        print(f"{name}: done in {wall:.0f} s", flush=True)

    print(comparison_text(ResultsStore(args.store), "markdown", dataset="synthetic", conditions="pooled"))
    print(f"\nMachine: {platform.processor() or platform.machine()}, {platform.system()}; wall times include scoring.")
    print("| method | fit (s) | translation (images/s) | NFE per image | whole run (s) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, timings, wall in costs:
        ips = timings.get("translate_images_per_second")
        print(f"| {name} | {timings.get('fit_seconds', 0):.0f} | {ips:.1f} | {timings.get('nfe_per_image', 0):.0f} | {wall:.0f} |"
              if ips else f"| {name} | {timings.get('fit_seconds', 0):.0f} | — | — | {wall:.0f} |")


if __name__ == "__main__":
    main()
