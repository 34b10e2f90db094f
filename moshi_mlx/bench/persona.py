"""`moshi-mlx bench persona`: PersonaPlex's prompt phase and how fast a conversation starts.

1. Prefill: one prompt of --prompt-frames frames (voice codes, spacers, role tokens) through a
   random model of --config (default the PersonaPlex 7B structure, --dim to shrink it), batched
   (many positions per transformer call) and frame by frame (one compiled single-frame step per
   prompt frame, what the batching replaces), alternated ABBA --repeats times in one run.
2. Start: with a loaded model (--model, default demo-personaplex), how long a new conversation
   takes to be ready (FrameEngine made, persona prompt restored or prefilled, last prompt call) and
   its first frames against the steady state, for a second conversation with the same persona and
   for a new persona."""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from ..engine import options_cli as _v

FRAME_MS = 80.0


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="personaplex-7b", help="LM preset or config.json for the prefill part")
    p.add_argument("--dim", type=_v.COUNT0, default=128, help="shrink the width (0: full size)")
    p.add_argument("--bits", type=int, default=4, choices=(4, 8, 16))
    p.add_argument("--prompt-frames", type=_v.COUNT, default=200)
    p.add_argument("--repeats", type=_v.COUNT, default=3)
    p.add_argument("--model", default="demo-personaplex", help="the model for the start part")
    p.add_argument("--frames", type=_v.COUNT, default=60, help="frames per conversation in the start part")
    p.add_argument("--skip-start", action="store_true", help="only the prefill part")
    p.add_argument("--live", action="store_true",
                   help="also time Start -> running -> first frame of the live engine (audio devices)")
    p.add_argument("--json", action="store_true")


