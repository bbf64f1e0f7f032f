"""Reading training checkpoints without running code: tensors and plain values only.

A resume checkpoint is a file a user can be handed (a shared `runs/` folder, a downloaded one).
`torch.load(weights_only=False)` unpickles whatever it holds, and a pickle can call any function
(`os.system`, say) while it loads. So every checkpoint is read with `weights_only=True`, torch's
restricted unpickler: tensors, numbers, strings, None and lists, tuples and dicts of them. Anything
else is refused with one line naming the file and the foreign object, and nothing of it runs.

Checkpoints therefore hold only such values. NumPy's random state (a tuple with an ndarray in it)
is the one non-plain thing a fit needs to keep; `numpy_rng_state` turns it into a tensor and back.
"""

from __future__ import annotations

import pickle
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from phenbench.core.errors import PhenbenchError


class UnsafeCheckpointError(PhenbenchError):
    """A checkpoint that holds objects other than tensors and plain values: never unpickled."""


def load_checkpoint_state(path: Path, *, map_location: Any = "cpu", fix: str) -> Any:
    """The object saved at `path` by `torch.save`, read with torch's restricted unpickler.

    `fix` ends each message: what the user can do (e.g. "delete it, or run with --fresh").
    """
    try:
        with warnings.catch_warnings():  # torch warns about odd pickle protocols: the error below says it all
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        what = f" ({found.group(1)})" if found else ""
        raise UnsafeCheckpointError(
            f"The checkpoint {path} holds Python objects other than tensors and plain values{what}; "
            f"phenbench does not unpickle them, since loading them could run code. If you did not write it, {fix}."
        ) from None
    except (OSError, RuntimeError, EOFError, ValueError) as exc:  # truncated, empty or not a torch file
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PhenbenchError(f"The checkpoint {path} cannot be read ({first}); {fix}.") from None


def numpy_rng_state() -> dict[str, Any]:
    """NumPy's global random state as plain values (a checkpoint can hold no ndarray)."""
    kind, keys, position, has_gauss, cached = np.random.get_state()
    return {
        "kind": str(kind),
        "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
        "position": int(position),
        "has_gauss": int(has_gauss),
        "cached_gaussian": float(cached),
    }


def restore_numpy_rng_state(state: dict[str, Any]) -> None:
    """Undo `numpy_rng_state`."""
    keys = state["keys"].numpy().astype(np.uint32)
    np.random.set_state((state["kind"], keys, state["position"], state["has_gauss"], state["cached_gaussian"]))
