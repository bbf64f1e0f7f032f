"""PhenDiff at paper scale on a GPU: training and translation images/s, peak memory, and the share of
the GPU's peak arithmetic reached. Prints its figures; not a test. Meant for one run on a lent GPU
(a few minutes on an H100-class device); `--preset quick --device cpu` checks it on a CPU.

    .venv/bin/python benchmarks/phendiff_gpu.py [--preset paper] [--image-size 128] [--precision bf16]
        [--train-steps 30] [--batch-size 64] [--images 256] [--nfe 50] [--peak-tflops 989]

The network's cost is counted, not assumed: `torch.utils.flop_counter` counts one forward pass at
batch 1 (2 FLOPs per multiply-add), and the share of peak is
    images/s x network evaluations per image x FLOPs per evaluation / peak FLOP/s,
for translation, and with 3 evaluations' worth per training image (forward and a backward of
about twice its cost). `--peak-tflops` is the device's dense peak for the precision (989 for
bf16 on an H100 or H200 SXM). The weights are untrained: speed does not depend on them.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from phenbench.core.translator import FitOptions
from phenbench.datasets.synthetic.adapter import SyntheticDataset
from phenbench.datasets.synthetic.config import SyntheticConfig
from phenbench.translators.phendiff.translator import PhenDiffTranslator


def forward_flops(model: PhenDiffTranslator, device: str) -> int:
    spec = model.spec
    x = torch.zeros(1, spec.num_channels, spec.image_size, spec.image_size, device=device)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model.ema_unet(x, torch.zeros(1, dtype=torch.long, device=device),
                       class_labels=torch.zeros(1, dtype=torch.long, device=device))
    return counter.get_total_flops()


def synchronise(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def reset_peak(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()


def peak_gib(device: str) -> str:
    return f"{torch.cuda.max_memory_allocated() / 2**30:.1f} GiB" if device.startswith("cuda") else "n/a (CPU)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--precision", default="bf16", choices=("no", "bf16", "fp16"))
    parser.add_argument("--train-steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64, help="training images per step")
    parser.add_argument("--images", type=int, default=256, help="images translated")
    parser.add_argument("--nfe", type=int, default=50, help="network evaluations per translated image")
    parser.add_argument("--translate-batch-size", type=int, default=128)
    parser.add_argument("--peak-tflops", type=float, default=989.0)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = args.device

    data = SyntheticDataset(SyntheticConfig(image_size=args.image_size))
    steps = args.nfe // 2  # plain DDIM: half the evaluations invert, half regenerate
    settings = {"batch_size": args.batch_size, "mixed_precision": args.precision, "inversion_iterations": 0,
                "inversion_steps": steps, "inference_steps": steps, "sampler": "ddim", "guidance_scale": 1.0,
                "translate_batch_size": args.translate_batch_size, "translate_precision": "auto"}
    model = PhenDiffTranslator(PhenDiffTranslator.config_for(args.preset, {**settings, "steps": 2}), data.spec)
    params = sum(p.numel() for p in model.unet.parameters()) / 1e6
    model.to(device)
    flops = forward_flops(model, device)
    print(f"{args.preset} preset, {params:.1f} M parameters, {args.image_size} px, {flops / 1e9:.1f} GFLOP per "
          f"forward, {args.precision}, device {torch.cuda.get_device_name() if device.startswith('cuda') else 'cpu'}")

    # Training: a 2-step fit first (allocators, kernels), then the timed one.
    model.fit(data, FitOptions(seed=0, progress=False, device=device))
    timed = PhenDiffTranslator(PhenDiffTranslator.config_for(args.preset, {**settings, "steps": args.train_steps}),
                               data.spec)
    reset_peak(device)
    report = timed.fit(data, FitOptions(seed=0, progress=False, device=device))
    train_rate = report.images_per_second or 0.0
    train_share = train_rate * 3 * flops / (args.peak_tflops * 1e12)
    print(f"training: {train_rate:.1f} images/s over {args.train_steps} steps of {args.batch_size} "
          f"(loader workers {report.extra['loader_workers']}), peak memory {peak_gib(device)}, "
          f"{100 * train_share:.1f}% of {args.peak_tflops:g} TFLOP/s")

    # Translation: every image inverted under DMSO and regenerated under another condition.
    timed.to(device)
    images = data.read("test", list(range(min(args.images, len(data.labels("test"))))))
    timed.translate(images[: min(len(images), args.translate_batch_size)], 0, 1)  # warm-up
    reset_peak(device)
    synchronise(device)
    start = time.perf_counter()
    result = timed.translate(images, 0, 1)
    synchronise(device)
    seconds = time.perf_counter() - start
    rate = len(images) / seconds
    share = rate * result.nfe * flops / (args.peak_tflops * 1e12)
    print(f"translation: {rate:.1f} images/s at {result.nfe} NFE ({len(images)} images, batches of "
          f"{args.translate_batch_size}), peak memory {peak_gib(device)}, {100 * share:.1f}% of "
          f"{args.peak_tflops:g} TFLOP/s")


if __name__ == "__main__":
    main()
