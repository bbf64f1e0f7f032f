"""A fit's checkpoint resumed on another number of processes is refused (its data order would change)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from phenbench.core.errors import ConfigError
from phenbench.core.translator import FitOptions
from phenbench.datasets.in_memory import random_dataset
from phenbench.translators.cellflux.translator import CellFluxTranslator
from phenbench.translators.phendiff.translator import PhenDiffTranslator
from phenbench.translators.phenexplain.translator import PhenexWTranslator
from phenbench.translators.stargan.translator import StarGANTranslator
from tests.translators.cellflux.test_cellflux_contract import tiny_config as cellflux_config
from tests.translators.phendiff.test_contract import tiny_config as phendiff_config
from tests.translators.phenexplain.test_contract import tiny_config as phenexplain_config
from tests.translators.stargan.test_stargan_contract import tiny_config as stargan_config
from tests.torch_threads import one_torch_thread  # noqa: F401 (autouse fixture)


def pretend_written_by_two_processes(path: Path) -> None:
    state = torch.load(path, weights_only=True)
    assert state["processes"] == 1
    state["processes"] = 2
    torch.save(state, path)


@pytest.mark.parametrize("translator_class,config,state_file", [
    (CellFluxTranslator, cellflux_config, "cellflux-training.pt"),
    (PhenDiffTranslator, phendiff_config, "step-*/state.pt"),
    (StarGANTranslator, stargan_config, "stargan-training.pt"),
    (PhenexWTranslator, phenexplain_config, "phenexplain_training.pt"),
])
def test_resume_on_another_process_count_is_refused(translator_class, config, state_file, tmp_path) -> None:
    data = random_dataset(channels=1, image_size=8)
    options = FitOptions(seed=0, progress=False, checkpoint_dir=tmp_path, checkpoint_every=1)
    translator_class(config(2), data.spec).fit(data, options)
    for path in tmp_path.glob(state_file):
        pretend_written_by_two_processes(path)
    with pytest.raises(ConfigError, match="2 process\\(es\\) and this fit runs on 1"):
        translator_class(config(4), data.spec).fit(data, options)
