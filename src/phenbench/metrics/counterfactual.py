"""Error against the true counterfactual: only a synthetic world can render it.

The same cells rendered under the target condition are what a perfect translator would output.
MSE and PSNR are in [0, 1] intensity units (images mapped from [-1, 1]).

`counterfactual/contrast-<channel>` is the spread (standard deviation over all pixels) of a
channel in the translations divided by its spread in the true counterfactuals: 1 is ideal, and a
faded, blurred translation, which can still score a fair PSNR, shows as a value well below 1.
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
    summary = ("MSE and PSNR of translated images against the true counterfactual, and their per-channel "
               "contrast relative to it (synthetic worlds).")

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
            *contrast_results(evaluation),
        ]


def contrast_ratio(translated: torch.Tensor, truth: torch.Tensor, channel: int) -> float:
    """Pixel standard deviation of one channel of the translations over that of the truth."""
    return float(translated[:, channel].double().std() / truth[:, channel].double().std())


def contrast_results(evaluation: Evaluation) -> list[MetricResult]:
    """One result per channel: per condition, and pooled over every translated image."""
    results = []
    for channel, label in enumerate(evaluation.channels):
        ratios: dict[str, MetricValue] = {}
        for name, bundle in evaluation.bundles.items():
            if bundle.counterfactuals is None:
                ratios[name] = MetricValue.absent("the dataset has no true counterfactuals")
                continue
            ratios[name] = MetricValue(contrast_ratio(bundle.translated, bundle.counterfactuals, channel),
                                       n=len(bundle.translated))
        missing = [k for k, v in ratios.items() if v.value is None]
        if missing or not ratios:
            pooled = MetricValue.absent(f"missing for {', '.join(missing)}" if missing else "no target conditions")
        else:
            translated = torch.cat([b.translated for b in evaluation.bundles.values()])
            truth = torch.cat([b.counterfactuals for b in evaluation.bundles.values()])
            pooled = MetricValue(contrast_ratio(translated, truth, channel), n=len(translated))
        results.append(MetricResult(f"counterfactual/contrast-{label}", True, ratios, pooled,
                                    unit="std ratio", ideal=1.0))
    return results
