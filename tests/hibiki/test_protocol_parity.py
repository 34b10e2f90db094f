"""The whole file protocol (end of input, EOS) against Kyutai's own runner: moshi 0.2.13's
`run_inference.InferenceState.run` (PyTorch LMGen + Mimi, batch 1, greedy) on the same random
weights of each shape (Hibiki 1B, 2B, Zero), with and without classifier-free guidance."""

import types

import mlx.core as mx
import numpy as np
import pytest
import sentencepiece
import torch

from moshi_mlx.engine.core import FrameEngine, Sampling
from moshi_mlx.engine.loader import load_model
from moshi_mlx.errors import ConfigError
from moshi_mlx.hibiki.translator import FileTranslator, pcm_frames
from moshi_mlx.hub import folder_files

from .models import EOS, TOKENIZER_FILE

FRAMES = 10  # input frames (80 ms each)


@pytest.fixture(scope="module")
def models(hibiki_models):
    """(layout, route) -> (our LoadedModel, Kyutai's LM, Kyutai's Mimi, tokenizer), loaded once."""
    loaded = {}

    def get(layout, route="eos"):
        if (layout, route) not in loaded:
            folder, pt, mimi = hibiki_models(layout, route)
            sp = sentencepiece.SentencePieceProcessor(model_file=str(folder / TOKENIZER_FILE))
            loaded[layout, route] = (load_model(folder_files(folder)), pt, mimi, sp)
        return loaded[layout, route]

    return get


def speech(frames: int = FRAMES, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(frames * 1920) / 24000
    tone = sum(0.2 * np.sin(2 * np.pi * f * t + p) for f, p in zip((180, 430, 1100), rng.uniform(0, 6, 3)))
    return (tone * (0.5 + 0.5 * np.sin(2 * np.pi * 1.3 * t)) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)


def kyutai_run(pt, mimi, sp, pcm, cfg_coef, max_steps=200):
    """Kyutai's runner; returns (token columns [1 + dep_q, n], audio, warnings, LMGen calls)."""
    import sys

    # run_inference imports sphn (Kyutai's audio file I/O) for its main() only; it is not installed
    sys.modules.setdefault("sphn", types.ModuleType("sphn"))
    from moshi.run_inference import InferenceState

    info = types.SimpleNamespace(model_type="hibiki", stt_config={})
    state = InferenceState(info, mimi, sp, pt, batch_size=1, cfg_coef=cfg_coef, device="cpu",
                           use_sampling=False)
    recorded, warnings, step = [], [], state.lm_gen.step

    def recording_step(codes):
        if recording_step.calls >= max_steps:
            raise AssertionError("Kyutai's runner did not stop: no EOS")
        recording_step.calls += 1
        out = step(codes)
        if out is not None:
            recorded.append(out[0, :, 0].numpy())
        return out

    recording_step.calls = 0
    state.lm_gen.step = recording_step
    state.printer.log = lambda level, msg: warnings.append(msg) if level == "warning" else None
    try:
        with torch.no_grad():
            [(_, audio)] = state.run(torch.from_numpy(pcm)[None, None])
    finally:  # InferenceState streams "forever": end it so that the models serve the next case
        for module in (state.lm_gen, pt, mimi):
            module._stop_streaming()
    return np.stack(recorded, axis=1), audio[0].numpy(), warnings, recording_step.calls


def ours_run(model, pcm, cfg_coef, max_tail_s=10.0):
    core = FrameEngine(model, Sampling.greedy(), {"cfg_coef": cfg_coef})
    audio = []
    result = FileTranslator(core, max_tail_s).run(pcm_frames(pcm, 1920), len(pcm) // 1920, audio.append)
    return result, np.concatenate(audio)


CASES = [("hibiki", 1.0, "eos"), ("hibiki", 3.0, "eos"), ("hibiki_2b", 1.0, "eos"),
         ("hibiki_2b", 3.0, "eos"), ("zero", 1.0, "eos"), ("hibiki", 3.0, "early")]


@pytest.mark.parametrize("layout,cfg_coef,route", CASES)
def test_file_protocol_equals_kyutai_runner(models, layout, cfg_coef, route):
    ours, pt, mimi, sp = models(layout, route)
    pcm = speech()
    expected, expected_audio, warnings, calls = kyutai_run(pt, mimi, sp, pcm, cfg_coef)
    result, audio = ours_run(ours, pcm, cfg_coef)
    got = result.token_array(1 + ours.lm.config.dep_q)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    np.testing.assert_array_equal(got, expected)
    # steps: 1 (first frame again) + FRAMES + 1 (end of input) + silence until EOS; output = steps - 2
    assert result.eos and got[0, -1] == EOS and result.frames_in == FRAMES
    assert result.frames_out == FRAMES + 2, "EOS comes at the end-of-input step, out 2 frames later"
    assert result.steps == calls == FRAMES + 4
    assert len(set(got[0].tolist())) > 2 and len(np.unique(got[1:])) > 8, "degenerate tokens prove little"
    early = ["EOS sampled too early." in w for w in warnings].count(True)
    assert result.early_eos == early == (1 if route == "early" else 0)
    assert audio.shape == expected_audio.shape == (result.frames_out * 1920,)
    # the random Mimi decodes random codes to large values: compare relative to the signal's peak
    error = np.abs(audio - expected_audio).max() / np.abs(expected_audio).max()
    assert error < 1e-5, error
    assert np.abs(audio).max() > 1e-3


def test_no_eos_stops_at_the_cap_with_what_was_made(models):
    ours, *_ = models("hibiki", "never")
    result, audio = ours_run(ours, speech(4), 1.0, max_tail_s=0.8)
    assert not result.eos and result.early_eos == 0
    assert result.frames_out == 1 + 4 + 1 + 10 - 2 and len(audio) == result.frames_out * 1920


def test_zero_has_no_guidance(models):
    """Hibiki-Zero has no conditioner: Kyutai's LMGen refuses CFG for it ("Model has no fuser");
    so do we, before any frame, naming the model."""
    ours, *_ = models("zero")
    with pytest.raises(ConfigError, match=r"classifier-free guidance .*needs the 'description'"):
        FrameEngine(ours, Sampling.greedy(), {"cfg_coef": 3.0})


def test_loader_fixup_makes_eos_read_as_pad(models):
    ours, pt, *_ = models("hibiki")
    table = np.array(ours.lm.text_emb.weight.astype(mx.float32))
    np.testing.assert_array_equal(table[EOS], table[3])
    np.testing.assert_allclose(table, pt.text_emb.weight.detach().numpy(), atol=1e-6)
