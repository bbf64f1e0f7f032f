"""One torch thread for these tiny models (2 shared cores), and saved translators shared by a module."""

import pytest
import torch

from tests.apply.helpers import save_identity, save_stargan
from tests.torch_threads import one_torch_thread  # noqa: F401 (autouse fixture)


@pytest.fixture(scope="session")
def identity_checkpoint(tmp_path_factory):
    return save_identity(tmp_path_factory.mktemp("identity"))


@pytest.fixture(scope="session")
def stargan_checkpoint(tmp_path_factory):
    torch.set_num_threads(1)
    return save_stargan(tmp_path_factory.mktemp("stargan"))
