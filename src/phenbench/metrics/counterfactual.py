"""Error against the true counterfactual: only a synthetic world can render it.

The same cells rendered under the target condition are what a perfect translator would output.
MSE and PSNR are in [0, 1] intensity units (images mapped from [-1, 1]).
"""

from __future__ import annotations

import math

import torch

from phenbench.core.metric import (
    Evaluation,
    Metric,
    MetricResult,
    MetricValue,
    Need,
    pooled_mean,
)


def mse_unit_range(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image mean squared error with images mapped from [-1, 1] to [0, 1]."""
    diff = (a.float() - b.float()) / 2
    return diff.pow(2).flatten(1).mean(1)


def psnr_from_mse(mse: float) -> float:
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


class CounterfactualError(Metric):
    name = "counterfactual"
    needs = frozenset({Need.TRANSLATED, Need.COUNTERFACTUAL})
    higher_is_better = False
    summary = "MSE and PSNR of translated images against the true counterfactual (synthetic worlds)."

    def compute(self, evaluation: Evaluation) -> list[MetricResult]:
        mse: dict[str, MetricValue] = {}
        psnr: dict[str, MetricValue] = {}
        for name, bundle in evaluation.bundles.items():
            if bundle.counterfactuals is None:
                reason = "the dataset has no true counterfactuals"
                mse[name] = psnr[name] = MetricValue.absent(reason)
                continue
            per_image = mse_unit_range(bundle.translated, bundle.counterfactuals)
            value = float(per_image.mean())
            mse[name] = MetricValue(value, n=len(per_image))
            psnr[name] = MetricValue(min(psnr_from_mse(value), 100.0), n=len(per_image))
        pooled_mse = pooled_mean(mse)
        pooled_psnr = (
            MetricValue(min(psnr_from_mse(pooled_mse.value), 100.0), n=pooled_mse.n)
            if pooled_mse.value is not None else MetricValue.absent(pooled_mse.missing or "missing")
        )
        return [
            MetricResult("counterfactual/mse", False, mse, pooled_mse, unit="[0,1]^2"),
            MetricResult("counterfactual/psnr", True, psnr, pooled_psnr, unit="dB"),
        ]
