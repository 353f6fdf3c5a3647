"""Fixtures for the avatar tests (loaded with ``pytest_plugins``): the tiny StableAvatar checkpoints, written once
per session, and one torch thread for the test that asks for it."""
import pytest


@pytest.fixture(scope="session")
def avatar_checkpoints(tmp_path_factory):
    from core import weights

    return weights.make_test_checkpoints(tmp_path_factory.mktemp("avatar_checkpoints"), only=["avatar"])


@pytest.fixture
def one_torch_thread():
    """The tiny models are too small to gain from threads; on a shared machine threads only add waiting."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
