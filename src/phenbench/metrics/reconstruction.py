"""`reconstruction`: invert real images, regenerate them under their own condition, compare.

Three measures per target condition (the condition of the real images reconstructed), each the
mean over images with a bootstrap 95% interval:

- `reconstruction/mse`: mean squared error with images mapped to [0, 1];
- `reconstruction/psnr`: per-image PSNR in dB for a peak of 1, averaged; a perfect reconstruction
  (MSE below 1e-10) reads the cap of 100 dB instead of infinity;
- `reconstruction/l2-255`: the per-image L2 norm of the difference over all pixels and channels,
  in 0-255 units. This is the closest reading of the PhenDiff paper's "reconstruction loss"; the
  paper does not define it further, so compare it across papers with care.

There is no real-vs-real floor: a reconstruction is compared with its own input, not with another
sample of the condition.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phenbench.core.metric import Evaluation, MetricResult, MetricValue, Need, pooled_mean
from phenbench.metrics.base import BootstrapOptions, OptionedMetric, bundles_in_order, condition_seed, to_unit
from phenbench.metrics.statistics import value_with_ci

PSNR_CAP_DB = 100.0


@dataclass(frozen=True)
class ReconstructionOptions(BootstrapOptions):
    """Options of `reconstruction`."""


def per_image_errors(real, reconstructed) -> dict[str, np.ndarray]:
    """Per-image MSE ([0, 1] units), PSNR (dB, capped) and L2 norm (0-255 units)."""
    a = to_unit(real).double().flatten(1).numpy()
    b = to_unit(reconstructed).double().flatten(1).numpy()
    squared = (a - b) ** 2
    mse = squared.mean(axis=1)
    psnr = np.minimum(10.0 * np.log10(1.0 / np.maximum(mse, 1e-10)), PSNR_CAP_DB)
    l2 = np.sqrt(squared.sum(axis=1)) * 255.0
    return {"mse": mse, "psnr": psnr, "l2-255": l2}


class Reconstruction(OptionedMetric):
    name = "reconstruction"
    needs = frozenset({Need.REAL, Need.RECONSTRUCTION})
    higher_is_better = False
    summary = "Invert then regenerate under the same condition: MSE, PSNR and L2 (0-255) to the input."
    Options = ReconstructionOptions

    MEASURES = {"mse": (False, ""), "psnr": (True, "dB"), "l2-255": (False, "0-255")}

    def compute(self, evaluation: Evaluation) -> list[MetricResult]:
        values: dict[str, dict[str, MetricValue]] = {m: {} for m in self.MEASURES}
        for bundle in bundles_in_order(evaluation):
            target = bundle.target
            if bundle.real is None or bundle.reconstructions is None:
                for m in self.MEASURES:
                    values[m][target] = MetricValue.absent(
                        "no reconstructions (the translator was not asked to invert)"
                    )
                continue
            if bundle.real.shape != bundle.reconstructions.shape:
                reason = (f"reconstructions {tuple(bundle.reconstructions.shape)} do not match "
                          f"real {tuple(bundle.real.shape)}")
                for m in self.MEASURES:
                    values[m][target] = MetricValue.absent(reason)
                continue
            errors = per_image_errors(bundle.real, bundle.reconstructions)
            seed = condition_seed(evaluation, target, self.name)
            for m, per_image in errors.items():
                values[m][target] = value_with_ci(np.mean, [per_image], n_boot=self.options.bootstrap, seed=seed,
                                                  groups=[bundle.real_units])  # fields, where the data says
        return [
            MetricResult(f"reconstruction/{m}", higher, values[m], pooled_mean(values[m]), unit=unit)
            for m, (higher, unit) in self.MEASURES.items()
        ]
