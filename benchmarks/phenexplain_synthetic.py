"""Phenexplain (W and W+) end to end on the synthetic world: training, projection time, metrics.

Trains one conditional StyleGAN2 through the runner as `phenex-w`, then evaluates the same trained
generator as `phenex-wplus` (it loads phenex-w's saved model: the two translators train
identically, they differ only in projection), and the identity baseline for reference. Prints the
figures that docs/benchmarks/phenexplain.md records.

    .venv/bin/python benchmarks/phenexplain_synthetic.py --steps 600 --image-size 32 --test 8
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from phenbench.core.run_config import RunConfig
from phenbench.core.runner import run_benchmark

METRICS = ("reconstruction", "counterfactual", "phenotype-shift")


def run(translator: str, args: argparse.Namespace, **extra) -> dict:
    config = RunConfig(
        translator=translator,
        dataset="synthetic",
        dataset_config={"image_size": args.image_size},
        preset=None if translator == "identity" else args.preset,
        translator_config={} if translator == "identity" else overrides(args),
        metrics=METRICS if translator != "identity" else ("counterfactual", "phenotype-shift"),
        pairs="from-control",
        store=str(args.work / "results.h5"),
        work_dir=str(args.work / "runs"),
        max_test_per_condition=args.test,
        progress=False,
        device="cpu",
        seed=args.seed,
        **extra,
    )
    began = time.perf_counter()
    outcome = run_benchmark(config)
    row = {"translator": translator, "wall_seconds": round(time.perf_counter() - began, 1)}
    row.update({k: round(v, 4) for k, v in outcome.record.timings.items()})
    for metric in outcome.record.metrics:
        row[metric.name] = None if metric.pooled.value is None else round(metric.pooled.value, 4)
        if metric.pooled.value is None:
            row[metric.name + " (missing)"] = metric.pooled.missing
    row["model_dir"] = str(outcome.model_dir) if outcome.model_dir else None
    return row


def overrides(args: argparse.Namespace) -> dict:
    values = {"steps": args.steps}
    if args.projection_steps is not None:
        values["projection_steps"] = args.projection_steps
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--test", type=int, default=8, help="test images per condition")
    parser.add_argument("--projection-steps", type=int, default=None, help="default: the preset's")
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path("/tmp/phenexplain_benchmark"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.work.mkdir(parents=True, exist_ok=True)

    rows = [run("phenex-w", args, resume=False)]
    print(json.dumps(rows[-1]), flush=True)
    rows.append(run("phenex-wplus", args, checkpoint=str(Path(rows[0]["model_dir"]) / "model")))
    print(json.dumps(rows[-1]), flush=True)
    rows.append(run("identity", args))
    print(json.dumps(rows[-1]), flush=True)

    targets = 8  # from-control on the default world: DMSO to each of 8 compound@dose conditions
    print("\ntranslator | fit s | fit img/s | projection s/img | recon MSE | CF MSE | phenotype shift")
    for row in rows:
        # Reconstruction = one projection + one render per real test image of each target.
        per_image = row.get("reconstruct_seconds", 0.0) / (args.test * targets)
        print(" | ".join(str(x) for x in (
            row["translator"], row.get("fit_seconds"), row.get("fit_images_per_second"), round(per_image, 3),
            row.get("reconstruction/mse"), row.get("counterfactual/mse"), row.get("phenotype-shift"),
        )))


if __name__ == "__main__":
    main()
