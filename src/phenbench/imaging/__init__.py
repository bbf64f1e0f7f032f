"""Image helpers below every command and method: display, figures, files and names, intensity maps.

`display` (channel colours and contrast), `figures` (labelled panel figures: dose series, contact
sheets, grids; PNG, SVG/PDF, GIF), `files` (atomic PNG/TIFF writes, file-safe condition names) and
`normalization` (the intensity map between a screen's raw pixels and a model's [-1, 1]) import
nothing of phenbench but `core.errors`, so `core`, the translators, `apply` and the report can all
use them without reaching up into each other.
"""
