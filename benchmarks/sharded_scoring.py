"""Scoring time of a sharded run: CellProfiler metrics on 1 or N processes. Prints its figures; not a test.

    torchrun --standalone --nproc_per_node N benchmarks/sharded_scoring.py [--images 40]

Builds the identity translator's evaluation of a small synthetic world (`--images` test images per
condition, pairs from the control), then times what `phenbench run` does after translating: every
process shares the metrics' feature extraction (`Metric.prepare`), then rank 0 scores. Run it with
N = 1 and N = 2 one after the other for a ratio (each process uses one thread).
"""

from __future__ import annotations

import argparse
import time

import torch

from phenbench.core.evaluation_builder import build_evaluation, resolve_pairs
from phenbench.core.metric import Need
from phenbench.core.plugins import load_registries
from phenbench.core.runner import open_dataset
from phenbench.core.sharding import current_shard, wait_for_everyone
from phenbench.translators.identity.translator import IdentityConfig, IdentityTranslator

METRICS = ("fd-cellprofiler", "segmentation-failures", "source-fidelity", "cellprofiler")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=40, help="test images per condition")
    args = parser.parse_args()
    torch.set_num_threads(1)
    shard = current_shard()
    registries = load_registries(entry_points=False)
    world = {"image_size": 64, "train_per_condition": 4, "test_per_condition": args.images}
    dataset, _ = open_dataset(registries, "synthetic", None, world)
    evaluation, _ = build_evaluation(IdentityTranslator(IdentityConfig(), dataset.spec), dataset,
                                     resolve_pairs("from-control", dataset), {Need.REAL, Need.TRANSLATED, Need.SOURCE},
                                     batch_size=16, limit=None, seed=0, progress=False, shard=shard)
    metrics = {name: registries.metrics.load(name)(cache=False) for name in METRICS}
    wait_for_everyone(shard)
    start = time.perf_counter()
    if shard.count > 1:
        for metric in metrics.values():
            metric.prepare(evaluation, shard)
    prepared = time.perf_counter() - start
    if shard.is_main:
        for metric in metrics.values():
            metric.compute(evaluation)
        total = time.perf_counter() - start
        images = sum(len(b.translated) + len(b.real) for b in evaluation.bundles.values())
        print(f"{shard.count} process(es), {len(evaluation.bundles)} targets, {images} translated + real images: "
              f"shared extraction {prepared:.1f} s, scoring {total:.1f} s in all", flush=True)
    wait_for_everyone(shard)


if __name__ == "__main__":
    main()
