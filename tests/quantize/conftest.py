import pytest

from tests.quantize.checkpoints import tiny_config, write_release_folder


@pytest.fixture(scope="session")
def release_folder(tmp_path_factory):
    """A tiny moshiko-pytorch-bf16 look-alike (bf16 release names, Mimi, tokenizer, config.json)."""
    folder = tmp_path_factory.mktemp("release") / "tiny-pytorch-bf16"
    state = write_release_folder(folder, tiny_config())
    return folder, state


@pytest.fixture
def out_parent(tmp_path):
    """An empty folder to put outputs in; tests check it holds nothing else afterwards."""
    parent = tmp_path / "outputs"
    parent.mkdir()
    return parent
