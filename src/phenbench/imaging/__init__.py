"""Image helpers below every command and method: display, files and names, panels, intensity maps.

`display` (channel colours and contrast), `files` (atomic PNG/TIFF writes, file-safe condition
names), `panels` (composites, strips, GIFs) and `normalization` (the intensity map between a
screen's raw pixels and a model's [-1, 1]) import nothing of phenbench but `core.errors`, so `core`,
the translators, `apply` and the report can all use them without reaching up into each other.
"""
