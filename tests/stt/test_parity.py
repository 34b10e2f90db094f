"""The transcriber equals Kyutai's PyTorch reference (moshi 0.2.13: Mimi, LMGen.step /
step_with_extra_heads, run_inference.py's STT procedure) token for token, with the same extra-head
probabilities, for both STT shapes loaded from each checkpoint form (random weights, float32)."""

import json

import numpy as np
import pytest
import torch

from moshi_mlx.stt.loading import load_stt_model
from moshi_mlx.stt.transcriber import Transcriber

from .checkpoints import FORMS, MIMI, SHAPES

FRAME = 1920


@torch.no_grad()
def kyutai_transcribe(config: dict, lm, mimi, pcm: np.ndarray, heads: bool):
    """moshi's run_inference.py for model_type "stt": pad `prefix` s before and `delay + 1` s after,
    whole frames only, the first frame given twice (its first output dropped), LMGen with the
    config's lm_gen_config. -> (text tokens [frames], extra-head probabilities [frames, H, 6])."""
    from moshi.models.lm import LMGen

    stt = config["stt_config"]
    left = int(stt.get("audio_silence_prefix_seconds", 0.0) * 24000)
    right = int((stt.get("audio_delay_seconds", 0.0) + 1.0) * 24000)
    x = torch.nn.functional.pad(torch.from_numpy(pcm)[None, None], (left, right))
    chunks = [c for c in x.split(FRAME, dim=2) if c.shape[-1] == FRAME]
    gen = LMGen(lm, **config["lm_gen_config"])
    tokens, probs, codes_seen = [], [], []
    with mimi.streaming(1), gen.streaming(1):
        for i, chunk in enumerate(chunks):
            codes = mimi.encode(chunk)
            codes_seen.append(codes[0, :, 0].numpy())
            if i == 0:
                gen.step(codes)
            if heads:
                out, extra = gen.step_with_extra_heads(codes)
                probs.append(np.stack([p[0, 0].numpy() for p in extra]))
            else:
                out = gen.step(codes)
            tokens.append(int(out[0, 0, 0]))
    return np.array(tokens, np.int32), (np.stack(probs) if heads else None), np.stack(codes_seen)


@pytest.fixture(scope="module")
def references(stt_models, speech):
    """shape -> (tokens, probs with heads, codes), computed once per shape."""
    from tests.mimi.reference import reference_mimi

    done = {}

    def get(shape):
        if shape not in done:
            folder, lm, shared = stt_models(shape, "candle")
            config = json.loads((folder / "config.json").read_text())
            mimi = reference_mimi(MIMI, shared["mimi"], num_codebooks=32)
            done[shape] = kyutai_transcribe(config, lm, mimi, speech, heads=lm.extra_heads is not None
                                            and len(lm.extra_heads) > 0)
        return done[shape]

    return get


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("shape", list(SHAPES))
def test_tokens_and_heads_equal_kyutai(stt_models, references, speech, shape, form):
    folder, _, _ = stt_models(shape, form)
    expected, expected_probs, expected_codes = references(shape)
    model = load_stt_model(str(folder), "the test")
    assert model.kind == "stt" and model.num_codebooks == 32
    tr = Transcriber(model, keep_tokens=True)
    assert tr.temperature == 0.0  # lm_gen_config temp_text 0: greedy, as Kyutai's STT configs say
    heads, codes = [], []
    tr.frame_hook = lambda frame, token, probs: heads.append(probs)
    encode = model.codec.encode_frame
    model.codec.encode_frame = lambda pcm: codes.append(encode(pcm)) or codes[-1]
    tr.push(speech[:12345])  # blocks of any size
    tr.push(speech[12345:])
    tr.flush()
    np.testing.assert_array_equal(np.stack(codes), expected_codes, err_msg="Mimi codes differ")
    np.testing.assert_array_equal(tr.tokens(), expected)
    assert len(set(expected.tolist())) > 2, "degenerate reference output proves little"
    with_heads = shape == "1b" and form != "pytorch"
    assert tr.has_end_of_turn == with_heads
    if with_heads:
        np.testing.assert_allclose(np.stack(heads), expected_probs, atol=1e-5)
    else:
        assert all(h is None for h in heads)
