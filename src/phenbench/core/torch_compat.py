"""Make `import torchvision` work on a CPU-only torch with a CUDA build of torchvision.

The registry's torchvision wheel may be a CUDA build whose compiled extension cannot load on a CPU
torch. torchvision then registers fake kernels for `torchvision::nms` and `torchvision::qnms`
without checking that the extension defined their schemas, and the import fails with
"operator torchvision::nms does not exist". That breaks torch-fidelity and diffusers, which import
torchvision. Defining the two schemas first lets the import succeed: transforms and models work,
only the compiled ops (nms, image decoding) do not. Where the extension loads, nothing changes.
"""

from __future__ import annotations

import torch

_SCHEMAS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}
_library: torch.library.Library | None = None  # kept alive: the schemas live as long as it does


def _has_schema(name: str) -> bool:
    try:
        torch._C._dispatch_find_schema_or_throw(f"torchvision::{name}", "")
        return True
    except RuntimeError:
        return False


def _extension_loads() -> bool:
    """Whether torchvision's compiled extension loads (it then defines the schemas itself)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return True  # no torchvision: nothing to fix
    for folder in spec.submodule_search_locations:
        for library in sorted(Path(folder).glob("_C*")):
            if library.suffix in (".so", ".pyd", ".dylib"):
                try:
                    torch.ops.load_library(str(library))
                    return True
                except (OSError, RuntimeError):
                    return False
    return False


def ensure_torchvision_importable() -> None:
    """Define the missing torchvision op schemas, once, before torchvision is first imported."""
    global _library
    import sys

    if "torchvision" in sys.modules or _library is not None:
        return
    if all(_has_schema(name) for name in _SCHEMAS) or _extension_loads():
        return
    _library = torch.library.Library("torchvision", "FRAGMENT")
    for name, schema in _SCHEMAS.items():
        if not _has_schema(name):
            _library.define(schema)
