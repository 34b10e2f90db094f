"""`moshi-mlx bench assistant`: the voice assistant's latency per turn, from the last sample of the
user's speech to the first sample of the reply's audio, through the engine's own frame loop
(assistant/conversation.py: STT, LLM and TTS on one thread), split into its parts:

    end_of_turn      the STT frames from the end of the speech to the end of turn (forced at a set
                     frame: with random weights the pause head means nothing)
    stt_flush        the STT's delay of silence pushed at compute speed (the last words)
    llm_first_word   the LLM's prefill and tokens up to the first whole word
    tts_first_audio  from that word to the TTS's first audio frame

Each part is also measured alone (same models, nothing else running); the ratio e2e / sum of the
parts alone says what running them in one loop costs (goal <= 1.15). Also: the LLM's tokens/s
alone and while the TTS speaks, underruns (audio frames made later than a speaker started at the
first one would need them), `llm_waits` (times the speech, once started, waited for the LLM's next
word: the LLM falling behind), peak memory. Models: demo-stt, demo-llm (or --llm) and demo-tts, or
with --dim a random TTS of the 1.6B's layout at that width (tiny Mimi). The LLM writes a set reply
with its own forward pass per token (forced_text.py; its own words with --free-text). Frames are not paced in
real time: the times are compute times."""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from .assistant_tool import tool_turn
from .assistant_turn import EOT_FRAMES, turn as _turn
from .stats import peak_rss_bytes

# What the LLM writes unless --free-text (its words at a chat model's ~1.3 tokens a word)
REPLIES = {"What is the weather like?": "It looks sunny today, with a light breeze and about twenty one degrees.",
           "Tell me a story.": "Once upon a time, a small robot learned to whistle by listening to the birds.",
           "And then?": "Then it whistled every morning, and the birds began to answer back.",
           "Thanks!": "You are welcome. Tell me if there is anything else I can do."}  # the turns, in order
SPEECH_S = 1.2


def configure_parser(p: argparse.ArgumentParser) -> None:
    from ..engine.options_cli import SECONDS, number

    p.add_argument("--turns", type=number(1, integer=True), default=3, help="turns to time (default 3)")
    p.add_argument("--dim", type=number(32, integer=True), default=None,
                   help="a random TTS of the 1.6B's layout at this width (tiny Mimi) instead of demo-tts")
    p.add_argument("--llm", default="demo-llm", help="the chat model (default demo-llm)")
    p.add_argument("--stt", default="demo-stt", help="the STT model (default demo-stt)")
    p.add_argument("--max-tokens", type=number(1, integer=True), default=40, help="per reply (default 40)")
    p.add_argument("--free-text", action="store_true",
                   help="the LLM writes its own words (random weights: noise, several tokens a word) instead of "
                        "a set reply computed with its own forward pass")
    p.add_argument("--tool-s", type=SECONDS, default=1.0,
                   help="the tool turn's tool takes this long (default 1.0 s; 0: no tool turn)")
    p.add_argument("--release-memory", choices=("qwen3-4b", "qwen3-1.7b", "llama-3.2-1b"), default=None,
                   help="instead: peak memory of STT 1B + TTS 1.6B + an LLM of this shape, all 4-bit random "
                        "weights, loaded together and run for a short turn")
    p.add_argument("--dtype", choices=("fp32", "bf16"), default=None,
                   help="with --release-memory: the activation dtype (scales, norms, caches; default the "
                        "device's: fp32 on the CPU backend, bf16 on a Mac GPU)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")


def _models(args, tmp: Path):
    from ..assistant.options import AssistantOptions
    from ..assistant.session import Assistant

    options = AssistantOptions(stt=args.stt, llm=args.llm, tts="demo-tts", seed=0, greedy=True,
                               max_tokens=args.max_tokens, system="Answer in one sentence.")
    from ..mimi.share import MimiShare

    loader, share = Assistant(lambda event: None), MimiShare()  # as the session loads them
    chat = loader._load_llm(options)
    if not args.free_text:
        from .forced_text import force_replies

        force_replies(chat, lambda user: REPLIES.get(user, REPLIES["Thanks!"]))
    transcriber = loader._load_stt(options, share)
    if args.dim:
        from ..tts.synth import Synthesizer, TtsSettings
        from .tts import _random_model, _voices
        from ..tts.info import TtsInfo

        model, _ = _random_model(argparse.Namespace(config="tts-1.6b", dim=args.dim, bits=16, group_size=None,
                                                    mimi="tiny"), tmp)
        synth = Synthesizer(model, _voices(model, TtsInfo.from_model(model)), TtsSettings(seed=0, final_padding=2))
        synth.gen.warmup()
    else:
        synth = loader._load_tts(options, share)
    return options, chat, transcriber, synth


