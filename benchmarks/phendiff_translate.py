"""PhenDiff translation benchmark: reconstruction and counterfactual error and speed of plain DDIM,
fixed-point DDIM inversion and EDICT, and a plain reference loop for a speed ratio at equal outputs.
Prints its figures; not a test.

    .venv/bin/python benchmarks/phendiff_translate.py --model runs/<run>/model [--images 16]

`--model` is a trained PhenDiff (for instance the `model/` folder that `phenbench run --translator
phendiff --preset quick` writes under its work dir). Without it, a quick model is trained first
on the synthetic set (`--train-steps`). Reconstruction = invert then regenerate under the same
condition; MSE is in [-1, 1] units, PSNR uses the peak-to-peak range 2 (10 log10(4 / MSE)).
Counterfactual PSNR: DMSO test images translated to `--target`, against the same cells rendered
under it by the synthetic world (the true counterfactual); the identity row is the source itself.
"""

from __future__ import annotations

import argparse
import copy
import math
import statistics
import time

import torch

from phenbench.core.config import replace_config
from phenbench.core.translator import FitOptions
from phenbench.translators.phendiff.model import null_class  # noqa: F401  (imports diffusers safely)
from phenbench.translators.phendiff.sampling import make_grid
from phenbench.translators.phendiff.translator import PhenDiffTranslator

DDIM_STEPS = (10, 25, 50, 100)
FIXED_POINT_ITERATIONS = (1, 2, 5)  # at the model's own step count
EDICT_STEPS = (5, 12, 25, 50)  # 2 NFE per step: the same NFE as DDIM's (24 for DDIM's 25)


def synthetic_test_images(count: int):
    from phenbench.datasets.synthetic.adapter import SyntheticDataset
    from phenbench.datasets.synthetic.config import SyntheticConfig

    data = SyntheticDataset(SyntheticConfig())
    rows = data.rows("test", "DMSO")[:count]
    return data, rows, data.read("test", rows), torch.as_tensor(data.labels("test")[rows])


def with_sampler(model: PhenDiffTranslator, sampler: str, steps: int, iterations: int = 0) -> PhenDiffTranslator:
    config = replace_config(model.config, sampler=sampler, inversion_steps=steps, inference_steps=steps,
                            inversion_iterations=iterations)
    other = PhenDiffTranslator(config, model.spec)
    other.ema_unet.load_state_dict(model.ema_unet.state_dict())
    return other


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = (a - b).pow(2).mean().item()
    return 10 * math.log10(4 / mse) if mse > 0 else math.inf


def sampler_row(model: PhenDiffTranslator, images: torch.Tensor, classes: torch.Tensor, target: int,
                truth: torch.Tensor) -> dict:
    """Reconstruction and translation of the same images from one inversion (as `run` does)."""
    start = time.perf_counter()
    results = model.translate_to_each(images, classes, [int(classes[0]), target])
    seconds = time.perf_counter() - start
    reconstruction, translation = results[int(classes[0])], results[target]
    return {"nfe": translation.nfe, "inversion_nfe": model.inversion_nfe(),
            "psnr": psnr(reconstruction.images, images), "counterfactual": psnr(translation.images, truth),
            "contrast": translation.images.std().item() / truth.std().item(),
            "images_per_s": 2 * len(images) / seconds}


