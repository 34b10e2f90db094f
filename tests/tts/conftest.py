import pytest


@pytest.fixture(scope="module", autouse=True)
def torch_one_thread():
    """The reference's tiny attention calls spend ~10x longer in thread hand-offs than in
    arithmetic on this shared 2-core machine: one thread."""
    from .tiny import one_torch_thread

    with one_torch_thread():
        yield


@pytest.fixture(scope="session")
def speakers_folder(tmp_path_factory):
    """The tiny 1.6B-shaped model folder: (folder, LmConfig, PyTorch LM), built once."""
    from .tiny import build_folder, one_torch_thread

    with one_torch_thread():
        return build_folder(tmp_path_factory.mktemp("tts-speakers"), "speakers")


@pytest.fixture(scope="session")
def tts_home(tmp_path_factory, demo_models):
    """MOSHI_MLX_HOME with the demo-tts model built once."""
    return demo_models.home(tmp_path_factory.mktemp("moshi-home"), "demo-tts")
