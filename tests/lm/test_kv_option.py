"""The 8-bit KV cache end to end: `LmGen(kv_bits=8)` against the float cache, and `--kv-bits` from
the command line to the generator on the demo model."""

import subprocess
import sys

import mlx.core as mx
import numpy as np
import pytest
import soundfile as sf

from moshi_mlx.cli import main as cli_main
from moshi_mlx.lm import Lm, LmConfig, LmGen, make_sampler
from tests.support.greedy import file_tokens


@pytest.fixture(scope="module")
def grouped():
    """Grouped heads of 32 (the quantized attention's repeat path), a ring that wraps."""
    mx.random.seed(5)
    model = Lm(LmConfig.tiny(dim=128, num_heads=4, kv_repeat=2, context=12))
    mx.eval(model.parameters())
    return model


def _greedy(model, kv_bits, steps, prompt=None):
    gen = LmGen(model, make_sampler(0.0), make_sampler(0.0), seed=0, dtype=mx.float32, kv_bits=kv_bits)
    if prompt is not None:
        gen.prefill(prompt)
        gen.provide(gen.offset, np.concatenate([[model.config.text_initial_token], prompt[-1, 1:]]))
    rng = np.random.default_rng(0)
    outs = [gen.step(rng.integers(0, model.config.card, model.config.user_codebooks)) for _ in range(steps)]
    return gen, [[o.text_token, *o.audio_codes] for o in outs if o is not None]


def test_quantized_cache_keeps_the_logits_teacher_forced(grouped):
    """The same frames through the float and the 8-bit cache, a prompt prefilled then 3x the
    context step by step (the ring wraps): text logits within 2% and the same argmax."""
    c = grouped.config
    frames = np.random.default_rng(1).integers(0, c.card, (3 * c.context, c.num_codebooks))
    logits = {}
    for bits in (None, 8):
        kv = grouped.make_cache(1, mx.float32, bits)
        _, kv = grouped.prefill(mx.array(frames[None, :5], dtype=mx.int32), kv, 0)
        rows = []
        for t in range(5, len(frames)):
            _, text, kv = grouped.temporal(mx.array(frames[t][None], dtype=mx.int32), kv,
                                           mx.array(t, dtype=mx.int32))
            rows.append(np.array(text[0]))
        logits[bits] = np.stack(rows)
    ref, got = logits[None], logits[8]
    assert 0 < np.abs(got - ref).max() / np.abs(ref).max() < 0.02
    assert (got.argmax(-1) == ref.argmax(-1)).mean() >= 0.95


def test_quantized_generator_runs_past_the_context(grouped):
    """LmGen with kv_bits=8: a prompt, then greedy frames past 3x the context; its cache arrays
    are a fraction of the float cache's."""
    c = grouped.config
    prompt = np.random.default_rng(1).integers(0, c.card, (5, c.num_codebooks))
    plain, a = _greedy(grouped, None, 3 * c.context, prompt)
    quant, b = _greedy(grouped, 8, 3 * c.context, prompt)
    assert quant._kv.bits == 8 and len(list(quant._kv)) == 6 * c.num_layers
    assert len(a) == len(b) > 2 * c.context and quant.offset == plain.offset
    assert quant._kv.nbytes < 0.35 * plain._kv.nbytes


def test_kv_bits_snapshot_restore_repeats_the_stream(grouped):
    gen = LmGen(grouped, seed=3, dtype=mx.float32, kv_bits=8)
    user = np.zeros(grouped.config.user_codebooks, np.int64)
    for _ in range(4):
        gen.step(user)
    state = gen.snapshot()
    first = [gen.step(user) for _ in range(6)]
    gen.restore(state)
    again = [gen.step(user) for _ in range(6)]
    assert [(o.text_token, o.audio_codes.tolist()) for o in first if o] == \
           [(o.text_token, o.audio_codes.tolist()) for o in again if o]


@pytest.mark.parametrize("value", ["3", "16", "eight", ""])
def test_kv_bits_must_be_8_or_4(value, capsys):
    with pytest.raises(SystemExit) as e:
        cli_main(["run", "--input", "x.wav", "--output", "y.wav", "--kv-bits", value])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "--kv-bits" in err and "expected 8 or 4" in err and "Traceback" not in err


