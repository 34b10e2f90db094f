"""The persona prompt: what the model is fed, call by call, equals PersonaPlex's protocol (an
independent construction from the SPEC's rules); batched prefill equals frame-by-frame steps; a
kept prompt state restores to the same stream; a voice replayed from stored embeddings (NVIDIA's
.pt) equals the same voice fed as codes."""

import mlx.core as mx
import numpy as np
import pytest

from moshi_mlx.lm import LmGen, make_sampler
from moshi_mlx.lm.delays import UNGENERATED
from moshi_mlx.personas.prompt import Persona, PromptError, build_prompt, prompt_states, run_prompt
from moshi_mlx.personas.protocol import SILENCE_TOKENS, SINE_TOKENS
from moshi_mlx.personas.voices import Voice

from .conftest import CONFIG, Tokens

ROLE = "You teach French."


def spec_positions(voice, role_ids, config=CONFIG):
    """The temporal input of every prompt position, written from the SPEC's rules directly:
    position 0 = all initial tokens; position 1 = text PAD, Moshi cb0 = voice frame 1, Moshi cb1-7
    initial, user cb0 = sine, user cb1-7 initial; position p >= 2 = the text given at call p, Moshi
    cb0 of frame p, Moshi cb1-7 of frame p-1, the sine. Calls: the voice frames, 6 spacer frames
    (PAD, silence), the role tokens (silence), 6 spacer frames."""
    pad, t_init, a_init = config.existing_text_padding_id, config.text_card, config.card
    moshi = [list(f) for f in voice] + [list(SILENCE_TOKENS)] * (12 + len(role_ids))
    texts = [pad] * (len(voice) + 6) + list(role_ids) + [pad] * 6
    sine = list(SINE_TOKENS)
    rows = [[t_init] + [a_init] * 16,
            [texts[1], moshi[1][0]] + [a_init] * 7 + [sine[0]] + [a_init] * 7]
    for p in range(2, len(texts)):
        rows.append([texts[p], moshi[p][0], *moshi[p - 1][1:], *sine])
    return np.array(rows), moshi[-1]


def recorder(gen):
    """Record the temporal inputs `gen` is fed: prefilled rows and each step's input."""
    fed = []
    prefill, frame_input = gen.prefill, gen.frame_input

    def rec_prefill(frames=None, *, embeddings=None):
        fed.extend(np.asarray(frames) if frames is not None else [None] * len(embeddings))
        return prefill(frames, embeddings=embeddings)

    def rec_input(codes):
        row = frame_input(codes)
        fed.append(row.copy())
        return row

    gen.prefill, gen.frame_input = rec_prefill, rec_input
    return fed


def make_gen(lm, seed=0, temperature=0.0):
    top_k = 1 if temperature == 0 else 20
    return LmGen(lm, make_sampler(temperature, top_k=top_k), make_sampler(temperature, top_k=top_k),
                 seed=seed, dtype=mx.float32, codebooks=8)


def persona(voice_codes, role=ROLE, embeddings=None):
    return Persona(Voice("test", np.asarray(voice_codes), embeddings, "test"), role)


@pytest.mark.parametrize("batched", [True, False])
def test_fed_tokens_follow_the_protocol(lm, voice_codes, batched):
    prompt = build_prompt(CONFIG, Tokens(), persona(voice_codes))
    role_ids = Tokens().encode("<system> " + ROLE + " <system>")
    expected, last_frame = spec_positions(voice_codes, role_ids)
    gen = make_gen(lm)
    fed = recorder(gen)
    run_prompt(gen, prompt, key=None, batched=batched)
    assert len(fed) == len(expected) == gen.offset
    np.testing.assert_array_equal(np.stack(fed), expected)
    # the first conversation call: the prompt's last frame still shows in the delayed streams
    mic = np.arange(8) + 100
    gen.step(mic)
    first = fed[-1]
    np.testing.assert_array_equal(first[2:9], last_frame[1:])  # Moshi cb1-7: the spacer's silence
    np.testing.assert_array_equal(first[10:], SINE_TOKENS[1:])  # the user's cb1-7: the sine
    assert first[9] == mic[0]  # the user's cb0: the microphone
    assert 0 <= first[0] < CONFIG.text_card and 0 <= first[1] < CONFIG.card  # sampled at the last call


def conversation(gen, frames=8, seed=5):
    mic = np.random.default_rng(seed).integers(0, CONFIG.card, (frames, 8))
    out = [gen.step(m) for m in mic]
    return np.stack([np.concatenate([[o.text_token], o.audio_codes]) for o in out])