def _alone(chat, transcriber, synth, audio, user: str, reply_text: str, tokens_needed: int = 0) -> dict:
    """Each part alone; `llm_needed`: the LLM's time alone to the `tokens_needed`-th token (as many
    as it wrote in the loop before the first audio)."""
    from ..assistant.speech_text import WordChunker

    transcriber.reset()
    transcriber.push(audio)
    t = time.perf_counter()
    for _ in range(EOT_FRAMES):
        transcriber.push(np.zeros(1920, np.float32))
    eot = time.perf_counter() - t
    from ..assistant.listening import Ears
    from ..assistant.turn import TurnDetector

    ears = Ears(transcriber, TurnDetector(), None)
    t = time.perf_counter()
    ears.flush()
    flush = time.perf_counter() - t
    chunker = WordChunker()
    t = time.perf_counter()
    chat.begin_reply(user)
    first_word, tokens, needed = None, 0, None
    while True:
        piece = chat.step()
        tokens += 1
        if first_word is None and (chunker.push(piece.text) or piece.done):
            first_word = time.perf_counter() - t
        if tokens == tokens_needed or (piece.done and needed is None):
            needed = time.perf_counter() - t
        if piece.done:
            break
    llm_s = time.perf_counter() - t
    chat.end_reply()
    synth.reset()
    t = time.perf_counter()
    synth.push_text(reply_text or "Hello there.")
    synth.end_of_text()
    audio_s = None
    while synth.poll() == "step":
        if synth.step() is not None:
            audio_s = time.perf_counter() - t
            break
    synth.cancel()
    return {"end_of_turn": eot * 1e3, "stt_flush": flush * 1e3, "llm_first_word": first_word * 1e3,
            "tts_first_audio": audio_s * 1e3 if audio_s else None, "tokens": tokens, "llm_s": llm_s,
            "llm_needed": max(needed, first_word) * 1e3}


