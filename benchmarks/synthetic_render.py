"""Benchmark of the synthetic world: rendering and readout speed, and the dose response it shows.

Prints: ms per image to render (32, 64, 128 px) and to measure readouts; the time to render the
whole default world; and, per condition, the mean shift of each compound's readouts from DMSO in
units of the DMSO image-to-image spread (measured on images of the same cells, rendered under each
condition). `--montage PATH` also writes a PNG with one field per condition (actin red, tubulin
green, DNA blue) for a look by eye.

    .venv/bin/python benchmarks/synthetic_render.py [--montage /tmp/synthetic.png]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import numpy as np
import torch

from phenbench.datasets.synthetic.adapter import SyntheticDataset
from phenbench.datasets.synthetic.config import SyntheticConfig


def per_image_ms(world: SyntheticDataset, n: int) -> tuple[float, float, float, float]:
    """Milliseconds per image to render `n` test images and to measure their readouts, each as
    CPU time of this process (steady on a shared machine) and as wall time."""
    rows = np.arange(n) % len(world.labels("test"))
    cpu, wall = time.process_time(), time.perf_counter()
    images = torch.from_numpy(np.stack([world._render("test", int(r), None) for r in rows]))
    render_cpu, render_wall = time.process_time() - cpu, time.perf_counter() - wall
    cpu, wall = time.process_time(), time.perf_counter()
    world.phenotype_readouts(images)
    readout_cpu, readout_wall = time.process_time() - cpu, time.perf_counter() - wall
    return tuple(1e3 * t / n for t in (render_cpu, render_wall, readout_cpu, readout_wall))


def dose_table(world: SyntheticDataset) -> None:
    rows = world.rows("train", "DMSO")
    names, control = world.phenotype_readouts(world.read("train", rows))
    spread = control.std(axis=0)
    effects = world.effects()
    print(f"\nDose response on images ({len(rows)} DMSO training fields rendered under each condition):")
    print("mean readout shift from DMSO / DMSO image-to-image SD")
    for compound in world.conditions.compounds():
        readouts = list(effects.loc[effects["compound"] == compound, "readout"])
        print(f"  {compound:<14} {'hill':>6} " + " ".join(f"{r:>20}" for r in readouts))
        for condition in world.conditions.dose_series(compound):
            _, treated = world.phenotype_readouts(world.counterfactuals("train", rows, condition))
            shifts = [(treated[:, names.index(r)] - control[:, names.index(r)]).mean() / spread[names.index(r)]
                      for r in readouts]
            print(f"  {condition:<14} {world.hill_fraction(condition):6.3f} " + " ".join(f"{s:20.2f}" for s in shifts))


def montage(world: SyntheticDataset, path: str, fields: int = 3) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = world.rows("test", "DMSO")[:fields]
    names = world.conditions.names
    figure, axes = plt.subplots(fields, len(names), figsize=(1.6 * len(names), 1.6 * fields), squeeze=False)
    for j, condition in enumerate(names):
        images = world.counterfactuals("test", rows, condition).numpy()
        for i, image in enumerate(images):
            axes[i, j].imshow(((image + 1) / 2).transpose(1, 2, 0)[..., ::-1])  # actin R, tubulin G, DNA B
            axes[i, j].axis("off")
        axes[0, j].set_title(condition, fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    print(f"\nMontage written to {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--montage", help="write a PNG of one field per condition here")
    parser.add_argument("--images", type=int, default=200, help="images per timing")
    args = parser.parse_args()
    torch.set_num_threads(1)

    print(f"Per image (ms), single thread, CPU time (wall time); load average {os.getloadavg()[0]:.1f}:")
    for size in (32, 64, 128):
        world = SyntheticDataset(dataclasses.replace(SyntheticConfig(), image_size=size))
        render_cpu, render_wall, readout_cpu, readout_wall = per_image_ms(world, args.images)
        print(f"  {size:>3} x {size:<3} render {render_cpu:6.2f} ({render_wall:6.2f})   "
              f"readouts {readout_cpu:6.2f} ({readout_wall:6.2f})")

    world = SyntheticDataset()
    start = time.perf_counter()
    for split in world.splits():
        world.read(split, world.rows(split))
    total = sum(len(world.labels(s)) for s in world.splits())
    print(f"\nDefault world ({len(world.conditions)} conditions, {total} images at 64 x 64): "
          f"rendered in {time.perf_counter() - start:.2f} s")
    dose_table(world)
    if args.montage:
        montage(world, args.montage)


if __name__ == "__main__":
    main()
