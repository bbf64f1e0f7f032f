"""How much of the true phenotype change a translation makes, measured on images.

For each translated image, the dataset's ground-truth readouts (measured on images, e.g. cytoplasm
area, actin intensity, organelle dispersion) give three points: the source `s`, the translation `t`
and the true counterfactual `c` (the same cells rendered under the target). With readouts in units of
their spread among real images,

    share = sum_i (t_i - s_i) . (c_i - s_i) / sum_i |c_i - s_i|^2

is the fraction of the true shift achieved along its direction: 0 for the identity baseline, 1 for a
perfect translator, negative for a shift the wrong way. `phenotype-error` is the root mean squared
distance |t_i - c_i| in the same units (0 is perfect).

A readout can be undefined on an image (an organelle spread with no puncta found): such entries
are left out of both sums rather than letting one NaN void the whole condition.
"""

from __future__ import annotations

import numpy as np

from phenbench.core.metric import Evaluation, Metric, MetricResult, MetricValue, Need

MIN_TRUE_SHIFT = 1e-8  # below this the true shift is nothing to recover: the share is undefined


def readout_scale(evaluation: Evaluation) -> tuple[list[str], np.ndarray] | None:
    """Per-readout spread (std) over all real images of the run, to put readouts on one scale."""
    real = [b.real for b in evaluation.bundles.values() if b.real is not None and len(b.real)]
    if evaluation.readouts is None or not real:
        return None
    import torch

    measured = evaluation.readouts(torch.cat(real))
    if measured is None:
        return None
    names, values = measured
    return names, np.nanstd(values, axis=0)


class PhenotypeShift(Metric):
    name = "phenotype-shift"
    needs = frozenset({Need.TRANSLATED, Need.SOURCE, Need.COUNTERFACTUAL, Need.REAL})
    higher_is_better = True
    summary = "Share of the true ground-truth phenotype shift achieved (0 identity, 1 perfect), on images."

    def compute(self, evaluation: Evaluation) -> list[MetricResult]:
        scale = readout_scale(evaluation)
        share: dict[str, MetricValue] = {}
        error: dict[str, MetricValue] = {}
        totals = {"dot": 0.0, "norm": 0.0, "sq_err": 0.0, "n": 0}
        for name, bundle in evaluation.bundles.items():
            if scale is None or bundle.counterfactuals is None:
                reason = "needs a dataset with ground-truth readouts and true counterfactuals (synthetic worlds)"
                share[name] = error[name] = MetricValue.absent(reason)
                continue
            keep = np.isfinite(scale[1]) & (scale[1] > 0)
            s, t, c = (evaluation.readouts(x)[1][:, keep] / scale[1][keep]
                       for x in (bundle.sources, bundle.translated, bundle.counterfactuals))
            defined = np.isfinite(s) & np.isfinite(t) & np.isfinite(c)
            achieved = np.where(defined, t - s, 0.0)
            true = np.where(defined, c - s, 0.0)
            dot, norm = float((achieved * true).sum()), float((true * true).sum())
            sq_err = float(np.where(defined, (t - c) ** 2, 0.0).sum())
            n = len(s)
            totals["dot"] += dot
            totals["norm"] += norm
            totals["sq_err"] += sq_err
            totals["n"] += n
            share[name] = (
                MetricValue(dot / norm, n=n) if norm > MIN_TRUE_SHIFT * n
                else MetricValue.absent("the true shift into this condition is zero", n=n)
            )
            error[name] = MetricValue(float(np.sqrt(sq_err / n)), n=n)
        if totals["n"]:
            pooled_share = (
                MetricValue(totals["dot"] / totals["norm"], n=totals["n"]) if totals["norm"] > 0
                else MetricValue.absent("no true shift in any condition")
            )
            pooled_error = MetricValue(float(np.sqrt(totals["sq_err"] / totals["n"])), n=totals["n"])
        else:
            pooled_share = pooled_error = MetricValue.absent("no condition could be measured")
        return [
            MetricResult("phenotype-shift", True, share, pooled_share, unit="share of true shift", ideal=1.0),
            MetricResult("phenotype-error", False, error, pooled_error, unit="readout SDs"),
        ]