def run(args) -> dict:
    import mlx.core as mx

    rng = np.random.default_rng(0)
    n = int(SPEECH_S * 24000) // 1920 * 1920
    t = np.arange(n) / 24000
    audio = (0.1 * rng.standard_normal(n) + 0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    users = list(REPLIES)
    with tempfile.TemporaryDirectory() as tmp:
        options, chat, transcriber, synth = _models(args, Path(tmp))
        turns, alone = [], []
        for i in range(args.turns):
            user = users[i % len(users)]
            turns.append(_turn(chat, transcriber, synth, audio, user))
            alone.append(_alone(chat, transcriber, synth, audio, user, turns[-1]["text"],
                                turns[-1]["split_ms"]["llm_tokens"]))
        tool = tool_turn(transcriber, synth, audio, args.tool_s) if args.tool_s > 0 else None

    def med(values):
        values = [v for v in values if v is not None]
        return float(np.median(values)) if values else None

    parts = {k: med([t["parts_ms"][k] for t in turns]) for k in ("end_of_turn", "stt_flush", "llm_first_word",
                                                                 "tts_first_audio")}
    parts_alone = {k: med([a[k] for a in alone]) for k in parts}
    e2e = med([t["e2e_ms"] for t in turns])
    total = sum(v for v in parts_alone.values() if v is not None)
    split = {k: med([t["split_ms"][k] for t in turns]) for k in turns[0]["split_ms"]}
    later_words = med([a["llm_needed"] - a["llm_first_word"] for a in alone])  # the LLM alone, words 2..
    speaking_s = sum(t["llm_s_speaking"] for t in turns)
    # each turn against its own parts alone, measured right after it (a slow moment of the machine
    # then weighs on both sides of one ratio)
    per_turn = [t["e2e_ms"] / sum(a[k] for k in parts if a[k] is not None) if t["e2e_ms"] else None
                for t, a in zip(turns, alone)]
    return {"models": {"stt": args.stt, "llm": args.llm, "tts": f"random tts-1.6b dim {args.dim}" if args.dim
                       else "demo-tts", "llm_text": "free" if args.free_text else "set"},
            "device": str(mx.default_device()), "turns": args.turns,
            "e2e_ms": e2e, "parts_ms": parts, "parts_alone_ms": parts_alone, "sum_of_parts_ms": total,
            "ratio": e2e / total if e2e and total else None,
            "ratio_per_turn": per_turn, "ratio_per_turn_median": med(per_turn),
            "first_audio_split_ms": split, "later_words_alone_ms": later_words,
            "ratio_with_later_words": e2e / (total + later_words) if e2e and total else None,
            "llm_tokens_per_s": {"alone": sum(a["tokens"] for a in alone) / sum(a["llm_s"] for a in alone),
                                 "while_speaking": (sum(t["tokens_speaking"] for t in turns) / speaking_s
                                                    if speaking_s else None)},
            "underruns": sum(t["underruns"] for t in turns), "llm_waits": sum(t["llm_waits"] for t in turns),
            "tool_turn_ms": tool, "peak_memory_gb": peak_rss_bytes() / 1e9}


def _release_memory(args) -> int:
    from .release_memory import run as run_release

    r = run_release(args)
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    t = r["turn"]
    print(f"assistant memory at release shapes: STT 1B + TTS 1.6B + {r['llm_shape']} LLM, 4-bit random "
          f"weights, one Mimi, {r['device']}, activations and scales in {r['dtype']}")
    for name, m in r["models"].items():
        print(f"  {name}: {m['param_gb']:.2f} GB of parameters ({m['param_gb_bf16']:.2f} GB with bf16 scales); "
              "largest: " + ", ".join(f"{g} {gb:.3f}" for g, gb in m["groups"].items()))
    print(f"  parameters in all: {r['param_gb']:.2f} GB ({r['param_gb_bf16']:.2f} GB with bf16 scales)")
    print(f"  a short turn: {t['stt_frames']} STT frames {t['stt_s']:.1f} s, LLM prefill of "
          f"{t['llm_prefill_tokens']} tokens {t['llm_prefill_s']:.1f} s + {t['llm_tokens']} tokens "
          f"{t['llm_tokens_s']:.1f} s, {t['tts_steps']} TTS steps ({t['tts_audio_frames']} audio frames) "
          f"{t['tts_s']:.1f} s")
    print(f"  peak memory (RSS high-water mark): {r['peak_after_load_gb']:.2f} GB after loading, "
          f"{r['peak_memory_gb']:.2f} GB after the turn (MLX's peak allocation {r['mlx_peak_gb']:.2f} GB)")
    return 0


def main(args: argparse.Namespace) -> int:
    if args.dtype and not args.release_memory:
        from ..errors import ConfigError

        raise ConfigError("--dtype applies to --release-memory only")
    if args.release_memory:
        return _release_memory(args)
    r = run(args)
    if args.json:
        print(json.dumps(r, indent=2))
        return 0

    def ms(x):
        return "-" if x is None else f"{x:.0f} ms"

    def x2(x):  # a ratio; None where no turn had audio
        return "-" if x is None else f"{x:.2f}"

    tps = r["llm_tokens_per_s"]
    print(f"assistant bench: STT {r['models']['stt']}, LLM {r['models']['llm']} ("
          + ("its own words" if r["models"]["llm_text"] == "free" else "a set reply, its own compute")
          + f"), TTS {r['models']['tts']}, "
          f"{r['device']}, {r['turns']} turns (medians; compute times, not paced in real time)")
    print(f"  end of speech -> first audio: {ms(r['e2e_ms'])}; parts in the loop: "
          + ", ".join(f"{k} {ms(v)}" for k, v in r["parts_ms"].items()))
    print("  parts alone: " + ", ".join(f"{k} {ms(v)}" for k, v in r["parts_alone_ms"].items())
          + f"; sum {ms(r['sum_of_parts_ms'])}; e2e / sum {x2(r['ratio'])} (goal <= 1.15)")
    print("  per turn, e2e / its parts alone: " + " ".join(x2(x) for x in r["ratio_per_turn"])
          + f" (median {x2(r['ratio_per_turn_median'])})")
    sp = r["first_audio_split_ms"]
    print(f"  in the loop, end of speech -> first audio: STT {ms(sp['stt'])}, LLM {ms(sp['llm'])} "
          f"({sp['llm_tokens']:.0f} tokens), TTS {ms(sp['tts'])} ({sp['tts_steps']:.0f} steps), other (idle, "
          f"bookkeeping) {ms(sp['other'])}; the LLM's words after its first, alone: "
          f"{ms(r['later_words_alone_ms'])}; e2e / (sum + those) {x2(r['ratio_with_later_words'])}")
    ws = tps["while_speaking"]
    print(f"  LLM tokens/s: alone {tps['alone']:.0f}, while the TTS speaks "
          f"{'-' if ws is None else f'{ws:.0f}'}; underruns {r['underruns']} (speech waiting for the LLM: "
          f"{r['llm_waits']}); "
          f"peak memory {r['peak_memory_gb']:.2f} GB")
    tool = r["tool_turn_ms"]
    if tool:
        print(f"  tool turn (a tool taking {tool['tool_s']:.2f} s, filler after 0.7 s): end of speech -> "
              f"filler's first audio {ms(tool['filler_first_audio'])}, answer's first audio "
              f"{ms(tool['answer_first_audio'])}")
    return 0