def test_batched_prefill_equals_frame_by_frame(lm, voice_codes):
    prompt = build_prompt(CONFIG, Tokens(), persona(voice_codes))
    gens = [make_gen(lm), make_gen(lm)]
    run_prompt(gens[0], prompt, key=None, batched=True)
    run_prompt(gens[1], prompt, key=None, batched=False)
    a, b = (g.snapshot() for g in gens)
    assert a.offset == b.offset == prompt.frames
    np.testing.assert_array_equal(a.fixed, b.fixed)  # what the prompt fixed for the next calls
    np.testing.assert_array_equal(a.tokens[a.fixed], b.tokens[b.fixed])
    for x, y in zip(a.kv, b.kv):
        np.testing.assert_allclose(np.array(x), np.array(y), atol=1e-4)
    del a, b
    np.testing.assert_array_equal(conversation(gens[0]), conversation(gens[1]))


def test_kept_state_restores_the_same_stream(lm, voice_codes):
    prompt = build_prompt(CONFIG, Tokens(), persona(voice_codes))
    key = ("kept-state-test",)
    runs = []
    for i in range(2):
        gen = make_gen(lm, seed=11, temperature=0.8)
        restored = run_prompt(gen, prompt, key=key)
        assert restored == (i == 1)
        runs.append(conversation(gen))
    np.testing.assert_array_equal(runs[0], runs[1])
    state = next(s for k, s in prompt_states(lm).items() if k[0] == key)
    assert state.kv[0].shape[2] == prompt.frames - 1  # only the slots the prompt wrote
    other = make_gen(lm, seed=12, temperature=0.8)  # another seed: another stream
    run_prompt(other, prompt, key=key)
    assert not np.array_equal(conversation(other), runs[0])


def stored_voice(lm, voice_codes):
    """The voice as NVIDIA stores it (see nvidia.py): embeddings of positions 0..T-2 and the token
    ring [1, 17, 4] at offset T."""
    prompt = build_prompt(CONFIG, Tokens(), persona(voice_codes))
    t = len(voice_codes)
    emb = np.array(lm.embed(mx.array(prompt.rows[None, :t - 1]), mx.float32)[0])
    ring = np.full((1, 17, 4), 7, np.int64)  # stale entries: never read
    ring[0, :, (t - 1) % 4] = prompt.rows[t - 1]
    nxt = ring[0, :, t % 4]
    nxt[2:9], nxt[10:] = voice_codes[-1][1:], SINE_TOKENS[1:]
    return emb, ring


def test_stored_embeddings_replay_equals_codes(lm, voice_codes, tmp_path):
    import torch

    from moshi_mlx.personas.nvidia import voice_from_pt_file

    emb, ring = stored_voice(lm, voice_codes)
    path = tmp_path / "NATF9.pt"
    torch.save({"embeddings": torch.tensor(emb)[:, None, None, :], "cache": torch.tensor(ring)}, path)
    voice = voice_from_pt_file(path)
    assert voice.frames == len(voice_codes) and (voice.codes[:-2] == -1).all()
    np.testing.assert_array_equal(voice.codes[-1], voice_codes[-1])
    np.testing.assert_array_equal(voice.codes[-2, 1:], voice_codes[-2, 1:])
    gens = [make_gen(lm), make_gen(lm)]
    run_prompt(gens[0], build_prompt(CONFIG, Tokens(), Persona(voice, ROLE)), key=None)
    run_prompt(gens[1], build_prompt(CONFIG, Tokens(), persona(voice_codes)), key=None)
    for x, y in zip(gens[0].snapshot().kv, gens[1].snapshot().kv):
        np.testing.assert_allclose(np.array(x), np.array(y), atol=1e-4)
    np.testing.assert_array_equal(conversation(gens[0]), conversation(gens[1]))


def test_prompt_longer_than_the_context_allows(voice_codes):
    with pytest.raises(PromptError, match="shorten the role text"):
        build_prompt(CONFIG, Tokens(), persona(voice_codes, role="x" * 60))
    build_prompt(CONFIG, Tokens(), persona(voice_codes, role="x" * 20))  # 9 + 12 + 38 <= 64


def test_no_voice_and_no_role(lm):
    prompt = build_prompt(CONFIG, Tokens(), Persona(None, ""))
    assert prompt.frames == 12 and (prompt.next[[0, 1, 9]] == UNGENERATED).all()
    gen = make_gen(lm)
    run_prompt(gen, prompt, key=None)
    assert gen.offset == 12