def test_run_kv_bits_reaches_the_generator(tmp_path, demo_home):
    """`run --kv-bits 8 --greedy` on the demo model writes the tokens of an 8-bit-cache LmGen fed the
    same codes (and the demo's 16-wide heads are stored padded to a group of 32)."""
    from moshi_mlx.engine.core import FrameEngine, Sampling
    from moshi_mlx.engine.loader import load_model
    from moshi_mlx.hub import resolve_model

    rng = np.random.default_rng(0)
    wav, tokens = tmp_path / "in.wav", tmp_path / "tok.npy"
    sf.write(wav, (0.3 * rng.standard_normal(24000 * 2)).astype(np.float32), 24000)
    r = subprocess.run([sys.executable, "-m", "moshi_mlx", "run", "--model", "demo", "--cache-dir",
                        str(demo_home), "--input", str(wav), "--output", str(tmp_path / "out.wav"),
                        "--tokens", str(tokens), "--greedy", "--kv-bits", "8", "--quiet"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    model = load_model(resolve_model("demo", cache_dir=str(demo_home)))
    engine = FrameEngine(model, Sampling.greedy(0, kv_bits=8))
    assert engine.gen._kv.bits == 8 and engine.gen._kv.layers[0].width == 32
    gen = LmGen(model.lm, make_sampler(0.0), make_sampler(0.0), kv_bits=8)
    assert np.array_equal(np.load(tokens), file_tokens(model, gen, wav))


def test_bench_lm_compare_kv_json(tmp_path):
    """`bench lm --kv-bits 8 --compare-kv --kv-agreement-frames N`: both peaks measured, the 8-bit
    cache the smaller, agreements in [0, 1] over N frames."""
    import json

    path = tmp_path / "config.json"
    path.write_text(json.dumps(LmConfig.tiny(dim=128, num_heads=4, context=24).to_dict()))
    r = subprocess.run([sys.executable, "-m", "moshi_mlx", "bench", "lm", "--config", str(path), "--bits", "16",
                        "--kv-bits", "8", "--compare-kv", "--kv-agreement-frames", "30", "--steps", "2",
                        "--warmup", "1", "--no-split", "--json"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    kv = json.loads(r.stdout)["kv"]
    plain, quant = kv["memory"]
    assert plain["kv_bits"] is None and quant["kv_bits"] == 8
    assert quant["kv_cache_bytes"] < 0.35 * plain["kv_cache_bytes"] and kv["peak_saved_bytes"] > 0
    assert plain["kv_bytes_per_frame"] == plain["kv_cache_bytes"] / 24
    assert kv["teacher_forced"]["frames"] == 30 and 0.5 <= kv["teacher_forced"]["token_agreement"] <= 1
    assert 0 <= kv["free_running"]["token_agreement"] <= 1


def test_fits_uses_the_measured_kv_bytes_per_frame():
    """A 7B's runtime is its measured 16-bit KV cache at 3000 frames plus the step allowance; with
    --kv-bits 8 the measured 8-bit figure, which can turn 'too big' into 'tight'."""
    from moshi_mlx import hub, known_models as km

    q4 = hub.known_model("kyutai/moshiko-mlx-q4")
    assert q4.runtime_bytes == 524_288 * 3000 + km.STEP_BYTES_7B
    saved = km.needed_bytes(q4) - km.needed_bytes(q4, 8)
    assert saved == (524_288 - 294_912) * 3000
    verdict, sentence = km.recommend(q4, 9_000_000_000)
    assert verdict == "too_big" and f"--kv-bits 8: about {km.needed_bytes(q4, 8) / km.GB:.1f} GB" in sentence
    assert km.recommend(q4, 9_000_000_000, kv_bits=8)[0] == "tight"
    stt = hub.known_model("kyutai/stt-1b-en_fr")
    assert km.needed_bytes(stt, 8) == km.needed_bytes(stt) and "--kv-bits" not in km.recommend(stt, 10**9)[1]
