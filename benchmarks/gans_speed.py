"""StarGAN and CycleGAN: seconds per training iteration and translation images/s, by preset and size.

Times a few training iterations (after a warm-up fit of one iteration) and the translation of a
batch, on random data, so a full fit can be extrapolated: steps x s/step (CycleGAN: per pair model,
times the number of pair models the run needs).

    .venv/bin/python benchmarks/gans_speed.py --preset quick --sizes 64 --channels 3 --threads 2
"""

from __future__ import annotations

import argparse
import time

import torch

from phenbench.core.translator import FitOptions
from phenbench.datasets.in_memory import random_dataset
from phenbench.translators.cyclegan.translator import CycleGANTranslator
from phenbench.translators.stargan.translator import StarGANTranslator


def measure(cls, preset: str, size: int, channels: int, steps: int, translate_images: int) -> dict:
    data = random_dataset(channels=channels, image_size=size, per_condition=16)
    pairs = ((0, 1),)  # CycleGAN: one pair model; StarGAN ignores pairs
    warm = cls(cls.config_for(preset, {"steps": 1, "decay_steps": 0}), data.spec)
    warm.fit(data, FitOptions(progress=False, pairs=pairs))  # allocations, first-call overheads
    timed = cls(cls.config_for(preset, {"steps": steps, "decay_steps": 0}), data.spec)
    report = timed.fit(data, FitOptions(progress=False, pairs=pairs))
    images = torch.cat([data.read("test", list(range(len(data.labels("test")))))] * 4)[:translate_images]
    timed.translate(images[:2], 0, 1)  # warm-up
    began = time.perf_counter()
    timed.translate(images, 0, 1)
    translate_seconds = time.perf_counter() - began
    config = cls.config_for(preset)
    # CycleGAN's paper schedule is in epochs: its length depends on the data (taken as 1,000 images per domain).
    preset_steps = config.steps if config.steps is not None else config.schedule(1000).steps
    per_step = report.seconds / steps
    return {
        "translator": cls.name,
        "preset": preset,
        "size": size,
        "channels": channels,
        "batch": config.batch_size,
        "train s/step": round(per_step, 3),
        "train img/s": round(report.images_per_second or 0.0, 1),
        f"fit at preset ({preset_steps} steps), min": round(per_step * preset_steps / 60, 1),
        "translate img/s": round(len(images) / translate_seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64])
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--translate-images", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch threads: {torch.get_num_threads()}")
    for size in args.sizes:
        for cls in (StarGANTranslator, CycleGANTranslator):
            row = measure(cls, args.preset, size, args.channels, args.steps, args.translate_images)
            print("  ".join(f"{k}: {v}" for k, v in row.items()))


if __name__ == "__main__":
    main()
