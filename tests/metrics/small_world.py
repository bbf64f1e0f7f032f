"""A small synthetic world for end-to-end metric tests: 32 x 32, one cell per image, one compound at
three doses with strong effects, 12 training and 12 test images per condition (seconds to score)."""

from __future__ import annotations

SMALL_WORLD = {
    "image_size": 32,
    "min_cells": 1,
    "max_cells": 1,
    "train_per_condition": 12,
    "test_per_condition": 12,
    "compounds": [
        {
            "name": "shrinkin",
            "concentrations": [0.3, 1.0, 3.0],
            "ec50": 1.0,
            "hill_slope": 1.5,
            "effects": [
                {"parameter": "cytoplasm_radius", "max_shift": -5.0},
                {"parameter": "actin_intensity", "max_shift": -0.5},
            ],
        }
    ],
}
TARGETS = ("shrinkin@0.3", "shrinkin@1", "shrinkin@3")
