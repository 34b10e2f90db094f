"""Self-test: the demo model through codec and LM without audio devices, and the assistant's
demo chat model through mlx-lm; one line, exit code.

Used by `moshi-app --self-test` and the frozen Moshi.app to prove that MLX, the codec, the LM and
the tokenizer all load and run on this machine, and that mlx-lm and transformers read a chat model's
tokenizer and chat template and generate with it (the Assistant mode's path).
"""

from __future__ import annotations

import argparse
import sys
import time

FRAMES = 6


def run(cache_dir: str | None = None, frames: int = FRAMES) -> str:
    """Raises on any failure; returns the result line."""
    import mlx.core as mx
    import numpy as np

    from .engine.core import FrameEngine, Sampling
    from .engine.loader import load_model
    from .hub import resolve_model

    files = resolve_model("demo", cache_dir=cache_dir, allow_download=False)
    model = load_model(files, "mlx")
    core = FrameEngine(model, Sampling(seed=0))
    n = model.codec.frame_size
    t = np.arange(frames * n) / model.codec.sample_rate
    pcm = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    t0 = time.perf_counter()
    emitted = 0
    for i in range(frames):
        res = core.step(pcm[i * n:(i + 1) * n])
        if res.pcm.shape != (n,) or not np.isfinite(res.pcm).all():
            raise RuntimeError(f"frame {i}: decoded audio has shape {res.pcm.shape} or is not finite")
        if res.text_token is not None:
            emitted += 1
            if res.audio_codes.shape != (model.num_codebooks,):
                raise RuntimeError(f"frame {i}: audio codes of shape {res.audio_codes.shape}")
    if emitted == 0:
        raise RuntimeError(f"the LM emitted nothing in {frames} frames")
    ms = (time.perf_counter() - t0) * 1e3 / frames
    return (f"self-test OK: demo model (random weights), {frames} frames through Mimi + LM + Mimi "
            f"on {mx.default_device()}, {emitted} emitted, {ms:.1f} ms/frame; {chat_model(cache_dir)}")


def chat_model(cache_dir: str | None, tokens: int = 4) -> str:
    """demo-llm (random weights) through mlx-lm: its chat template, then up to `tokens` tokens."""
    from mlx_lm import stream_generate

    from .assistant.llm_loader import load_llm

    llm = load_llm("demo-llm", cache_dir=cache_dir)
    prompt = llm.tokenizer.apply_chat_template([{"role": "user", "content": "What time is it?"}],
                                               add_generation_prompt=True)
    made = [r.token for r in stream_generate(llm.model, llm.tokenizer, prompt, max_tokens=tokens)]
    if not made:
        raise RuntimeError("demo-llm generated no token through mlx-lm")
    return f"demo-llm: a {len(prompt)}-token chat prompt and {len(made)} tokens through mlx-lm"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="moshi-mlx self-test", description=__doc__.splitlines()[0])
    p.add_argument("--cache-dir", default=None, help="where the demo model lives (default: ~/.cache/moshi-mlx)")
    args = p.parse_args(argv)
    try:
        print(run(args.cache_dir), flush=True)
        return 0
    except Exception as e:
        print(f"self-test FAILED: {type(e).__name__}: {e}", flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
