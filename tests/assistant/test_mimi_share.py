"""An assistant session whose STT and TTS name the same Mimi weights loads one Mimi: each keeps its
own streaming state, and the STT's tokens and the TTS's audio are those of two separate Mimis."""

import shutil

import numpy as np
import pytest

from moshi_mlx.assistant.options import AssistantOptions
from moshi_mlx.assistant.session import Assistant
from moshi_mlx.demo import MIMI_FILE, demo_model_dir
from moshi_mlx.engine import mlx_worker
from moshi_mlx.mimi.share import MimiShare, same_bytes


@pytest.fixture
def tts_with_stt_mimi(home, tmp_path):
    """demo-tts in a folder of its own whose Mimi file is demo-stt's (same configuration, 32
    codebooks, another file: as Kyutai's STT 1B and TTS 1.6B)."""
    folder = tmp_path / "tts"
    shutil.copytree(demo_model_dir(home, "demo-tts"), folder)
    shutil.copyfile(demo_model_dir(home, "demo-stt") / MIMI_FILE, folder / MIMI_FILE)
    return str(folder)


def _run(events, tts: str, share):
    """STT frames and TTS steps interleaved on one thread: (STT tokens and end-of-turn head
    probabilities, TTS audio, the codecs)."""
    loader = Assistant(events)
    tr = loader._load_stt(AssistantOptions(stt="demo-stt", seed=3), share)
    synth = loader._load_tts(AssistantOptions(stt=None, tts=tts, seed=3), share)
    rng = np.random.default_rng(0)
    speech = (0.1 * rng.standard_normal(1920 * 24)).astype(np.float32)
    tr.keep_tokens, heads = True, []
    tr.frame_hook = lambda frame, token, probs: heads.append(probs)
    tr.reset()
    synth.reset()
    synth.push_text("Hello there my friend.")
    synth.end_of_text()
    audio, frame = [], 0
    while (state := synth.poll()) == "step" or frame < 24:
        if frame < 24:
            tr.push(speech[frame * 1920:(frame + 1) * 1920])
            frame += 1
        if state == "step" and (out := synth.step()) is not None:
            audio.append(out.pcm)
    assert all(h is not None for h in heads)  # demo-stt has end-of-turn heads: floats that follow the codes
    return np.concatenate([tr.tokens(), np.concatenate(heads).ravel()]), np.concatenate(audio), \
        tr.model.codec, synth.model.codec


def test_one_mimi_gives_what_two_give(events, tts_with_stt_mimi):
    def body():
        share = MimiShare()
        shared = _run(events, tts_with_stt_mimi, share)
        return share.shared, shared, _run(events, tts_with_stt_mimi, None)

    count, (tokens, audio, stt_codec, tts_codec), (tokens2, audio2, stt2, tts2) = \
        mlx_worker.submit(body).result(timeout=300)
    assert count == 1
    assert stt_codec.model is tts_codec.model and stt_codec is not tts_codec
    assert stt_codec.state is not tts_codec.state
    assert stt2.model is not tts2.model
    assert tokens.size and audio.size
    np.testing.assert_array_equal(tokens, tokens2)
    np.testing.assert_array_equal(audio, audio2)


def test_different_mimis_are_not_shared(events, home):
    def body():
        share = MimiShare()
        loader = Assistant(events)
        tr = loader._load_stt(AssistantOptions(stt="demo-stt", seed=3), share)
        synth = loader._load_tts(AssistantOptions(stt=None, tts="demo-tts", seed=3), share)
        return share.shared, tr.model.codec.model is synth.model.codec.model

    assert mlx_worker.submit(body).result(timeout=300) == (0, False)


def test_same_bytes(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    a.write_bytes(b"mimi" * 100)
    b.write_bytes(b"mimi" * 100)
    c.write_bytes(b"mimo" * 100)
    assert same_bytes(a, a) and same_bytes(a, b) and not same_bytes(a, c)
    # Hugging Face cache blobs are named by their SHA-256: compared by name, not read
    blobs = tmp_path / "blobs"
    blobs.mkdir()
    x, y = blobs / ("1" * 64), blobs / ("2" * 64)
    x.write_bytes(b"same")
    y.write_bytes(b"same")
    (tmp_path / "x").symlink_to(x)
    (tmp_path / "y").symlink_to(y)
    assert not same_bytes(tmp_path / "x", tmp_path / "y")
