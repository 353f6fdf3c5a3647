"""Shared fixture for the avatar tests: the tiny StableAvatar checkpoints, written once per session."""
import pytest


@pytest.fixture(scope="session")
def avatar_checkpoints(tmp_path_factory):
    from core.engines.avatar import weights

    root = tmp_path_factory.mktemp("avatar_checkpoints")
    weights.make_test_checkpoints(root)
    return root
