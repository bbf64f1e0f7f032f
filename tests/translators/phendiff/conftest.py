"""One torch thread for these tiny models: on a loaded 2-core machine, thread hand-offs cost more
than the arithmetic they split."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
