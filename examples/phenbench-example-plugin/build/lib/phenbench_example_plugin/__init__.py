"""An example phenbench plugin registering the `channel-shift` translator."""

__version__ = "0.1.0"
