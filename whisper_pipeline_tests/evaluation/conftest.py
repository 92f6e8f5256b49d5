"""Fixtures shared by the evaluation tests."""

import pytest


@pytest.fixture
def one_torch_thread():
    """A 64-wide model gains nothing from threads; on a busy 2-core machine they only wait on each other."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
