"""`phenbench` with a `slow-identity` translator (it sleeps per call), so that a test can kill a run or
a translate job half-way. Run as `python -m tests.robustness.slow_cli ARGS...` from the repository.

The translator is added to the built-in plugins (not passed to one plugin manager), so that every
command finds it, `translate` included, which builds its own registries."""

from __future__ import annotations

from phenbench.core.registry import Registration
from phenbench.hookspecs import hookimpl


@hookimpl
def register_translators() -> list[Registration]:
    return [Registration("slow-identity", "tests.apply.slow_translate:SlowIdentity", "sleeps, for tests")]


if __name__ == "__main__":
    from phenbench.cli import main
    from phenbench.core import plugins

    plugins.DEFAULT_PLUGINS += ("tests.robustness.slow_cli",)
    main()
