"""Parity with Kyutai's PyTorch LMModel / LMGen for every stream layout of the family (STT, Hibiki
1B/2B/Zero, TTS, PersonaPlex): float32, random weights saved in the release format."""

import mlx.core as mx
import numpy as np
import pytest
import torch

from moshi_mlx.lm import LmGen, load_lm, make_sampler
from moshi_mlx.lm.conditioners import make_conditions

from .layouts import LAYOUTS
from .reference import pytorch_lm, same_frame, save_release


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    """name -> (config, PyTorch model, our model), built on first use."""
    built = {}

    def get(name):
        if name not in built:
            config = LAYOUTS[name]
            pt = pytorch_lm(config, seed=1)
            path = save_release(pt, tmp_path_factory.mktemp(name) / "model.safetensors")
            built[name] = (config, pt, load_lm(path, config=config, dtype=mx.float32), path)
        return built[name][:3]

    get.path = lambda name: built[name][3]
    return get


def condition_rows(config, rng, cfg_coef=1.0):
    """Ours (name -> value) and Kyutai's ConditionAttributes for one row (two with CFG: Hibiki's
    "very_bad" negative)."""
    from moshi.conditioners import ConditionAttributes, TensorCondition

    ours, theirs = [], []
    for row in range(2 if cfg_coef != 1 else 1):
        mine, text, tensors = {}, {}, {}
        for name, spec in config.conditioners.items():
            if spec["type"] == "lut":
                values = spec["lut"]["possible_values"]
                mine[name] = text[name] = values[-1] if row == 0 else values[0]
            else:
                t = rng.standard_normal((1, 5, spec["tensor"]["dim"])).astype(np.float32)
                mine[name] = t[0]
                tensors[name] = TensorCondition.from_tensor(torch.tensor(t))
        ours.append(mine)
        theirs.append(ConditionAttributes(text=text, tensor=tensors))
    return ours, theirs


def conditions_both(config, pt, ours, rng, cfg_coef=1.0):
    if not config.conditioners:
        return None, None
    rows, attributes = condition_rows(config, rng, cfg_coef)
    with torch.no_grad():
        tensors = pt.condition_provider.prepare_and_provide(attributes)
    return make_conditions(ours, rows, mx.float32), tensors


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_teacher_forced_logits(family, name):
    """Text logits, depformer logits and extra heads equal the reference's frame by frame, with
    zero tokens, muxed text tokens (TTS) and conditions, past the 16-frame context."""
    config, pt, ours = family(name)
    rng = np.random.default_rng(0)
    conds, tensors = conditions_both(config, pt, ours, rng)
    cond_sum = cross_src = None
    if tensors is not None:
        cond_sum, cross_src = pt.fuser.get_sum(tensors), pt.fuser.get_cross(tensors)
    cross = ours.cross_kv(None if conds is None else conds.cross)
    kv = ours.make_cache(1, mx.float32)
    worst = 0.0
    with torch.no_grad(), pt.streaming(1):
        for t in range(40):
            text = rng.integers(0, config.text_card + 1)
            if config.demux_second_stream and t % 2:
                text += (rng.integers(0, config.text_card) + 1) * (config.text_card + 1)
            tokens = np.concatenate([[text], rng.integers(0, config.card + 1, config.n_q)])
            if t % 7 == 3:
                tokens[rng.integers(0, config.num_codebooks)] = -1  # zero token: no input
            prev = np.concatenate([rng.integers(0, config.text_card, 1),
                                   rng.integers(0, config.card, max(config.dep_q - 1, 0))])
            out_pt, text_pt = pt.forward_text(torch.tensor(tokens)[None, :, None], cond_sum, cross_src)
            out, logits, kv = ours.temporal(mx.array(tokens[None], dtype=mx.int32), kv,
                                            mx.array(t, dtype=mx.int32), mx.float32, None,
                                            None if conds is None else conds.sum, cross)
            diffs = [np.abs(np.array(logits[0]) - text_pt[0, 0, 0].numpy()).max()]
            if config.dep_q:
                with pt.depformer.streaming(1):
                    ref = [pt.forward_depformer(k, torch.tensor(prev[k]).view(1, 1, 1), out_pt)[0, 0, 0]
                           for k in range(config.dep_q)]
                audio = ours.depformer_logits(out, mx.array(prev[None], dtype=mx.int32))
                diffs.append(np.abs(np.array(audio[0]) - torch.stack(ref).numpy()).max())
            if config.extra_heads_num_heads:
                ref = np.stack([torch.softmax(h(out_pt), -1)[0, 0].numpy() for h in pt.extra_heads])
                diffs.append(np.abs(np.array(ours.extra_probs(out)[0]) - ref).max())
            worst = max(worst, *map(float, diffs))
    print(f"{name}: teacher-forced max abs difference {worst:.2e}")
    assert worst < 1e-4


GREEDY = [  # (layout, cfg_coef, codebooks generated, text hook)
    ("stt", 1.0, None, False),
    ("hibiki", 1.0, None, False),
    ("hibiki", 3.0, None, False),
    ("hibiki_2b", 3.0, None, False),
    ("zero", 1.0, None, False),
    ("personaplex", 1.0, 8, False),  # Moshi's 8 of the 16: the user's come from the microphone
    ("tts", 1.0, 6, True),  # the text decided on the host, muxed; fewer codebooks than dep_q
]


