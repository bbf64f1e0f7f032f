"""Every built-in translator, tiny and barely trained, through `translate_folder` (dose series)."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import torch

from phenbench.imaging.normalization import Normalization
from phenbench.apply.preprocess import to_model, to_raw
from phenbench.apply.runner import TranslateOptions, load_translator, translate_folder
from phenbench.core.plugins import load_registries
from phenbench.core.translator import FitOptions
from phenbench.datasets.in_memory import InMemoryDataset
from phenbench.translators.real_target.translator import RealTargetConfig
from tests.apply.helpers import CHANNELS, CONDITIONS, spec, write_tiff_folder
from tests.translators.cellflux.test_cellflux_contract import tiny_config as cellflux_config
from tests.translators.cyclegan.test_cyclegan_contract import tiny_config as cyclegan_config
from tests.translators.phendiff.test_contract import tiny_config as phendiff_config
from tests.translators.phenexplain.test_contract import tiny_config as phenexplain_config
from tests.translators.stargan.test_stargan_contract import tiny_config as stargan_config

SIZE = 8
CONFIGS = {
    "phendiff": lambda: phendiff_config(2),
    "stargan": lambda: stargan_config(2),
    "cellflux": lambda: cellflux_config(2),
    "cyclegan": lambda: cyclegan_config(2),
    "phenex-w": lambda: phenexplain_config(2),
    "phenex-wplus": lambda: phenexplain_config(2),
    "real-target": RealTargetConfig,
}


def test_every_registered_translator_is_covered() -> None:
    assert set(load_registries(entry_points=False).translators.names()) == set(CONFIGS) | {"identity"}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_dose_series_through_each_translator(name: str, tmp_path) -> None:
    data_spec = spec(size=SIZE)
    n = 4 * len(CONDITIONS)
    images = torch.rand(n, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0)) * 2 - 1
    labels = [i % len(CONDITIONS) for i in range(n)]
    data = InMemoryDataset(data_spec, {"train": images, "test": images}, {"train": labels, "test": labels})
    cls = load_registries(entry_points=False).translators.load(name)
    translator = cls(CONFIGS[name](), data_spec)
    translator.fit(data, FitOptions(seed=0, progress=False, pairs=((0, 1), (0, 2), (0, 3))))
    translator.save(tmp_path / "model")
    scale = Normalization(CHANNELS, (0.0,) * 3, (65535.0,) * 3)
    scale.save(tmp_path / "model")
    inputs = write_tiff_folder(tmp_path / "in", 2, shape=(3, SIZE, SIZE))

    report = translate_folder(TranslateOptions(checkpoint=tmp_path / "model", images=tmp_path / "in",
                                               out=tmp_path / "out", source="DMSO", dose_series="drug",
                                               batch_size=2, progress=False))
    assert report.written == 2 * (3 + 4)  # per input: 3 doses, the figure (PNG, SVG), its panels (.npy), the GIF

    # the files hold what the model itself gives for the same batch, mapped back to 16 bits
    loaded = load_translator(tmp_path / "model")
    batch = torch.stack([to_model(tifffile.imread(p), scale, SIZE) for p in inputs])
    torch.manual_seed(0)  # the seed of batch 0
    with torch.no_grad():
        expected = loaded.translate_to_each(batch, "DMSO", ["drug@0.3", "drug@1", "drug@10"])
    for target_index, result in expected.items():
        target = data_spec.conditions.name(target_index)
        for i, path in enumerate(inputs):
            written = tifffile.imread(tmp_path / "out" / target / path.name)
            assert written.dtype == np.uint16 and written.shape == (3, SIZE, SIZE)
            np.testing.assert_array_equal(written, to_raw(result.images[i], scale, np.dtype(np.uint16)))
    assert all((tmp_path / "out" / "series" / "drug" / p.with_suffix(".gif").name).is_file() for p in inputs)
