"""The training preprocessing and its inverse: sizes, padding, rounding to the file's dtype."""

from __future__ import annotations

import numpy as np
import torch

from phenbench.imaging.normalization import Normalization
from phenbench.apply.preprocess import to_input_size, to_model, to_raw


def test_pad_mode_puts_a_small_image_in_the_centre_and_cuts_it_back_out() -> None:
    scale = Normalization(("a",), (0.0,), (100.0,), resize="pad")
    raw = np.arange(36, dtype=np.float32).reshape(1, 6, 6)
    model = to_model(raw, scale, 10)
    assert model.shape == (1, 10, 10)
    assert (model[:, :2] == -1).all() and (model[:, :, 8:] == -1).all()  # padded with background
    back = to_input_size(model, torch.from_numpy(scale.normalize(raw)), "pad")
    np.testing.assert_array_equal(to_raw(back, scale, np.dtype(np.uint8)), raw.astype(np.uint8))


def test_pad_mode_keeps_the_border_the_model_never_saw() -> None:
    scale = Normalization(("a",), (0.0,), (100.0,), resize="pad")
    source = torch.from_numpy(scale.normalize(np.full((1, 8, 8), 20.0, dtype=np.float32)))
    translated = torch.ones(1, 4, 4)  # the model's 4 x 4 centre, all bright
    back = to_input_size(translated, source, "pad")
    assert (back[:, 2:6, 2:6] == 1).all()
    assert torch.allclose(back[:, :2], source[:, :2]) and torch.allclose(back[:, :, 6:], source[:, :, 6:])


def test_resize_mode_resizes_back_and_integers_are_rounded_and_clipped() -> None:
    scale = Normalization(("a", "b"), (0.0, 0.0), (65535.0, 65535.0))
    source = torch.zeros(2, 30, 20)
    assert to_input_size(torch.zeros(2, 16, 16), source, "resize").shape == (2, 30, 20)
    values = to_raw(torch.tensor([[[-1.0, 1.0]], [[0.0, 2.0]]]), scale, np.dtype(np.uint16))
    assert values.dtype == np.uint16 and values.tolist() == [[[0, 65535]], [[32768, 65535]]]
