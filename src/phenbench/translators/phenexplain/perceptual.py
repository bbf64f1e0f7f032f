"""An optional perceptual distance for projection: VGG16 features from weights already on disk.

StyleGAN2's projector uses LPIPS (VGG16 features with learned channel weights). Neither those nor
torchvision's VGG16 weights can be downloaded at run time here, so this term is off unless the
user points at a torchvision VGG16 state dict (`vgg16_weights`) or has one in the torch hub cache.
The distance is LPIPS without its learned linear layer: unit-normalised features of relu1_2,
relu2_2, relu3_3, relu4_3 and relu5_3, squared differences averaged over space, summed over layers.
VGG expects RGB, so each channel is compared on its own (replicated to three) and the distances
are averaged: this works for any channel count.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from phenbench.core.errors import MissingWeightsError
from phenbench.core.safe_checkpoint import load_checkpoint_state
from phenbench.core.torch_compat import ensure_torchvision_importable

TORCHVISION_VGG16_FILE = "vgg16-397923af.pth"
FEATURE_LAYERS = (3, 8, 15, 22, 29)  # relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 in vgg16.features
MIN_SIZE = 32  # below this, VGG's four poolings leave no pixels at relu5_3
_MEAN = torch.tensor([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1)
_STD = torch.tensor([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1)


def find_vgg16_weights(path: str | None) -> Path:
    """The VGG16 weights file: the given path, else torchvision's file in the torch hub cache."""
    if path is not None:
        candidate = Path(path).expanduser()
        if candidate.is_file():
            return candidate
        raise MissingWeightsError(
            f"vgg16_weights points at {candidate}, which does not exist. Give the path of a torchvision "
            f"VGG16 state dict ({TORCHVISION_VGG16_FILE}), or set perceptual_weight: 0."
        )
    hub = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch")) / "hub" / "checkpoints"
    candidate = hub / TORCHVISION_VGG16_FILE
    if candidate.is_file():
        return candidate
    raise MissingWeightsError(
        f"Phenexplain's perceptual projection loss needs VGG16 weights, and none are on this machine "
        f"(looked for {candidate}; nothing downloads at run time). Put {TORCHVISION_VGG16_FILE} there, "
        "set vgg16_weights: PATH, or set perceptual_weight: 0 to project with pixel MSE only."
    )


class VGGPerceptualDistance(nn.Module):
    """Per-image perceptual distance between two batches of any channel count."""

    def __init__(self, weights_path: str | None = None):
        super().__init__()
        ensure_torchvision_importable()
        from torchvision.models.vgg import cfgs, make_layers

        path = find_vgg16_weights(weights_path)
        self.features = make_layers(cfgs["D"])[: FEATURE_LAYERS[-1] + 1]
        state = load_checkpoint_state(path, fix="give torchvision's VGG16 weights file (vgg16-397923af.pth)")
        if not isinstance(state, dict):
            raise MissingWeightsError(f"{path} is not a torchvision VGG16 state dict.")
        state = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
        try:
            self.features.load_state_dict(state, strict=False)
        except RuntimeError as exc:
            raise MissingWeightsError(f"{path} is not a torchvision VGG16 state dict ({exc}).") from None
        missing = [k for k in self.features.state_dict() if k not in state]
        if missing:
            raise MissingWeightsError(f"{path} is not a torchvision VGG16 state dict (lacks {missing[0]}).")
        self.features.eval().requires_grad_(False)

    def _feature_maps(self, images: torch.Tensor) -> list[torch.Tensor]:
        x = (images + 1) / 2  # [-1, 1] -> [0, 1], then ImageNet statistics
        x = (x.repeat(1, 3, 1, 1) - _MEAN.to(x)) / _STD.to(x)
        if x.shape[-1] < MIN_SIZE:
            x = F.interpolate(x, size=(MIN_SIZE, MIN_SIZE), mode="bilinear", align_corners=False)
        maps = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in FEATURE_LAYERS:
                maps.append(x / (x.square().sum(dim=1, keepdim=True) + 1e-10).sqrt())
        return maps

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        n, c, h, w = a.shape
        distance = torch.zeros(n * c, device=a.device, dtype=a.dtype)
        for fa, fb in zip(self._feature_maps(a.reshape(n * c, 1, h, w)), self._feature_maps(b.reshape(n * c, 1, h, w))):
            distance = distance + (fa - fb).square().sum(dim=1).mean(dim=[1, 2])
        return distance.reshape(n, c).mean(dim=1)