def random_prompt(config, frames: int, seed: int = 0):
    from ..personas.prompt import Prompt
    from ..personas.protocol import Streams, prompt_calls, prompt_positions

    streams = Streams.of(config)
    rng = np.random.default_rng(seed)
    role = rng.integers(4, config.text_card, max(frames // 4, 1))
    voice = rng.integers(0, config.card, (frames - len(role) - 2 * streams.spacer_frames, streams.moshi))
    calls = prompt_calls(streams, voice, role)
    rows, nxt = prompt_positions(streams, calls)
    return Prompt(rows, nxt, calls[-1, 1 + streams.moshi:], None)


def bench_prefill(args) -> dict:
    import mlx.core as mx

    from ..device import activation_dtype
    from ..lm import LmGen
    from ..personas.prompt import run_prompt
    from .lm import _build_model, bench_config

    args.dim = args.dim or None
    config = bench_config(args)
    if args.prompt_frames > config.context:
        raise SystemExit(f"--prompt-frames {args.prompt_frames} exceeds the context ({config.context})")
    dtype = activation_dtype()
    model = _build_model(config, args.bits, 32 if args.bits == 4 else 64, dtype)
    gen = LmGen(model, seed=0, dtype=dtype, codebooks=config.n_q // 2)
    prompt = random_prompt(config, args.prompt_frames)

    def once(batched: bool) -> float:
        gen.reset(0)
        mx.eval(gen.snapshot().kv)
        t0 = time.perf_counter()
        run_prompt(gen, prompt, key=None, batched=batched)
        return (time.perf_counter() - t0) * 1e3

    once(True), once(False)  # trace every compiled variant first
    times = {True: [], False: [], "floor": []}
    for r in range(args.repeats):
        for batched in ((True, False) if r % 2 == 0 else (False, True)):
            times[batched].append(once(batched))
        times["floor"].append(linear_floor(model, prompt.frames, dtype))
    batched, single = float(np.median(times[True])), float(np.median(times[False]))
    return {"config": args.config, "dim": config.dim, "layers": config.num_layers, "bits": args.bits,
            "device": str(mx.default_device()), "prompt_frames": prompt.frames,
            "batched_ms": [round(t, 1) for t in times[True]],
            "frame_by_frame_ms": [round(t, 1) for t in times[False]],
            "batched_linear_floor_ms": [round(t, 1) for t in times["floor"]],
            "ratio": batched / single}


def linear_floor(model, positions: int, dtype) -> float:
    """ms for the temporal transformer's linear layers alone on `positions` rows, each layer once
    (the matrix products any batched prefill must compute)."""
    import mlx.core as mx
    import mlx.nn as nn

    layers = [m for _, m in model.transformer.named_modules()
              if isinstance(m, (nn.Linear, nn.QuantizedLinear))]
    inputs = {}
    for m in layers:
        width = m.weight.shape[1] * (32 // m.bits if isinstance(m, nn.QuantizedLinear) else 1)
        inputs.setdefault(width, mx.random.normal((positions, width)).astype(dtype))
    mx.eval(list(inputs.values()))
    t0 = time.perf_counter()
    for m in layers:
        width = m.weight.shape[1] * (32 // m.bits if isinstance(m, nn.QuantizedLinear) else 1)
        mx.eval(m(inputs[width]))
    return (time.perf_counter() - t0) * 1e3


def _conversation(model, sampling, options, frames: int, silence) -> tuple[float, list[float], bool]:
    from ..engine.core import FrameEngine

    t0 = time.perf_counter()
    engine = FrameEngine(model, sampling, options)
    start_ms = (time.perf_counter() - t0) * 1e3
    ms = []
    for _ in range(frames):
        t = time.perf_counter()
        engine.step(silence)
        ms.append((time.perf_counter() - t) * 1e3)
    return start_ms, ms, engine.setup.restored


def bench_start(args) -> dict:
    from ..engine.conversation import WARMUP_FRAMES
    from ..engine.core import Sampling
    from ..engine.loader import load_model
    from ..hub import resolve_model

    model = load_model(resolve_model(args.model, allow_download=False))
    sampling = Sampling(seed=1)
    persona = {"role": "You are a friendly assistant."}
    silence = np.zeros(model.codec.frame_size, np.float32)
    # what the engine does once per loaded model (ModelCache): a few warm-up frames
    _conversation(model, sampling, persona, WARMUP_FRAMES, silence)
    _, first, _ = _conversation(model, sampling, persona, args.frames, silence)
    steady = float(np.median(first[len(first) // 3:]))
    start_ms, second, restored = _conversation(model, sampling, persona, args.frames, silence)
    new_ms, new_frames, new_restored = _conversation(model, sampling, {"role": "You are a pirate."},
                                                      5, silence)
    return {"model": args.model, "steady_frame_ms": steady,
            "same_persona": {"start_ms": start_ms, "restored": restored,
                             "first_frames_ms": [round(t, 1) for t in second[:5]],
                             "first_5_over_steady": float(np.mean(second[:5])) / steady},
            "new_persona": {"start_ms": new_ms, "restored": new_restored,
                            "first_frames_ms": [round(t, 1) for t in new_frames]}}


def bench_live(args) -> dict:
    """ConversationEngine.start() (what the app's Start button calls) until the state "running"
    (devices open, persona started) and until the first frame is processed (its LevelEvent: 80 ms of
    microphone audio later), for conversations 2 and 3 (the model is loaded by the first)."""
    import threading

    from ..engine.conversation import ConversationEngine, EngineOptions
    from ..engine.events import ErrorEvent, LevelEvent, StateEvent

    marks: dict[str, float] = {}
    done = threading.Event()

    def listen(event) -> None:
        now = time.perf_counter()
        if isinstance(event, StateEvent) and event.state in ("running", "stopped"):
            marks.setdefault(event.state, now)
        elif isinstance(event, LevelEvent):
            marks.setdefault("frame", now)
            done.set()
        elif isinstance(event, ErrorEvent) and event.fatal:
            marks["error"] = now
            print(f"error: {event.message}")
            done.set()

    engine = ConversationEngine(listen)
    options = EngineOptions(model=args.model, seed=1, aec=False,
                            kind_options={"role": "You are a friendly assistant."})
    runs = []
    for _ in range(3):
        marks.clear()
        done.clear()
        t0 = time.perf_counter()
        engine.start(options)
        done.wait(300)
        engine.stop()
        if "error" in marks:
            raise SystemExit("the live engine failed")
        runs.append({"running_ms": (marks["running"] - t0) * 1e3, "first_frame_ms": (marks["frame"] - t0) * 1e3})
    return {"model": args.model, "first_conversation": runs[0], "loaded": runs[1:]}


def main(args: argparse.Namespace) -> int:
    result = {"prefill": bench_prefill(args)}
    if not args.skip_start:
        result["start"] = bench_start(args)
    if args.live:
        result["live"] = bench_live(args)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    p = result["prefill"]
    print(f"prefill of a {p['prompt_frames']}-frame prompt ({p['config']}, dim {p['dim']}, "
          f"{p['layers']} layers, {p['bits']} bits, {p['device']}):")
    print(f"  batched        {', '.join(map(str, p['batched_ms']))} ms")
    print(f"  frame by frame {', '.join(map(str, p['frame_by_frame_ms']))} ms")
    print(f"  batched / frame by frame (medians): {p['ratio']:.3f} (goal <= 0.2)")
    print(f"  of which the linear layers alone on {p['prompt_frames']} rows (the floor): "
          f"{', '.join(map(str, p['batched_linear_floor_ms']))} ms")
    if "start" in result:
        s = result["start"]
        same, new = s["same_persona"], s["new_persona"]
        print(f"start with {s['model']} loaded (steady state {s['steady_frame_ms']:.1f} ms/frame):")
        print(f"  same persona: ready in {same['start_ms']:.1f} ms (prompt state restored: "
              f"{same['restored']}), first frames {same['first_frames_ms']} ms, "
              f"{same['first_5_over_steady']:.2f}x steady")
        print(f"  new persona:  ready in {new['start_ms']:.1f} ms (prefilled), first frames "
              f"{new['first_frames_ms']} ms")
    if "live" in result:
        for run in result["live"]["loaded"]:
            print(f"live engine, model loaded: Start -> running {run['running_ms']:.0f} ms, -> first "
                  f"frame processed {run['first_frame_ms']:.0f} ms")
    return 0
