"""Deterministic run records: the same run id always gives the same record, so a test can check
what a separate writer process stored without talking to it."""

from __future__ import annotations

import hashlib

import numpy as np

from phenbench.core.metric_result import MetricResult, MetricValue
from phenbench.core.store import RunRecord

CONDITIONS = ("DMSO", "taxol@0.3", "taxol@1")


def record_for(run_id: str, image_size: int = 8, n_samples: int = 2, translator: str = "identity") -> RunRecord:
    """A record with every kind of field filled from a generator seeded by `run_id`."""
    seed = int.from_bytes(hashlib.sha256(run_id.encode()).digest()[:4], "little")
    rng = np.random.default_rng(seed)
    per_condition = {c: MetricValue(float(rng.normal()), n=int(rng.integers(1, 50))) for c in CONDITIONS}
    low, high = sorted(rng.normal(size=2).tolist())
    per_condition["DMSO"] = MetricValue(float((low + high) / 2), n=7, ci_low=low, ci_high=high)
    per_condition["taxol@1"] = MetricValue.absent(f"no real images ({run_id})", n=0)
    per_condition["taxol@0.3"].ci_missing = "no interval: 3 independent units"
    metrics = [
        MetricResult(
            name="reconstruction/psnr",
            higher_is_better=True,
            per_condition=per_condition,
            pooled=MetricValue.absent("missing for taxol@1", n=9),
            floor={"DMSO": MetricValue(float(rng.uniform(30, 40)), n=7), "pooled": MetricValue(35.5, n=21)},
            unit="dB",
            arrays={
                "histogram": rng.integers(0, 100, size=10),
                "edges/bins": rng.normal(size=(2, 3)),
                "feature_names": np.array([b"Intensity_Mean", b"AreaShape_Area"]),
                "labels": np.array(["DMSO", "taxol@1 µM"]),
                "kept": np.array([True, False]),
            },
        ),
        MetricResult(
            name="fid",
            higher_is_better=False,
            per_condition={c: MetricValue(float(rng.uniform(1, 100)), n=5) for c in CONDITIONS},
            pooled=MetricValue(float(rng.uniform(1, 100)), n=15, ci_low=1.0, ci_high=99.0),
        ),
    ]
    shape = (n_samples, 3, image_size, image_size)
    samples = {
        c: {
            "source": rng.uniform(-1, 1, size=shape).astype(np.float16),
            "translated": rng.uniform(-1, 1, size=shape).astype(np.float16),
        }
        for c in CONDITIONS[1:]
    }
    samples["taxol@1"]["reconstruction"] = rng.uniform(-1, 1, size=shape).astype(np.float16)
    samples["taxol@1"]["real"] = rng.uniform(-1, 1, size=shape).astype(np.float16)
    samples["taxol@0.3"]["counterfactual"] = rng.uniform(-1, 1, size=shape).astype(np.float16)
    return RunRecord(
        run_id=run_id,
        translator=translator,
        dataset="synthetic",
        status="complete",
        seed=int(seed % 1000),
        started=f"2026-11-25T06:{seed % 60:02d}:{(seed // 60) % 60:02d}+00:00",
        ended="2026-11-25T07:00:00+00:00",
        configs={"run": {"seed": seed % 1000, "steps": [1, 2]}, "translator": {"lr": 1e-4}, "dataset": {"root": None}},
        versions={"phenbench": "0.1.0", "torch": "2.13.0", "python": "3.11"},
        git_hash=hashlib.sha1(run_id.encode()).hexdigest(),
        dataset_hash="d" * 16,
        metrics=metrics,
        samples=samples,
        timings={"fit_seconds": float(rng.uniform()), "nfe": 100},
        preset="fast" if seed % 2 else None,
    )


def assert_same_record(actual: RunRecord, expected: RunRecord, samples: bool = True) -> None:
    """Field-by-field equality, arrays compared exactly (samples are float16 on both sides)."""
    for name in ("run_id", "translator", "dataset", "status", "seed", "started", "ended", "configs",
                 "versions", "git_hash", "dataset_hash", "timings", "error", "preset"):  # fmt: skip
        assert getattr(actual, name) == getattr(expected, name), name
    assert [m.name for m in actual.metrics] == [m.name for m in expected.metrics]
    for got, want in zip(actual.metrics, expected.metrics):
        assert (got.higher_is_better, got.unit) == (want.higher_is_better, want.unit)
        assert got.per_condition == want.per_condition
        assert list(got.per_condition) == list(want.per_condition)
        assert got.pooled == want.pooled
        assert got.floor == want.floor
        assert sorted(got.arrays) == sorted(want.arrays)
        for key, array in want.arrays.items():
            np.testing.assert_array_equal(got.arrays[key], array)
            assert got.arrays[key].dtype == array.dtype
    if samples:
        assert list(actual.samples) == list(expected.samples)
        for condition, images in expected.samples.items():
            assert sorted(actual.samples[condition]) == sorted(images)
            for kind, array in images.items():
                assert actual.samples[condition][kind].dtype == np.float16
                np.testing.assert_array_equal(actual.samples[condition][kind], array)
