"""How much of the true phenotype change a translation makes, measured on images.

For each translated image, the dataset's ground-truth readouts (measured on images, e.g. cytoplasm
area, actin intensity, organelle dispersion) give three points: the source `s`, the translation `t`
and the true counterfactual `c` (the same cells rendered under the target). With readouts in units of
their spread among real images,

    share = sum_i (t_i - s_i) . (c_i - s_i) / sum_i |c_i - s_i|^2

is the fraction of the true shift achieved along its direction: 0 for the identity baseline, 1 for a
perfect translator, negative for a shift the wrong way. `phenotype-error` is the root mean squared
distance |t_i - c_i| in the same units (0 is perfect):

    error^2 = sum_k mean_{i: readout k defined on image i} (t_ik - c_ik)^2

A readout can be undefined on an image (an organelle spread with no puncta found, every readout
of an image where no nucleus is found). In the share, such entries are left out of both sums. In
the error, each readout's squared distance is averaged over the images where it is defined, so an
undefined entry neither adds 0 to the numerator nor counts in the denominator; a readout defined
on no image leaves the error missing (a translator cannot lower its error by producing images
that cannot be measured). How many entries were undefined is stored with both measures
(`arrays["undefined/<condition>"]`, out of `arrays["entries/<condition>"]`).
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
        arrays: dict[str, np.ndarray] = {}
        pooled_parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for name, bundle in evaluation.bundles.items():
            if scale is None or bundle.counterfactuals is None:
                reason = "needs a dataset with ground-truth readouts and true counterfactuals (synthetic worlds)"
                share[name] = error[name] = MetricValue.absent(reason)
                continue
            keep = np.isfinite(scale[1]) & (scale[1] > 0)
            s, t, c = (evaluation.readouts(x)[1][:, keep] / scale[1][keep]
                       for x in (bundle.sources, bundle.translated, bundle.counterfactuals))
            pooled_parts.append((s, t, c))
            defined = np.isfinite(s) & np.isfinite(t) & np.isfinite(c)
            arrays[f"undefined/{name}"] = np.array([int((~defined).sum())])
            arrays[f"entries/{name}"] = np.array([defined.size])
            share[name] = shift_share(s, t, c)
            error[name] = readout_error(t, c, defined)
        if pooled_parts and len(pooled_parts) == len(evaluation.bundles):
            s, t, c = (np.concatenate(part) for part in zip(*pooled_parts))
            defined = np.isfinite(s) & np.isfinite(t) & np.isfinite(c)
            pooled_share = shift_share(s, t, c, empty="no true shift in any condition")
            pooled_error = readout_error(t, c, defined)
        else:
            pooled_share = pooled_error = MetricValue.absent(
                "no condition could be measured" if not pooled_parts else "a condition could not be measured")
        return [
            MetricResult("phenotype-shift", True, share, pooled_share, unit="share of true shift", ideal=1.0,
                         arrays=dict(arrays)),
            MetricResult("phenotype-error", False, error, pooled_error, unit="readout SDs", arrays=dict(arrays)),
        ]


def shift_share(s: np.ndarray, t: np.ndarray, c: np.ndarray, empty: str = "the true shift into this condition is zero"
                ) -> MetricValue:
    """sum (t - s) . (c - s) / sum |c - s|^2 over the defined entries (images x readouts)."""
    defined = np.isfinite(s) & np.isfinite(t) & np.isfinite(c)
    achieved = np.where(defined, t - s, 0.0)
    true = np.where(defined, c - s, 0.0)
    dot, norm = float((achieved * true).sum()), float((true * true).sum())
    n = len(s)
    if norm <= MIN_TRUE_SHIFT * n:
        return MetricValue.absent(empty, n=n)
    return MetricValue(dot / norm, n=n)


def readout_error(t: np.ndarray, c: np.ndarray, defined: np.ndarray) -> MetricValue:
    """sqrt(sum over readouts of the mean squared distance over the images where it is defined)."""
    n = len(t)
    counts = defined.sum(axis=0)
    if n == 0:
        return MetricValue.absent("no images")
    if (counts == 0).any():
        return MetricValue.absent(f"{int((counts == 0).sum())} readout(s) undefined on every image", n=n)
    squared = np.where(defined, (t - c) ** 2, 0.0).sum(axis=0) / counts
    return MetricValue(float(np.sqrt(squared.sum())), n=n)
