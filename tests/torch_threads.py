"""One torch thread for tiny models: on a loaded 2-core machine, thread hand-offs cost more than
the arithmetic they split. A conftest that imports `one_torch_thread` applies it to its folder."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