@pytest.mark.parametrize("name,cfg_coef,codebooks,hook", GREEDY)
def test_greedy_generation_identical(family, name, cfg_coef, codebooks, hook):
    """Greedy tokens (and extra-head probabilities) equal Kyutai's LMGen call by call."""
    from moshi.models.lm import LMGen

    config, pt, ours = family(name)
    rng = np.random.default_rng(1)
    conds, tensors = conditions_both(config, pt, ours, rng, cfg_coef)
    card = config.text_card + 1

    def text_hook(token: int, call: int) -> int:  # a stand-in for TTS's state machine
        fed = (token * 7 + call) % config.text_card
        return fed + (call % 3) * card if config.demux_second_stream else fed

    def pt_hook(tokens):
        tokens[:] = torch.tensor([text_hook(int(tokens[0]), pt_hook.call)])

    pt.dep_q = config.dep_q if codebooks is None else codebooks  # as Kyutai's TTSModel does
    try:
        gen = LmGen(ours, make_sampler(0), make_sampler(0), dtype=mx.float32, conditions=conds,
                    cfg_coef=cfg_coef, codebooks=codebooks, text_hook=text_hook if hook else None)
        ref = LMGen(pt, use_sampling=False, cfg_coef=cfg_coef, condition_tensors=tensors,
                    on_text_hook=pt_hook if hook else None)
        frames, texts = 0, set()
        with torch.no_grad(), ref.streaming(1):
            for call in range(50):
                pt_hook.call = call
                user = rng.integers(0, config.card, gen.buffer.given)
                inputs = torch.tensor(user).view(1, -1, 1)
                heads = None
                if config.extra_heads_num_heads:
                    expected, heads = ref.step_with_extra_heads(inputs) or (None, None)
                else:
                    expected = ref.step(inputs)
                got = gen.step(user)
                if not same_frame(expected, got, call):
                    continue
                frames += 1
                texts.add(got.text_token)
                if heads is not None:
                    ref_heads = np.stack([h[0, 0].numpy() for h in heads])
                    np.testing.assert_allclose(got.extra_heads, ref_heads, atol=1e-5)
    finally:
        pt.dep_q = config.dep_q
    assert frames == 50 - config.max_delay
    assert len(texts) > 1, "degenerate output proves little"


@pytest.mark.parametrize("name", ["zero", "tts", "personaplex"])
def test_prefill_equals_steps(family, name):
    """Frames prefilled in one call leave the same KV cache as frame-by-frame steps (grouped
    heads, cross-attention), and a chunk can start anywhere, across the ring's end."""
    config, pt, ours = family(name)
    rng = np.random.default_rng(2)
    conds, _ = conditions_both(config, pt, ours, rng)
    cond_sum = None if conds is None else conds.sum
    cross = ours.cross_kv(None if conds is None else conds.cross)
    frames = np.concatenate([rng.integers(0, config.text_card, (30, 1)),
                             rng.integers(0, config.card, (30, config.n_q))], axis=1)
    kv = ours.make_cache(1, mx.float32)
    outs = []
    for t, f in enumerate(frames):
        out, _, kv = ours.temporal(mx.array(f[None], dtype=mx.int32), kv, mx.array(t, dtype=mx.int32),
                                   mx.float32, None, cond_sum, cross)
        outs.append(np.array(out[0, 0]))
    kv2 = ours.make_cache(1, mx.float32)
    chunks = [(0, 10), (10, 13), (13, 30)]  # the ring holds 16: the last chunk wraps it
    for start, end in chunks:
        out2, kv2 = ours.prefill(mx.array(frames[None, start:end], dtype=mx.int32), kv2, start,
                                 mx.float32, cond_sum, cross)
        np.testing.assert_allclose(np.array(out2[0]), np.stack(outs[start:end]), atol=2e-5)
    for a, b in zip(kv, kv2):
        np.testing.assert_allclose(np.array(a), np.array(b), atol=2e-5)


def test_grouped_query_cache_holds_only_kv_heads(family):
    config, _, ours = family("zero")
    cache = ours.make_cache(1, mx.float32)
    assert cache[0].shape == (1, config.num_heads // 2, config.context, config.head_dim)


def test_kyutai_mlx_names_load_the_same(family, tmp_path):
    """A TTS-layout checkpoint under Kyutai's MLX names (its embeddings own low_rank/out1/out2, its
    cross-attention stacks q, k, v) loads into the same parameters as the PyTorch release."""
    from mlx.utils import tree_flatten

    config, _, ours = family("tts")
    flat = dict(tree_flatten(ours.parameters()))
    kyutai = {}
    for name, value in flat.items():
        name = name.replace("text_demux.", "text_emb.").replace(".demux.", ".emb.")
        name = name.replace(".low_rank.", ".emb.low_rank.")
        if ".cross_attention.q_proj." in name:
            kv = flat[name.replace("q_proj", "kv_proj")]
            kyutai[name.replace("q_proj", "in_proj")] = mx.concatenate([value, kv])
        elif ".cross_attention.kv_proj." not in name:
            kyutai[name] = value
    path = tmp_path / "model.safetensors"
    mx.save_safetensors(str(path), kyutai)
    again = dict(tree_flatten(load_lm(path, config=config, dtype=mx.float32).parameters()))
    assert again.keys() == flat.keys()
    for name, value in flat.items():
        np.testing.assert_array_equal(np.array(again[name]), np.array(value), err_msg=name)
