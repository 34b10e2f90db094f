import pytest

from moshi_mlx.mimi import MimiConfig

from .reference import reference_mimi, write_release_checkpoint


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("mimi_tiny") / "tokenizer-tiny.safetensors"
    write_release_checkpoint(MimiConfig.tiny(), path, seed=1)
    return path


@pytest.fixture(scope="session")
def full_checkpoint(tmp_path_factory):
    """Random full-size Mimi in the release format (385 MB)."""
    path = tmp_path_factory.mktemp("mimi_full") / "tokenizer-e351c8d8-checkpoint125.safetensors"
    write_release_checkpoint(MimiConfig.moshi(), path, seed=2)
    return path


@pytest.fixture(scope="session")
def full_reference(full_checkpoint):
    return reference_mimi(MimiConfig.moshi(), full_checkpoint)
