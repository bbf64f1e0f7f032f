"""Phenexplain's cost per training step and per projection step, by preset and image size.

Times a few training steps (after a one-step warm-up fit) and a few projection steps on random
data, so the time of a full run can be extrapolated: training steps x s/step, and
projection_steps x s/(image x step) per projected image. Each figure is given twice: wall-clock
seconds and CPU seconds of this process (`time.process_time`). On a machine shared with other jobs
the wall time depends on the load; with one torch thread the CPU time does not, so compare CPU
times between runs taken under different loads.

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


def _parameters(translator, report, network: str) -> int | None:
    """Parameter count of G or D, from the fit report (or, in older versions, the translator)."""
    count = report.extra.get(f"{network}_parameters")
    if count is None and hasattr(translator, network):
        count = sum(p.numel() for p in getattr(translator, network).parameters())
    return count


def measure(preset: str, size: int, channels: int, steps: int, projection_steps: int) -> dict:
    data = random_dataset(channels=channels, image_size=size, per_condition=16)
    # Few centre samples: their cost stays negligible beside the timed training steps.
    overrides = {"steps": 1, "centre_samples": 64, "perceptual_weight": 0.0, "mse_weight": 1.0}
    translator = PhenexWTranslator(PhenexWTranslator.config_for(preset, overrides), data.spec)
    translator.fit(data, FitOptions(progress=False))  # warm-up: allocations, first-call overheads
    timed = PhenexWTranslator(dataclasses.replace(translator.config, steps=steps + 1), data.spec)
    wall, cpu = time.perf_counter(), time.process_time()
    report = timed.fit(data, FitOptions(progress=False))
    wall, cpu = (time.perf_counter() - wall) / (steps + 1), (time.process_time() - cpu) / (steps + 1)
    row = {
        "preset": preset, "size": size, "channels": channels, "batch": timed.hp.batch_size,
        "G params": _parameters(timed, report, "G"), "D params": _parameters(timed, report, "D"),
        "train s/step": round(wall, 3), "train CPU s/step": round(cpu, 3),
        "train img/s": round(timed.hp.batch_size / wall, 1),
    }
    images = data.read("test", list(range(min(16, len(data.labels("test"))))))
    for cls in (PhenexWTranslator, PhenexWPlusTranslator):
        config = dataclasses.replace(timed.config, projection_steps=projection_steps)
        projector = cls(config, data.spec)
        projector.G_ema, projector.centres, projector.spreads = timed.G_ema, timed.centres, timed.spreads
        wall, cpu = time.perf_counter(), time.process_time()
        projector.project(images, 0)
        scale = len(images) * projection_steps
        wall, cpu = (time.perf_counter() - wall) / scale, (time.process_time() - cpu) / scale
        row[f"{cls.name} s/(img*step)"] = round(wall, 5)
        row[f"{cls.name} CPU s/(img*step)"] = round(cpu, 5)
        row[f"{cls.name} CPU s/img at preset"] = round(cpu * timed.config.projection_steps, 2)
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
