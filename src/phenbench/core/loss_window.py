"""A fit's step losses kept on the device and read back once per window of steps.

Reading a loss back (`.item()`) waits for the device, and averaging it across processes is a
collective: doing both every step stalls the training loop. The losses of a window are stacked and
averaged across processes in one all-reduce at its end; the curve still holds every step's loss.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch


class Curve(Protocol):
    """Where read-back losses go: a list of floats, or anything that takes rows as a list extends
    (a step's loss of several terms arrives as one row, `[g, d]` say)."""

    def extend(self, rows: list[Any], /) -> None: ...


class LossWindow:
    """Appends to `curve` (the fit's loss history) the mean over processes of each step's loss; with
    no accelerator, this process's own losses (a model that only this process trains)."""

    def __init__(self, accelerator: Any | None, curve: Curve):
        self.accelerator, self.curve = accelerator, curve
        self._pending: list[torch.Tensor] = []

    def add(self, loss: torch.Tensor, done: int, every: int, last: int) -> bool:
        """Keep the loss of step `done` (counted from 1); read the window back after every `every`
        steps and after step `last`. True when it was read back."""
        self.keep(loss)
        if done % every and done != last:
            return False
        self.flush()
        return True

    def keep(self, loss: torch.Tensor) -> None:
        """Keep a loss until the next `flush` (a curve read back when another one is)."""
        self._pending.append(loss.detach())

    def flush(self) -> None:
        """Read back the steps kept so far (before a checkpoint, which holds the whole curve)."""
        if self._pending:
            window = torch.stack(self._pending)
            if self.accelerator is not None:
                window = self.accelerator.reduce(window, reduction="mean")
            self.curve.extend(window.tolist())
            self._pending.clear()
