"""User-facing errors: one line that names the thing that is wrong and how to fix it.

The CLI prints these as `Error: <message>` and exits with status 2 instead of a traceback; any
other exception is a bug in phenbench and keeps its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class PhenbenchError(Exception):
    """An error caused by the user's input or environment, with a message that says the fix."""


class ConfigError(PhenbenchError):
    """A configuration that cannot be used (unknown key, wrong type, bad value)."""


class UnknownNameError(PhenbenchError, KeyError):
    """A name that is not registered (a translator, dataset, metric or condition)."""

    def __init__(self, kind: str, name: str, known: Iterable[str]):
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        message = f"Unknown {kind} '{name}'."
        if close:
            message += f" Did you mean: {', '.join(close)}?"
        else:
            message += f" Known: {', '.join(known) if known else '(none registered)'}."
        super().__init__(message)
        self.kind, self.name, self.known, self.suggestions = kind, name, known, close

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.args[0]


class DataError(PhenbenchError):
    """Input data that cannot be read or used (missing file, corrupt image, wrong shape, NaNs)."""


class MissingWeightsError(PhenbenchError):
    """Pretrained weights that are needed but not present locally and cannot be downloaded."""
