import shutil
import subprocess

import numpy as np
import pytest
import torch

from .checkpoints import FORMS, SHAPES, lm_config, shared_files, write_folder


@pytest.fixture(scope="session")
def speech_file(tmp_path_factory):
    """A short English sentence spoken by espeak-ng (22.05 kHz mono WAV)."""
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is not installed: run scripts/install_system_deps.sh")
    path = tmp_path_factory.mktemp("stt-speech") / "hello.wav"
    subprocess.run(["espeak-ng", "-w", str(path), "Hello there. How are you today?"], check=True)
    return path


@pytest.fixture(scope="session")
def speech(speech_file):
    """The sentence as the engine reads it: 24 kHz mono float32."""
    from moshi_mlx import audio_io

    return audio_io.read_audio(speech_file)


@pytest.fixture(scope="session")
def stt_models(tmp_path_factory):
    """`get(shape, form)` -> (folder, PyTorch reference LM, shared files); built on first use."""
    from tests.lm.reference import pytorch_lm

    root = tmp_path_factory.mktemp("stt-models")
    shared = shared_files(root / "shared")
    references, folders = {}, {}

    def get(shape: str, form: str):
        assert shape in SHAPES and form in FORMS
        if shape not in references:
            references[shape] = pytorch_lm(lm_config(shape), seed=11 + list(SHAPES).index(shape))
        if (shape, form) not in folders:
            folders[shape, form] = write_folder(root / f"{shape}-{form}", shape, form, references[shape], shared)
        return folders[shape, form], references[shape], shared

    return get


@pytest.fixture(scope="session")
def demo_stt_home(tmp_path_factory, demo_models):
    return demo_models.home(tmp_path_factory.mktemp("stt-home"), "demo-stt")


@pytest.fixture(autouse=True)
def _torch_threads():
    torch.set_num_threads(2)
    np.random.seed(0)