def reference_translate_to_each(unet, model: PhenDiffTranslator, images, source: int, targets) -> dict:
    """The plain loop: per target, DDIMInverseScheduler then DDIMScheduler from diffusers, fp32,
    one UNet call per step, re-inverting for each target (as the research code translated)."""
    grid = make_grid(model.scheduler, model.config.inference_steps)
    outputs = {}
    with torch.no_grad():
        for target in targets:
            sample = images.clone()
            classes = torch.full((len(images),), source)
            for level, timestep in enumerate(grid.inverse.timesteps.tolist()):
                label = grid.timesteps[max(level - 1, 0)]  # the level the sample is at
                out = unet(sample, torch.full((len(images),), label), class_labels=classes).sample
                sample = grid.inverse.step(out, timestep, sample).prev_sample
            classes = torch.full((len(images),), target)
            for timestep in grid.scheduler.timesteps.tolist():
                out = unet(sample, torch.full((len(images),), timestep), class_labels=classes).sample
                sample = grid.scheduler.step(out, timestep, sample, eta=0.0).prev_sample
            outputs[target] = sample.clamp(-1, 1)
    return outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a saved PhenDiff translator directory")
    parser.add_argument("--train-steps", type=int, default=600)
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--targets", type=int, default=8,
                        help="targets per image in the speed comparison (8: every treated condition, as from-control)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--ddim-steps", type=int, nargs="*", default=DDIM_STEPS)
    parser.add_argument("--edict-steps", type=int, nargs="*", default=EDICT_STEPS)
    parser.add_argument("--fixed-point-iterations", type=int, nargs="*", default=FIXED_POINT_ITERATIONS)
    parser.add_argument("--target", default="shrinkin@3", help="the condition DMSO images are translated to")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of the speed comparison")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (minutes to compile on a CPU)")
    parser.add_argument("--speed-only", action="store_true", help="skip the sampler table")
    parser.add_argument("--translate-batch-size", type=int, help="images per UNet call (default: the model's)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    data, rows, images, classes = synthetic_test_images(args.images)
    target = data.conditions.index(args.target)
    truth = data.counterfactuals("test", rows, target)
    if args.model:
        model = PhenDiffTranslator.load(args.model)
        if args.translate_batch_size:
            model = with_settings(model, {"translate_batch_size": args.translate_batch_size})
    else:
        model = PhenDiffTranslator(PhenDiffTranslator.config_for("quick", {"steps": args.train_steps}), data.spec)
        report = model.fit(data, FitOptions(seed=0, progress=True))
        print(f"trained {report.steps} steps in {report.seconds:.0f} s ({report.images_per_second:.1f} images/s)")
    print(f"threads {torch.get_num_threads()}, {len(images)} DMSO test images, {images.shape[1]} channels, "
          f"{images.shape[-1]} px, UNet {sum(p.numel() for p in model.ema_unet.parameters()) / 1e6:.2f} M params, "
          f"'{model.config.timestep_spacing}' spacing")
    print(f"identity (the source as its own translation): counterfactual PSNR {psnr(images, truth):.2f} dB "
          f"to {args.target}")

    if not args.speed_only:
        print(f"\none inversion per image, regenerated under DMSO (reconstruction) and {args.target} (translation)")
        print(f"{'sampler':18} {'steps':>5} {'NFE':>4} {'recon dB':>9} {'cf dB':>7} {'contrast':>8} {'images/s':>9}")
        variants = [("ddim", steps, 0) for steps in args.ddim_steps]
        variants += [("ddim", model.config.inference_steps, n) for n in args.fixed_point_iterations]
        variants += [("edict", steps, 0) for steps in args.edict_steps]
        for sampler, steps, iterations in variants:
            row = sampler_row(with_sampler(model, sampler, steps, iterations), images, classes, target, truth)
            label = f"ddim fixed-point x{iterations}" if iterations else sampler
            print(f"{label:18} {steps:5d} {row['nfe']:4d} {row['psnr']:9.2f} {row['counterfactual']:7.2f} "
                  f"{row['contrast']:8.3f} {row['images_per_s']:9.2f}", flush=True)

    speed_comparison(model, images, classes, args.targets, args.repeats, args.compile)


def speed_comparison(model: PhenDiffTranslator, images, classes, n_targets: int, repeats: int,
                     compile_too: bool) -> None:
    """Translated images/s of the reference loop and of phenbench's settings, each run in turn
    `repeats` times (medians; ratios to the reference of the same rounds)."""
    # The reference loop is plain DDIM in fp32 on a contiguous (NCHW) UNet, so phenbench runs plain DDIM here too.
    plain = with_sampler(model, "ddim", model.config.inference_steps, 0)
    reference_unet = copy.deepcopy(plain.ema_unet).to(memory_format=torch.contiguous_format)
    source = int(classes[0])
    batch = images[classes == source]
    targets = [c for c in range(len(model.spec.conditions)) if c != source][:n_targets]
    count = len(batch) * len(targets)
    variants = {"phenbench (default: NHWC)": {}, "phenbench NCHW": {"channels_last": False},
                "phenbench bf16 autocast": {"translate_precision": "bf16"}}
    if compile_too:
        variants["phenbench torch.compile"] = {"compile": True}
    translators = {name: with_settings(plain, settings) for name, settings in variants.items()}
    print(f"\ntranslation of {len(batch)} images from condition {source} to {len(targets)} targets, "
          f"plain DDIM {model.config.inference_steps} steps, {repeats} rounds")
    reference = reference_translate_to_each(reference_unet, plain, batch, source, targets)
    for name, translator in translators.items():  # first calls, at the timed shapes: allocation, compilation
        start = time.perf_counter()
        translator.translate_to_each(batch, source, targets)
        if "compile" in name:
            print(f"{name}: first call {time.perf_counter() - start:.1f} s (compilation)")
    times: dict[str, list[float]] = {"reference loop": [], **{name: [] for name in translators}}
    outputs = {}
    for _ in range(repeats):
        start = time.perf_counter()
        reference_translate_to_each(reference_unet, plain, batch, source, targets)
        times["reference loop"].append(time.perf_counter() - start)
        for name, translator in translators.items():
            start = time.perf_counter()
            outputs[name] = translator.translate_to_each(batch, source, targets)
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["reference loop"])
    print(f"{'reference loop':28} {count / base:7.2f} translated images/s")
    for name in translators:
        seconds = statistics.median(times[name])
        difference = max((outputs[name][t].images - reference[t]).abs().max().item() for t in targets)
        print(f"{name:28} {count / seconds:7.2f} translated images/s (x{base / seconds:.2f}); "
              f"max |difference| {difference:.2e}", flush=True)


def with_settings(model: PhenDiffTranslator, settings: dict) -> PhenDiffTranslator:
    other = PhenDiffTranslator(replace_config(model.config, **settings), model.spec)
    other.ema_unet.load_state_dict(model.ema_unet.state_dict())
    return other

if __name__ == "__main__":
    main()
