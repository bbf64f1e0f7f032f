"""PhenDiff training throughput on the synthetic set: per preset, with batches read inline or ahead
by DataLoader workers, in fp32 and bf16. Prints its figures; not a test.

    .venv/bin/python benchmarks/phendiff_train.py [--steps 5] [--presets quick small paper]
        [--mixed-precision no bf16] [--loader-workers 0 2] [--repeats 3] [--device cuda]

Each variant times `steps` optimizer steps of a fresh fit (one warm-up fit of 1 step per preset
and precision first, to warm allocators). Variants are run in turn, `repeats` times, and the median
images/s of each is printed with its ratio to the first variant of its preset and precision: a
shared machine's load then weighs on every variant alike. Also printed: the seconds one batch
takes to read and flip on the main thread, the work the workers take off the training loop.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from phenbench.core.batch_plan import BatchPlan
from phenbench.core.step_loader import StepBatches, plan_rows
from phenbench.core.translator import FitOptions
from phenbench.translators.phendiff.translator import PhenDiffTranslator


def images_per_second(data, preset: str, overrides: dict, device: str, workers: int) -> tuple[float, float]:
    model = PhenDiffTranslator(PhenDiffTranslator.config_for(preset, overrides), data.spec)
    report = model.fit(data, FitOptions(progress=False, device=device, loader_workers=workers))
    return report.images_per_second, report.losses[-1]


def read_seconds(data, batch_size: int, reads: int = 20) -> float:
    labels = torch.as_tensor(data.labels("train"))
    batches = StepBatches(data, "train", labels, plan_rows(BatchPlan(len(labels), batch_size, 1, 0)), 0, 0, 2, 0.5)
    start = time.perf_counter()
    for step in range(reads):
        batches[step]
    return (time.perf_counter() - start) / reads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--presets", nargs="*", default=["quick", "small", "paper"])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--mixed-precision", nargs="*", default=["no"], choices=("no", "bf16", "fp16"),
                        help="bf16 also runs on CPUs (fast where they have AMX or AVX512-BF16)")
    parser.add_argument("--loader-workers", type=int, nargs="*", default=[0, 2])
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from phenbench.datasets.synthetic.adapter import SyntheticDataset
    from phenbench.datasets.synthetic.config import SyntheticConfig

    data = SyntheticDataset(SyntheticConfig())
    print(f"synthetic {data.spec.image_size} px, {data.spec.num_channels} channels, batch {args.batch_size}, "
          f"threads {torch.get_num_threads()}, device {args.device}, {args.steps} steps x {args.repeats} repeats")
    print(f"reading and flipping one batch on the main thread: {read_seconds(data, args.batch_size) * 1e3:.1f} ms")
    for preset in args.presets:
        for precision in args.mixed_precision:
            overrides = {"steps": 1, "batch_size": args.batch_size, "mixed_precision": precision}
            images_per_second(data, preset, overrides, args.device, 0)  # warm-up
            overrides["steps"] = args.steps
            runs: dict[int, list[float]] = {w: [] for w in args.loader_workers}
            for _ in range(args.repeats):
                for workers in args.loader_workers:
                    speed, loss = images_per_second(data, preset, overrides, args.device, workers)
                    runs[workers].append(speed)
            params = sum(p.numel() for p in PhenDiffTranslator(
                PhenDiffTranslator.config_for(preset, overrides), data.spec).unet.parameters()) / 1e6
            first = statistics.median(runs[args.loader_workers[0]])
            for workers, speeds in runs.items():
                median = statistics.median(speeds)
                print(f"{preset:6} {params:6.2f} M params  {precision:4}  loader workers {workers}: "
                      f"{median:7.2f} images/s (x{median / first:.2f}; runs {np.round(speeds, 2).tolist()})",
                      flush=True)


if __name__ == "__main__":
    main()
