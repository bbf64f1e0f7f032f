"""Phenexplain's cost per training step and per projection step, by preset and image size.

Times a few training steps (after one warm-up step) and a few projection steps on random data, so
the time of a full run can be extrapolated: training steps x s/step, and projection_steps x
s/(image x step) per projected image.

    .venv/bin/python benchmarks/phenexplain_speed.py --preset quick --sizes 32 64 --channels 3
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch

from phenbench.core.translator import FitOptions
from phenbench.datasets.in_memory import random_dataset
from phenbench.translators.phenexplain.translator import PhenexWPlusTranslator, PhenexWTranslator


def measure(preset: str, size: int, channels: int, steps: int, projection_steps: int) -> dict:
    data = random_dataset(channels=channels, image_size=size, per_condition=16)
    overrides = {"steps": 1, "centre_samples": 256, "perceptual_weight": 0.0}
    translator = PhenexWTranslator(PhenexWTranslator.config_for(preset, overrides), data.spec)
    translator.fit(data, FitOptions(progress=False))  # warm-up: allocations, first-call overheads
    timed = PhenexWTranslator(dataclasses.replace(translator.config, steps=steps + 1), data.spec)
    report = timed.fit(data, FitOptions(progress=False))
    step_seconds = (report.seconds - report.extra["centre_seconds"]) / (steps + 1)
    row = {
        "preset": preset, "size": size, "channels": channels, "batch": timed.hp.batch_size,
        "G params": sum(p.numel() for p in timed.G.parameters()),
        "D params": sum(p.numel() for p in timed.D.parameters()),
        "train s/step": round(step_seconds, 3),
        "train img/s": round(timed.hp.batch_size / step_seconds, 1),
    }
    images = data.read("test", list(range(min(16, len(data.labels("test"))))))
    for cls in (PhenexWTranslator, PhenexWPlusTranslator):
        config = dataclasses.replace(timed.config, projection_steps=projection_steps)
        projector = cls(config, data.spec)
        projector.G_ema, projector.centres, projector.spreads = timed.G_ema, timed.centres, timed.spreads
        began = time.perf_counter()
        projector.project(images, 0)
        per_image_step = (time.perf_counter() - began) / (len(images) * projection_steps)
        row[f"{cls.name} s/(img*step)"] = round(per_image_step, 5)
        row[f"{cls.name} s/img at preset"] = round(per_image_step * timed.config.projection_steps, 2)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--projection-steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for size in args.sizes:
        print(measure(args.preset, size, args.channels, args.steps, args.projection_steps), flush=True)


if __name__ == "__main__":
    main()
