"""Small builders shared by the metric tests: evaluations from tensors, a tiny feature extractor."""

from __future__ import annotations

import numpy as np
import torch

from phenbench.core.conditions import ConditionSet
from phenbench.core.metric import ConditionBundle, Evaluation
from phenbench.core.torch_compat import ensure_torchvision_importable

TINY_EXTRACTOR = "phenbench-test-tiny"


def make_evaluation(
    real: dict[str, torch.Tensor],
    translated: dict[str, torch.Tensor],
    sources: dict[str, torch.Tensor] | None = None,
    *,
    source_condition: str = "DMSO",
    conditions: list[str] | None = None,
    reconstructions: dict[str, torch.Tensor] | None = None,
    real_train: dict[str, torch.Tensor] | None = None,
    seed: int = 0,
    dataset_hash: str = "",
) -> Evaluation:
    """One bundle per key of `translated`; sources default to the real images of the source condition."""
    names = conditions or list(dict.fromkeys([source_condition, *real, *translated]))
    bundles = {}
    for target, images in translated.items():
        src = (sources or {}).get(target, real.get(source_condition, images))
        bundles[target] = ConditionBundle(
            target=target, translated=images, sources=src, source_conditions=[source_condition] * len(src),
            real=real.get(target), reconstructions=(reconstructions or {}).get(target),
        )
    channels = next(iter(translated.values())).shape[1]
    return Evaluation(
        conditions=ConditionSet(names), channels=tuple(f"ch{i}" for i in range(channels)), bundles=bundles,
        real_train=real_train, seed=seed, dataset_hash=dataset_hash,
    )


def register_tiny_extractor() -> str:
    """A torch-fidelity extractor (average-pool to 4x4, fixed random projection to 12 dims)."""
    ensure_torchvision_importable()
    from torch_fidelity.feature_extractor_base import FeatureExtractorBase
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

    class TinyExtractor(FeatureExtractorBase):
        def __init__(self, name, features_list, **kwargs):
            super().__init__(name, features_list)
            generator = torch.Generator().manual_seed(7)
            self.register_buffer("weights", 0.2 * torch.randn(48, 12, generator=generator))

        @staticmethod
        def get_provided_features_list():
            return ("tiny",)

        @staticmethod
        def get_default_feature_layer_for_metric(metric):
            return "tiny"

        @staticmethod
        def can_be_compiled():
            return False

        @staticmethod
        def get_dummy_input_for_compile():
            return None

        def forward(self, x):
            pooled = torch.nn.functional.adaptive_avg_pool2d(x.float() / 255.0, 4).flatten(1)
            return (torch.tanh(pooled @ self.weights),)

    if TINY_EXTRACTOR not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(TINY_EXTRACTOR, TinyExtractor)
    return TINY_EXTRACTOR


def torch_fidelity_metrics(
    translated: torch.Tensor, real: torch.Tensor, extractor: str, kid_subset_size: int
) -> dict:
    """torch-fidelity's own FID and KID (5 subsets) of two image sets: the reference the fid/kid tests compare with."""
    import torch_fidelity

    from phenbench.metrics.projection import to_rgb_uint8

    return torch_fidelity.calculate_metrics(
        input1=_Images(to_rgb_uint8(translated)), input2=_Images(to_rgb_uint8(real)), fid=True, kid=True,
        feature_extractor=extractor, cuda=False, cache=False, verbose=False, save_cpu_ram=True,
        kid_subset_size=kid_subset_size, kid_subsets=5,
    )


class _Images(torch.utils.data.Dataset):
    def __init__(self, images):
        self.images = images

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i]


def blobs(n: int, channels: int = 3, size: int = 16, brightness: float = 0.0, seed: int = 0) -> torch.Tensor:
    """Smooth random images in [-1, 1] whose mean level is shifted by `brightness`."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.randn(n, channels, 4, 4, generator=generator)
    images = torch.nn.functional.interpolate(coarse, size=size, mode="bilinear", align_corners=False)
    return (0.4 * images + brightness).clamp(-1, 1)


def gaussian_features(mu: np.ndarray, cov: np.ndarray, n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).multivariate_normal(mu, cov, size=n)


def random_images(n: int, seed: int, channels: int = 3, size: int = 4) -> torch.Tensor:
    """Distinct tiny images (their bytes name them in the feature memo: see `inject_features`)."""
    return torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def inject_features(evaluation: Evaluation, images: torch.Tensor, values: np.ndarray, failures=None) -> None:
    """Make the CellProfiler extractor return `values` (N x K, features f0, f1, ...) for `images`,
    as if cp-measure had measured them: tests then choose every feature value by hand."""
    from phenbench.metrics.cache import images_digest
    from phenbench.metrics.cp_features import MEMO_KEY, FeatureTable

    names = tuple(f"f{k}" for k in range(values.shape[1]))
    failures = np.zeros(len(values), np.int8) if failures is None else np.asarray(failures, np.int8)
    key = (images_digest(images), 0, evaluation.channels)
    evaluation.options.setdefault(MEMO_KEY, {})[key] = FeatureTable(names, np.asarray(values, float), failures)
