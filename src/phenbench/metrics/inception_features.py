"""Deep features for FID and KID, through torch-fidelity's feature extractors.

Images go through the fixed channel projection (`projection.py`) to uint8 RGB, then through a
torch-fidelity extractor (Inception-v3 by default, the one FID is defined with). Weights are looked
up in this order: the `weights_path` option; torch's hub cache
(`$TORCH_HOME/hub/checkpoints/weights-inception-2015-12-05-6726825d.pth`); torch-fidelity's own
download. Where none works, `WeightsUnavailable` carries a one-line reason naming the options, which
the metrics record as a missing value instead of crashing or inventing a number.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from phenbench.core.sharding import Shard
from phenbench.core.torch_compat import ensure_torchvision_importable
from phenbench.metrics.cache import FeatureCache, cache_key, images_digest
from phenbench.metrics.projection import to_rgb_uint8

INCEPTION = "inception-v3-compat"
INCEPTION_WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"


class WeightsUnavailable(Exception):
    """The extractor's weights are neither given, cached nor downloadable; the message says why."""


@dataclass(frozen=True)
class ExtractorSpec:
    """Which torch-fidelity extractor and layer, with which weights, on which device."""

    name: str = INCEPTION
    layer: str | None = None  # None: the extractor's default layer for FID
    weights_path: str | None = None
    allow_download: bool = True
    batch_size: int = 64
    device: str = "cpu"

    def resolved_layer(self) -> str:
        ensure_torchvision_importable()
        from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

        if self.name not in FEATURE_EXTRACTORS_REGISTRY:
            known = ", ".join(sorted(FEATURE_EXTRACTORS_REGISTRY))
            raise WeightsUnavailable(f"torch-fidelity has no feature extractor '{self.name}' (known: {known})")
        return self.layer or FEATURE_EXTRACTORS_REGISTRY[self.name].get_default_feature_layer_for_metric("fid")

    def tag(self) -> str:
        """The extractor's part of a cache key."""
        weights = Path(self.weights_path).name if self.weights_path else "default-weights"
        return f"{self.name}-{self.resolved_layer()}-{weights}"


def hub_weights_path() -> Path:
    """Where torch's hub cache would hold torch-fidelity's Inception weights."""
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS_FILE


def resolve_weights(spec: ExtractorSpec) -> str | None:
    """A local weights file for the extractor, or None to let torch-fidelity download (if allowed)."""
    if spec.weights_path is not None:
        if not Path(spec.weights_path).expanduser().is_file():
            raise WeightsUnavailable(
                f"weights_path {spec.weights_path} does not exist; give the path of {INCEPTION_WEIGHTS_FILE}"
            )
        return str(Path(spec.weights_path).expanduser())
    if spec.name == INCEPTION:
        cached = hub_weights_path()
        if cached.is_file():
            return str(cached)
        if not spec.allow_download:
            raise WeightsUnavailable(_missing_message(cached, "downloads are switched off (allow_download=false)"))
    return None


def _missing_message(cached: Path, why: str) -> str:
    return (
        f"Inception weights unavailable: {why}. Give the metric option weights_path=<file>, or put "
        f"{INCEPTION_WEIGHTS_FILE} in {cached.parent} ($TORCH_HOME/hub/checkpoints), or run once with internet"
    )


_EXTRACTORS: dict[ExtractorSpec, torch.nn.Module] = {}  # built once per process: Inception takes ~1 s


def build_extractor(spec: ExtractorSpec) -> torch.nn.Module:
    """The torch-fidelity extractor for `spec`; raises WeightsUnavailable with the reason."""
    if spec in _EXTRACTORS:
        return _EXTRACTORS[spec]
    ensure_torchvision_importable()
    from torch_fidelity.utils import create_feature_extractor

    layer = spec.resolved_layer()
    weights = resolve_weights(spec)
    try:
        extractor = create_feature_extractor(
            spec.name, [layer], cuda=False, feature_extractor_weights_path=weights, verbose=False
        )
    except Exception as exc:  # urllib/OSError/RuntimeError from the download: report, never crash
        if spec.name == INCEPTION and weights is None:
            raise WeightsUnavailable(_missing_message(hub_weights_path(), f"download failed ({exc})")) from exc
        raise WeightsUnavailable(f"cannot build feature extractor '{spec.name}': {exc}") from exc
    extractor = extractor.to(spec.device)
    _EXTRACTORS[spec] = extractor
    return extractor


class _Uint8Images(torch.utils.data.Dataset):
    def __init__(self, images: torch.Tensor):
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]


def extract_features(images: torch.Tensor, spec: ExtractorSpec, shard: Shard = Shard()) -> np.ndarray:
    """N x D float64 features of images in [-1, 1] (any channel count), by torch-fidelity; under
    several processes (`shard`) each extracts its share of the batches and all get every row."""
    if shard.count > 1:
        from phenbench.metrics.sharded_features import sharded_extract

        return sharded_extract(lambda batch: extract_features(batch, spec), images, spec.batch_size, shard)
    ensure_torchvision_importable()
    from torch_fidelity.utils import get_featuresdict_from_dataset

    extractor = build_extractor(spec)
    rgb = to_rgb_uint8(images)
    features = get_featuresdict_from_dataset(
        _Uint8Images(rgb), extractor, batch_size=spec.batch_size, cuda=spec.device != "cpu",
        save_cpu_ram=True, verbose=False,
    )  # save_cpu_ram: no worker processes (4 workers made it 1.7x slower on 2 cores)
    return features[spec.resolved_layer()].double().numpy()


def real_features(
    images: torch.Tensor, spec: ExtractorSpec, cache: FeatureCache, *, dataset_hash: str, split: str, condition: str,
    shard: Shard = Shard(),
) -> np.ndarray:
    """Features of real images, through the disk cache (real images are shared by all methods)."""
    key = cache_key(
        dataset_hash=dataset_hash, split=split, condition=condition, extractor=spec.tag(),
        n_images=len(images), digest=images_digest(images),
    )
    if shard.count > 1:
        from phenbench.metrics.sharded_features import sharded_real_features

        return sharded_real_features(cache, key, lambda: extract_features(images, spec, shard), shard)
    return cache.get_or_compute(key, lambda: {"features": extract_features(images, spec)})["features"]
