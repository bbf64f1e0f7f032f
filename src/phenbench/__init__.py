"""phenbench: train, run and compare phenotype translators for cell microscopy.

Importing this package is cheap: torch and the model libraries are imported only by the modules
that need them, so that `phenbench --help` and `phenbench list` start instantly.
"""

__version__ = "0.1.0"

from phenbench.hookspecs import hookimpl  # noqa: E402  (plugins write `from phenbench import hookimpl`)

__all__ = ["__version__", "hookimpl"]
