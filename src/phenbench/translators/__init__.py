"""Built-in translators, one folder per method. A translator never imports another translator."""
