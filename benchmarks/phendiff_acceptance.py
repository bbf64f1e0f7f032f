"""PhenDiff (or another translator) against the identity baseline on the synthetic world's ground truth,
per preset and seed.

    python benchmarks/phendiff_acceptance.py [--translator phendiff] [--presets quick,small] [--seeds 0,1,2]
        [--store acceptance.h5] [--checkpoint small:0=runs/.../model ...]

`--translator cellflux --presets quick` gives CellFlux's rows against the same bar.

Each (preset, seed) is fitted with `phenbench run` semantics (pairs from-control: DMSO to each of the
8 treated conditions, 16 test images each) and scored into one store, where the runner also scores
the identity baseline on the same rows. `--checkpoint PRESET:SEED=DIR` scores a model already
trained with that preset and seed instead of fitting it again. Prints one row per run with the
measures of the PhenDiff bar and whether each holds:

- phenotype-error below identity's, fd-cellprofiler below identity's;
- phenotype-shift between 0.6 and 1.4;
- reconstruction PSNR at least 35 dB;
- per-channel contrast of the translations within 10% of the true counterfactuals' (0.9 to 1.1).

Not a test: the figures go to docs/benchmarks.md with the machine they ran on.
"""

from __future__ import annotations

import argparse
import platform
import time

from phenbench.core.baseline import ensure_identity_baseline
from phenbench.core.plugins import load_registries
from phenbench.core.run_config import RunConfig
from phenbench.core.runner import run_benchmark
from phenbench.core.store import ResultsStore

MEASURES = ("phenotype-shift", "phenotype-error", "fd-cellprofiler", "reconstruction/psnr",
            "counterfactual/psnr", "counterfactual/contrast-DNA", "counterfactual/contrast-tubulin",
            "counterfactual/contrast-actin")


def checks(values: dict[str, float], identity: dict[str, float]) -> dict[str, bool]:
    contrast = [values[m] for m in MEASURES if m.startswith("counterfactual/contrast")]
    return {
        "error < identity": values["phenotype-error"] < identity["phenotype-error"],
        "fd < identity": values["fd-cellprofiler"] < identity["fd-cellprofiler"],
        "shift in [0.6, 1.4]": 0.6 <= values["phenotype-shift"] <= 1.4,
        "recon >= 35 dB": values["reconstruction/psnr"] >= 35,
        "contrast within 10%": all(0.9 <= c <= 1.1 for c in contrast),
    }


def pooled(store: ResultsStore, run_id: str) -> dict[str, float]:
    frame = store.metrics_frame([run_id])
    frame = frame[(frame["condition"] == "pooled") & ~frame["is_floor"]]
    return {m: float(frame.loc[frame["metric"] == m, "value"].iloc[0]) if (frame["metric"] == m).any()
            else float("nan") for m in MEASURES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--translator", default="phendiff")
    parser.add_argument("--presets", default="quick,small")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--store", default="acceptance.h5")
    parser.add_argument("--work-dir", default="runs/acceptance")
    parser.add_argument("--checkpoint", action="append", default=[], metavar="PRESET:SEED=DIR")
    args = parser.parse_args()
    saved = {key: path for key, _, path in (c.partition("=") for c in args.checkpoint)}

    registries = load_registries()
    store = ResultsStore(args.store)
    rows = []
    for preset in args.presets.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            checkpoint = saved.get(f"{preset}:{seed}")
            config = RunConfig(translator=args.translator, dataset="synthetic", preset=None if checkpoint else preset,
                               pairs="from-control", seed=seed, store=args.store, work_dir=args.work_dir,
                               progress=False, checkpoint=checkpoint)
            begin = time.perf_counter()
            outcome = run_benchmark(config, registries)
            wall = time.perf_counter() - begin
            # As `phenbench run` does: the identity run on the same rows (found in the store or scored now).
            baseline, _ = ensure_identity_baseline(config, outcome.record, registries)
            rows.append((preset, seed, outcome.record.run_id, baseline, outcome.record.timings, wall, checkpoint))
            print(f"{preset} seed {seed}: {outcome.record.run_id} in {wall:.0f} s", flush=True)

    short = ["shift", "error", "fd-cp", "recon dB", "cf dB", "contrast D/T/A"]
    print(f"\nMachine: {platform.machine()}, {platform.system()}. Each run against the identity baseline "
          "scored on its own rows (the world is the same for every run seed: its own seed is a dataset option).")
    print("| preset | seed | fit (s) | translation (images/s) | NFE | " + " | ".join(short) + " | identity error / fd-cp | bar |")
    print("| --- | ---: | ---: | ---: | ---: | " + " | ".join(["---:"] * (len(short) + 1)) + " | --- |")
    for preset, seed, run_id, baseline, timings, wall, checkpoint in rows:
        v = pooled(store, run_id)
        identity = pooled(store, baseline)
        held = checks(v, identity)
        failed = [name for name, ok in held.items() if not ok]
        fit = f"{timings['fit_seconds']:.0f}" if "fit_seconds" in timings else f"loaded ({checkpoint})"
        speed = timings.get("translate_images_per_second")
        fit += f" | {speed:.1f}" if speed is not None else " | —"
        fit += f" | {timings['nfe_per_image']:.0f}" if timings.get("nfe_per_image") is not None else " | —"
        cells = [f"{v['phenotype-shift']:.2f}", f"{v['phenotype-error']:.2f}", f"{v['fd-cellprofiler']:.0f}",
                 f"{v['reconstruction/psnr']:.1f}", f"{v['counterfactual/psnr']:.1f}",
                 "/".join(f"{v[m]:.2f}" for m in MEASURES[5:])]
        cells.append(f"{identity['phenotype-error']:.2f} / {identity['fd-cellprofiler']:.0f}")
        print(f"| {preset} | {seed} | {fit} | " + " | ".join(cells) + " | "
              + ("all hold" if not failed else "fails: " + ", ".join(failed)) + " |")


if __name__ == "__main__":
    main()
