"""LPIPS (VGG16) for projection, as StyleGAN2-ADA's projector uses it, from weights already on disk.

LPIPS (Zhang et al., 2018, v0.1) compares unit-normalised VGG16 features at relu1_2, relu2_2,
relu3_3, relu4_3 and relu5_3, weights each layer's squared differences per channel by a learned
linear head, averages over space and sums over layers. The heads and the input scaling come from
the `lpips` package, whose wheel ships them; the VGG16 trunk comes from torchvision's VGG16 file on
this machine (`vgg16_weights`, or the torch hub cache), because nothing downloads at run time.
Without that file, a `MissingWeightsError` says where it was looked for and how to project without it.

VGG expects RGB: three-channel images are compared as RGB (as the reference does); any other
channel count is compared channel by channel (each replicated to three) and the distances averaged.
Images larger than 256 px are reduced to 256 px by area averaging first (as the reference projector
does); images under 32 px are enlarged to 32 px, below which VGG's poolings leave no pixels.

The target's features do not change during a projection: `features` computes them once, and
`distance_to` compares a batch with them, so each projection step runs VGG on the synthesised
images only.
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
LAYER_CHANNELS = (64, 128, 256, 512, 512)
MIN_SIZE = 32
MAX_SIZE = 256


def find_vgg16_weights(path: str | None) -> Path:
    """The VGG16 weights file: the given path, else torchvision's file in the torch hub cache."""
    if path is not None:
        candidate = Path(path).expanduser()
        if candidate.is_file():
            return candidate
        raise MissingWeightsError(
            f"vgg16_weights points at {candidate}, which does not exist. Give the path of a torchvision "
            f"VGG16 state dict ({TORCHVISION_VGG16_FILE}), or project with pixel MSE only "
            "(perceptual_weight: 0, mse_weight: 1)."
        )
    hub = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch")) / "hub" / "checkpoints"
    candidate = hub / TORCHVISION_VGG16_FILE
    if candidate.is_file():
        return candidate
    raise MissingWeightsError(
        f"Phenexplain's LPIPS projection loss needs VGG16 weights, and none are on this machine "
        f"(looked for {candidate}; nothing downloads at run time). Put {TORCHVISION_VGG16_FILE} there, "
        "set vgg16_weights: PATH, or project with pixel MSE only (perceptual_weight: 0, mse_weight: 1)."
    )


def lpips_heads_file() -> Path:
    """LPIPS v0.1's VGG heads, as shipped inside the `lpips` wheel."""
    import lpips

    return Path(lpips.__file__).parent / "weights" / "v0.1" / "vgg.pth"


class LPIPSDistance(nn.Module):
    """Per-image LPIPS-VGG distance between batches of any channel count, in [-1, 1] units."""

    def __init__(self, weights_path: str | None = None):
        super().__init__()
        path = find_vgg16_weights(weights_path)
        ensure_torchvision_importable()
        import lpips
        from torchvision.models.vgg import cfgs, make_layers

        self.trunk = make_layers(cfgs["D"])[: FEATURE_LAYERS[-1] + 1]
        state = load_checkpoint_state(path, fix="give torchvision's VGG16 weights file (vgg16-397923af.pth)")
        if not isinstance(state, dict):
            raise MissingWeightsError(f"{path} is not a torchvision VGG16 state dict.")
        state = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
        state = {k: v for k, v in state.items() if int(k.split(".")[0]) <= FEATURE_LAYERS[-1]}
        try:
            self.trunk.load_state_dict(state)
        except RuntimeError as exc:
            first = str(exc).splitlines()[0]
            raise MissingWeightsError(f"{path} is not a torchvision VGG16 state dict ({first}).") from None
        self.scaling = lpips.ScalingLayer()
        self.heads = nn.ModuleList(lpips.NetLinLayer(channels, use_dropout=True) for channels in LAYER_CHANNELS)
        heads = load_checkpoint_state(lpips_heads_file(), fix="reinstall the lpips package")
        self.heads.load_state_dict({k.replace("lin", "", 1): v for k, v in heads.items()})
        self._normalize = lpips.normalize_tensor
        self.eval().requires_grad_(False)

    def features(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Unit-normalised VGG16 features, one map per layer, of (N x groups) RGB images."""
        n, c, h, w = images.shape
        x = images if c == 3 else images.reshape(n * c, 1, h, w).expand(-1, 3, -1, -1)
        if h > MAX_SIZE:
            x = F.interpolate(x, size=(MAX_SIZE, MAX_SIZE), mode="area")
        elif h < MIN_SIZE:
            x = F.interpolate(x, size=(MIN_SIZE, MIN_SIZE), mode="bilinear", align_corners=False)
        x = self.scaling(x)
        maps = []
        for index, layer in enumerate(self.trunk):
            x = layer(x)
            if index in FEATURE_LAYERS:
                maps.append(self._normalize(x))
        return maps

    def distance_to(self, target: list[torch.Tensor], images: torch.Tensor) -> torch.Tensor:
        """Per image: LPIPS between `images` and the images whose `features` are `target`."""
        n, c = images.shape[:2]
        total = sum(
            head(difference).mean(dim=[1, 2, 3])
            for head, difference in zip(self.heads, ((a - b).square() for a, b in zip(self.features(images), target)))
        )
        return total.reshape(n, -1).mean(dim=1)  # channel by channel: the mean over channels

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.distance_to(self.features(b), a)
