"""Greedy parity with Kyutai's `TTSModel.generate` (moshi 0.2.13) on random weights of both TTS
shapes: the tokens of every frame (`TTSResult.frames`: text row, then the generated codebooks with
the acoustic delay removed), the steps at which words are fed, and where generation ends. One
voice, two voices (a dialogue, speaker tokens at turn changes), a break, fewer codebooks than the
depformer has, and the 0.75B's audio-prefix voice with real classifier-free guidance."""

import numpy as np
import pytest
import torch

from moshi_mlx.engine.loader import load_model
from moshi_mlx.hub import folder_files
from moshi_mlx.tts.synth import Synthesizer, TtsSettings
from moshi_mlx.tts.voices import load_voice_file

from .tiny import build_folder, reference_tts, write_voice


@pytest.fixture(scope="module")
def speakers_model(speakers_folder):
    folder, config, pt = speakers_folder
    voices = [write_voice(folder / f"voice{i}.safetensors", seed=i) for i in range(2)]
    model = load_model(folder_files(folder))
    return model, config, pt, voices


def _ours(model, voices, turns, settings):
    rows = []
    synth = Synthesizer(model, [load_voice_file(v) for v in voices], settings, token_sink=rows.append)
    for i, turn in enumerate(turns):
        synth.push_text(turn, speaker=i % 2 if len(voices) > 1 else None)
    synth.end_of_text()
    frames = list(synth.frames())
    words = [(w.text, w.frame) for f in frames for w in f.started]
    return np.stack(rows, axis=1), frames, words, synth


def _theirs(tts, turns, voices, cfg=None, prefix=None):
    """Kyutai's frames [1 + n_q, N] and TTSResult (TTSModel.generate sets lm.dep_q: restored)."""
    dep_q = tts.lm.dep_q
    entries = tts.prepare_script(turns, padding_between=1)
    attributes = tts.make_condition_attributes(voices, cfg_coef=cfg)
    from moshi.utils.compile import no_compile

    try:  # eager: torch.compile of a few helpers costs ~25 s on this CPU and changes nothing
        with torch.no_grad(), no_compile():
            result = tts.generate([entries], [attributes], prefixes=None if prefix is None else [prefix])
    finally:
        tts.lm.dep_q = dep_q
    return torch.cat(result.frames, dim=-1)[0].numpy(), result


SCRIPTS = {
    "one voice": (["hello how are you today i am fine thank you and you"], 1),
    "dialogue": (["hello how are you", "i am fine thank you", "what would you like to talk about"], 2),
    "break": (['the weather is nice <break time="0.4s"/> this morning (let us) talk: music'], 1),
}


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_greedy_tokens_equal_kyutai(speakers_model, name):
    model, config, pt, voices = speakers_model
    turns, n_voices = SCRIPTS[name]
    n_q = 6  # fewer than the depformer's 8, as 24 of 32
    tts = reference_tts(pt, model.files.lm_path.parent, config, n_q)
    theirs, result = _theirs(tts, turns, voices[:n_voices], cfg=2.0)
    ours, frames, words, synth = _ours(model, voices[:n_voices], turns,
                                       TtsSettings(cfg=2.0, codebooks=n_q).greedy())
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    np.testing.assert_array_equal(ours, theirs)
    # words fed at the same steps (our frames count from the first audible frame: step - 2)
    transcript = result.all_transcripts[0]
    assert [w for w, _ in words] == [w for w, _ in transcript]
    assert [f for _, f in words] == [s - 2 for _, s in transcript]
    # the audio: every frame from the first audible one to the end of generation
    end = result.end_steps[0]
    assert end is not None and len(frames) == end
    assert [f.index for f in frames] == list(range(len(frames)))
    assert all(f.pcm.shape == (1920,) and np.abs(f.pcm).max() <= 1 for f in frames)
    text = ours[0] % (config.text_card + 1)
    if name == "dialogue":
        assert (text == 2).any() and (text == 1).any(), "speaker tokens at turn changes"
    chosen = sum(1 for sampled, fed in result.logged_text_tokens[0] if sampled == 0)
    assert chosen > 0, "the model itself must ask for some words"


@pytest.fixture(scope="module")
def prefix_model(tmp_path_factory):
    folder, config, pt = build_folder(tmp_path_factory.mktemp("tts-prefix"), "prefix", seed=5)
    model = load_model(folder_files(folder))
    return model, config, pt


def test_audio_prefix_voice_with_real_cfg_equals_kyutai(prefix_model, tmp_path):
    """0.75B shape: the voice is a recording, Mimi-encoded (last 2 frames dropped) and fed as a
    prefix; CFG is real (two rows), the null row without text and prefix (cfg_is_no_text,
    cfg_is_no_prefix), the text sampled from the conditioned row alone."""
    import soundfile as sf

    model, config, pt = prefix_model
    t = np.arange(24000 * 1) / 24000
    wav = tmp_path / "voice.wav"
    sf.write(wav, (0.3 * np.sin(2 * np.pi * 220 * t) * np.sin(2 * np.pi * 3 * t)).astype(np.float32), 24000)
    voice = load_voice_file(wav)
    rows = []
    synth = Synthesizer(model, [voice], TtsSettings(cfg=2.0).greedy(), token_sink=rows.append)
    turns = ["hello how are you today i am fine"]
    synth.push_text(turns[0])
    synth.end_of_text()
    frames = list(synth.frames())
    ours = np.stack(rows, axis=1)
    prefix = np.concatenate([np.full((1, synth.prefix_len), -1), synth.prefix], axis=0)

    tts = reference_tts(pt, model.files.lm_path.parent, config, config.n_q, cfg_coef=2.0)
    theirs, result = _theirs(tts, turns, [], prefix=torch.tensor(prefix))
    np.testing.assert_array_equal(ours, theirs)
    assert len(frames) == result.end_steps[0] - synth.prefix_len
    assert synth.prefix_len == 13 - 2  # 1 s = 12.5 frames -> 13 encoded, the last 2 dropped


def test_prefix_codes_equal_kyutai_get_prefix(prefix_model, tmp_path):
    """The prefix our codec makes from a recording equals the codes of Kyutai's Mimi (get_prefix)."""
    import soundfile as sf

    from tests.mimi.reference import reference_mimi
    from moshi_mlx.mimi import MimiConfig

    model, config, pt = prefix_model
    wav = tmp_path / "voice.wav"
    sf.write(wav, (0.2 * np.random.default_rng(0).standard_normal(30000)).astype(np.float32), 24000)
    synth = Synthesizer(model, [load_voice_file(wav)], TtsSettings().greedy())
    tts = reference_tts(pt, model.files.lm_path.parent, config, config.n_q)
    tts.mimi = reference_mimi(MimiConfig.tiny(), model.files.mimi_path, num_codebooks=config.n_q)
    expected = tts.get_prefix(wav).numpy()
    assert (expected[0] == -1).all()
    np.testing.assert_array_equal(synth.prefix, expected[1:])
