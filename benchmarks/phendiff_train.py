"""PhenDiff training throughput per preset on the synthetic set. Prints its figures; not a test.

    .venv/bin/python benchmarks/phendiff_train.py [--steps 5] [--presets quick small paper] [--mixed-precision bf16]

Times `steps` optimizer steps of a fresh fit (the first step, which warms up allocators, is
excluded) and prints images/s and the loss of the last step.
"""

from __future__ import annotations

import argparse
import time

import torch

from phenbench.core.translator import FitOptions
from phenbench.translators.phendiff.translator import PhenDiffTranslator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--presets", nargs="*", default=["quick", "small", "paper"])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--mixed-precision", default="no", choices=("no", "bf16", "fp16"),
                        help="bf16 also runs on CPUs (fast where they have AMX or AVX512-BF16)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from phenbench.datasets.synthetic.adapter import SyntheticDataset
    from phenbench.datasets.synthetic.config import SyntheticConfig

    data = SyntheticDataset(SyntheticConfig())
    print(f"synthetic {data.spec.image_size} px, {data.spec.num_channels} channels, batch {args.batch_size}, "
          f"threads {torch.get_num_threads()}, device {args.device}, mixed precision {args.mixed_precision}")
    for preset in args.presets:
        overrides = {"steps": 1, "batch_size": args.batch_size, "mixed_precision": args.mixed_precision}
        warm = PhenDiffTranslator(PhenDiffTranslator.config_for(preset, overrides), data.spec)
        warm.fit(data, FitOptions(progress=False, device=args.device))
        overrides["steps"] = args.steps
        model = PhenDiffTranslator(PhenDiffTranslator.config_for(preset, overrides), data.spec)
        start = time.perf_counter()
        report = model.fit(data, FitOptions(progress=False, device=args.device))
        seconds = time.perf_counter() - start
        params = sum(p.numel() for p in model.unet.parameters()) / 1e6
        print(f"{preset:6} {params:6.2f} M params  {seconds / args.steps:6.2f} s/step  "
              f"{report.images_per_second:7.2f} images/s  last loss {report.losses[-1]:.4f}", flush=True)


if __name__ == "__main__":
    main()
