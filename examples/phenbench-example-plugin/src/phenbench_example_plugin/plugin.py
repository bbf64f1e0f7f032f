"""The hook implementations phenbench calls. Keep this module light: no torch at import time,
so that `phenbench list` stays fast; the translator class is named as a 'module:Class' string."""

from phenbench import hookimpl
from phenbench.core.registry import Registration


@hookimpl
def register_translators() -> list[Registration]:
    return [
        Registration(
            name="channel-shift",
            target="phenbench_example_plugin.translator:ChannelShiftTranslator",
            summary="Example plugin: shifts each channel's mean from the source to the target condition.",
        )
    ]
