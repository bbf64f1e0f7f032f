"""Benchmark of the metrics' heavy parts: CellProfiler and Inception features, and the cache.

Prints images/s for CellProfiler features (cp-measure + scikit-image) on real BBBC021 crops, for
Inception-v3 features (torch-fidelity's architecture at 299 x 299 on CPU), and the time a second
run saves by reading real-image features from the statistics cache.

No Inception weights exist on the development machines, so the Inception timing uses the same
architecture with random weights: the cost of a forward pass does not depend on the weights. The
FID values it prints are meaningless; only the times are figures.

    .venv/bin/python benchmarks/metrics.py [--crops 100] [--inception-images 100]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for the crop loader of the tests

RANDOM_INCEPTION = "inception-v3-random-weights"


def register_random_inception(tmp: Path) -> str:
    """torch-fidelity's Inception-v3 with random weights, registered under its own name."""
    from phenbench.core.torch_compat import ensure_torchvision_importable

    ensure_torchvision_importable()
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

    class RandomInception(FeatureExtractorInceptionV3):
        def load_state_dict(self, state_dict, strict=True, assign=False):  # keep the random init
            return None

    if RANDOM_INCEPTION not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(RANDOM_INCEPTION, RandomInception)
    empty = tmp / "empty-weights.pth"
    torch.save({}, empty)
    return str(empty)


def bench_cellprofiler(crops: torch.Tensor) -> float:
    from phenbench.metrics.cp_features import extract

    start = time.perf_counter()
    table = extract(crops, ("DAPI", "ch1", "ch2"))
    seconds = time.perf_counter() - start
    print(f"CellProfiler features: {len(crops)} crops 68x68x3 in {seconds:.1f} s = {len(crops) / seconds:.1f} images/s "
          f"({len(table.names)} features, {int(table.measured_rows().sum())} with a plausible cell)")
    return seconds


def bench_inception(images: torch.Tensor, weights: str) -> float:
    from phenbench.metrics.inception_features import ExtractorSpec, extract_features

    spec = ExtractorSpec(name=RANDOM_INCEPTION, weights_path=weights)
    extract_features(images[:2], spec)  # build the model once, outside the timing
    start = time.perf_counter()
    features = extract_features(images, spec)
    seconds = time.perf_counter() - start
    print(f"Inception-v3 features (299x299, CPU): {len(images)} images in {seconds:.1f} s = "
          f"{len(images) / seconds:.1f} images/s ({features.shape[1]} features)")
    return seconds


def bench_cache(real: dict[str, torch.Tensor], translated: dict[str, torch.Tensor], weights: str) -> None:
    from phenbench.metrics.fd_cellprofiler import FDCellProfiler
    from phenbench.metrics.fidelity import FID
    from tests.metrics.helpers import make_evaluation

    for label, make in (
        ("fid (Inception features)",
         lambda: FID(feature_extractor=RANDOM_INCEPTION, weights_path=weights, bootstrap=0)),
        ("fd-cellprofiler", lambda: FDCellProfiler(bootstrap=0)),
    ):
        times = []
        for _ in range(2):  # a fresh Evaluation each time: only the disk cache carries over
            evaluation = make_evaluation(real, translated, dataset_hash="benchmark")
            start = time.perf_counter()
            make().compute(evaluation)
            times.append(time.perf_counter() - start)
        print(f"{label}: first run {times[0]:.1f} s, second run {times[1]:.1f} s "
              f"(cache saves {times[0] - times[1]:.1f} s, {100 * (1 - times[1] / times[0]):.0f}%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crops", type=int, default=100, help="crops per condition for CellProfiler features")
    parser.add_argument("--inception-images", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    from tests.metrics.bbbc021_crops import crops_available, load_crops

    if not crops_available():
        raise SystemExit("The BBBC021 crops (../shared/data/bbbc021/crops) are needed for this benchmark.")
    crops = load_crops(max(args.crops, args.inception_images), seed=0)
    print(f"machine: {os.cpu_count()} CPU cores, torch threads {torch.get_num_threads()}, no GPU used")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PHENBENCH_CACHE"] = str(Path(tmp) / "cache")
        weights = register_random_inception(Path(tmp))
        bench_cellprofiler(crops["cyclohexamide@50"][: args.crops])
        bench_inception(crops["DMSO"][: args.inception_images], weights)
        n = args.inception_images // 2
        bench_cache({"DMSO": crops["DMSO"][:n], "cyclohexamide@50": crops["cyclohexamide@50"][:n]},
                    {"cyclohexamide@50": crops["DMSO"][n : 2 * n]}, weights)


if __name__ == "__main__":
    main()
