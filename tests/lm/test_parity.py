"""Parity with Kyutai's PyTorch LMModel / LMGen (float32, random weights in the release format)."""

import mlx.core as mx
import numpy as np
import pytest
import torch

from moshi_mlx.lm import LmConfig, LmGen, load_lm, make_sampler

from .reference import pytorch_lm, same_frame, save_release

LAYOUTS = {
    # the Moshi 7B layout: delays 1, 8 + 8 streams, depformer weights per step; context 16 < steps
    "7b_layout": LmConfig.tiny(),
    # a delay-2 layout (the 1B class) with a weight schedule shared by some codebooks
    "delay2": LmConfig.tiny(delays=(0,) + ((0,) + (2,) * 7) * 2, max_period=100_000,
                            depformer_weights_per_step_schedule=(0, 1, 2, 2, 3, 3, 3, 3)),
}


@pytest.fixture(scope="module", params=list(LAYOUTS))
def models(request, tmp_path_factory):
    config = LAYOUTS[request.param]
    pt = pytorch_lm(config, seed=1)
    path = save_release(pt, tmp_path_factory.mktemp(request.param) / "model.safetensors")
    return config, pt, load_lm(path, config=config, dtype=mx.float32)


def test_teacher_forced_logits(models):
    config, pt, ours = models
    rng = np.random.default_rng(0)
    kv = ours.make_cache(1, mx.float32)
    worst = 0.0
    with torch.no_grad(), pt.streaming(1):
        for t in range(40):  # 2.5x the context of 16: the ring wraps
            tokens = np.concatenate([rng.integers(0, config.text_card + 1, 1),
                                     rng.integers(0, config.card + 1, config.n_q)])
            if t % 7 == 3:
                tokens[rng.integers(1, config.num_codebooks)] = -1  # zero token: no input
            prev = np.concatenate([rng.integers(0, config.text_card, 1),
                                   rng.integers(0, config.card, config.dep_q - 1)])
            out_pt, text_pt = pt.forward_text(torch.tensor(tokens)[None, :, None])
            audio_pt = []
            with pt.depformer.streaming(1):
                for k in range(config.dep_q):
                    logits = pt.forward_depformer(k, torch.tensor(prev[k]).view(1, 1, 1), out_pt)
                    audio_pt.append(logits[0, 0, 0].numpy())
            out, text, kv = ours.temporal(mx.array(tokens[None], dtype=mx.int32), kv,
                                          mx.array(t, dtype=mx.int32))
            audio = ours.depformer_logits(out, mx.array(prev[None], dtype=mx.int32))
            worst = max(worst, float(np.abs(np.array(text[0]) - text_pt[0, 0, 0].numpy()).max()),
                        float(np.abs(np.array(audio[0]) - np.stack(audio_pt)).max()))
    print(f"teacher-forced max abs logit difference: {worst:.2e}")
    assert worst < 1e-4


def test_greedy_generation_identical(models):
    from moshi.models.lm import LMGen

    config, pt, ours = models
    rng = np.random.default_rng(1)
    gen = LmGen(ours, make_sampler(0), make_sampler(0), dtype=mx.float32)
    ref = LMGen(pt, use_sampling=False)
    frames = 0
    with torch.no_grad(), ref.streaming(1):
        for call in range(110):
            user = rng.integers(0, config.card, config.user_codebooks)
            expected = ref.step(torch.tensor(user).view(1, -1, 1))
            frames += same_frame(expected, gen.step(user), call)
    assert frames == 110 - config.max_delay
    # the generated stream is not degenerate (a constant output would prove little)
    assert len({gen.step(rng.integers(0, config.card, 8)).text_token for _ in range(20)}) > 1
