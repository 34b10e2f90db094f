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
with --dim a random TTS of the 1.6B's layout at that width (tiny Mimi). Frames are not paced in
real time: the times are compute times."""

from __future__ import annotations

import argparse
import json
import queue
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from .stats import peak_rss_bytes

EOT_FRAMES = 3  # the end of turn is forced this many frames after the speech (240 ms of audio)
SPEECH_S = 1.2


def configure_parser(p: argparse.ArgumentParser) -> None:
    from ..engine.options_cli import SECONDS, number

    p.add_argument("--turns", type=number(1, integer=True), default=3, help="turns to time (default 3)")
    p.add_argument("--dim", type=number(32, integer=True), default=None,
                   help="a random TTS of the 1.6B's layout at this width (tiny Mimi) instead of demo-tts")
    p.add_argument("--llm", default="demo-llm", help="the chat model (default demo-llm)")
    p.add_argument("--stt", default="demo-stt", help="the STT model (default demo-stt)")
    p.add_argument("--max-tokens", type=number(1, integer=True), default=40, help="per reply (default 40)")
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


class _Speech:
    """FileSource with a clock: `end` = when the first frame after the speech was read."""

    live = False

    def __init__(self, pcm):
        from ..assistant.listening import FileSource

        self.inner, self.speech_frames, self.read_frames, self.end = FileSource(pcm), len(pcm) // 1920, 0, None
        self.pcm = self.inner.pcm

    exhausted = property(lambda self: False)

    def read(self):
        if self.read_frames == self.speech_frames:
            self.end = time.perf_counter()
        self.read_frames += 1
        return self.inner.read()

    def close(self):
        pass


def _turn(chat, transcriber, synth, audio, user: str, tools=None) -> dict:
    """One turn through the engine's loop; its times (`words`: (perf_counter, word) of each word of
    the reply as its first audio frame came out)."""
    from ..assistant.conversation import Conversation
    from ..assistant.events import AssistantWord, TurnStats
    from ..assistant.listening import Ears
    from ..assistant.speaking import VoiceOutput
    from ..assistant.turn import TurnDetector

    transcriber.reset()
    source = _Speech(audio)
    detector = TurnDetector()
    ears = Ears(transcriber, detector, source)
    forced = source.speech_frames + EOT_FRAMES
    frame, flush = ears.frame, ears.flush
    marks: dict = {}

    def frame_forced(speaking=False):
        heard = frame(speaking)
        if heard is not None and ears.frames == forced:
            heard.signal = "end_of_turn"
        elif heard is not None and heard.signal == "end_of_turn":
            heard.signal = None
        return heard

    def timed_flush():
        marks["eot"] = time.perf_counter()
        out = flush()
        marks["flushed"] = time.perf_counter()
        return out

    ears.frame, ears.flush = frame_forced, timed_flush
    ears.take_turn = lambda: (ears.__dict__.__setitem__("text", ""), detector.reset_turn(), user)[-1]
    output = VoiceOutput()
    speak = output.speak

    def first_audio(pcm):
        marks.setdefault("audio", time.perf_counter())
        speak(pcm)

    output.speak = first_audio
    stats, replies, words = [], [], []

    def emit(event):
        if isinstance(event, TurnStats):
            stats.append(event)
        elif isinstance(event, AssistantWord):
            words.append((time.perf_counter(), event.word))

    conv = Conversation(chat=chat, synth=synth, ears=ears, output=output, tools=tools, recorder=None, emit=emit,
                        stop=threading.Event(), commands=queue.SimpleQueue(), wake=threading.Event(),
                        single_turn=True)
    original_end = conv._end_reply

    def end_reply(interrupted):
        replies.append(conv.reply)
        original_end(interrupted)

    conv._end_reply = end_reply
    conv.run()
    s, r = stats[0], replies[0]
    m = r.marks
    lat = s.latency_ms
    e2e = (marks["audio"] - source.end) * 1e3 if "audio" in marks else None
    split = {"stt": (marks["flushed"] - source.end) * 1e3, "llm": (m.llm_s - m.llm_s_speaking) * 1e3,
             "llm_tokens": m.llm_tokens - m.llm_tokens_speaking, "tts": m.tts_s_before_audio * 1e3,
             "tts_steps": m.tts_steps_before_audio}
    split["other"] = e2e - split["stt"] - split["llm"] - split["tts"] if e2e is not None else None
    return {"e2e_ms": e2e, "split_ms": split,
            "parts_ms": {"end_of_turn": (marks["eot"] - source.end) * 1e3,
                         "stt_flush": (marks["flushed"] - marks["eot"]) * 1e3,
                         "llm_first_word": lat.get("llm_first_word"), "tts_first_audio": lat.get("tts_first_audio")},
            "tokens_speaking": m.llm_tokens_speaking, "llm_s_speaking": m.llm_s_speaking,
            "underruns": s.underruns, "llm_waits": m.llm_waits, "text": r.text, "end": source.end,
            "words": words, "tool_s": m.tool_s}


class _SlowToolBox:
    """ToolBox's interface (assistant/tools): one tool, `lookup`, that takes `delay` s (or until
    cancelled), no consent, no reminders."""

    def __init__(self, delay: float):
        self.delay = delay

    def schemas(self):
        return [{"type": "function", "function": {
            "name": "lookup", "description": "Look something up.",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}}]

    def needs_consent(self, name):
        return False

    def question(self, name, arguments):
        return f"May I use {name}?"

    def allow_always(self, name):
        pass

    def call(self, name, arguments, cancel):
        from ..assistant.tool_calls import Outcome

        cancel.wait(self.delay)
        return Outcome("Sunny, 21 degrees.", False)

    def due_reminders(self, now):
        return []

    def close(self):
        pass


ANSWER = "It is sunny and twenty one degrees."


def tool_turn(transcriber, synth, audio, tool_s: float, cache_dir=None) -> dict:
    """One turn whose reply is a tool call (scripted LLM, qwen format) to a tool taking `tool_s`:
    ms from the end of the speech to the filler's first audio and to the answer's first audio."""
    from ..assistant.llm import ChatLLM, LlmSettings
    from ..assistant.scripted import scripted_llm
    from ..assistant.speech_text import speakable
    from ..assistant.tool_calls import FILLER

    tools = _SlowToolBox(tool_s)
    call = '<tool_call>\n{"name": "lookup", "arguments": {"query": "weather"}}\n</tool_call>'
    llm = scripted_llm([call, ANSWER], "qwen", cache_dir)
    chat = ChatLLM(llm, "Answer in one sentence.", LlmSettings(greedy=True, max_tokens=60, seed=0),
                   tools=tools.schemas())
    t = _turn(chat, transcriber, synth, audio, "What is the weather like?", tools=tools)
    filler, answer = speakable(FILLER).split(), speakable(ANSWER).split()
    said = [w.strip() for _, w in t["words"]]

    def first(word_list):
        for i in range(len(said) - len(word_list) + 1):
            if said[i:i + len(word_list)] == word_list:
                return (t["words"][i][0] - t["end"]) * 1e3
        return None

    return {"filler_first_audio": first(filler), "answer_first_audio": first(answer), "tool_s": t["tool_s"],
            "spoken": " ".join(said)}


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
    users = ["What is the weather like?", "Tell me a story.", "And then?", "Thanks!"]
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
    return {"models": {"stt": args.stt, "llm": args.llm, "tts": f"random tts-1.6b dim {args.dim}" if args.dim
                       else "demo-tts"}, "device": str(mx.default_device()), "turns": args.turns,
            "e2e_ms": e2e, "parts_ms": parts, "parts_alone_ms": parts_alone, "sum_of_parts_ms": total,
            "ratio": e2e / total if e2e and total else None,
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

    tps = r["llm_tokens_per_s"]
    print(f"assistant bench: STT {r['models']['stt']}, LLM {r['models']['llm']}, TTS {r['models']['tts']}, "
          f"{r['device']}, {r['turns']} turns (medians; compute times, not paced in real time)")
    print(f"  end of speech -> first audio: {ms(r['e2e_ms'])}; parts in the loop: "
          + ", ".join(f"{k} {ms(v)}" for k, v in r["parts_ms"].items()))
    print("  parts alone: " + ", ".join(f"{k} {ms(v)}" for k, v in r["parts_alone_ms"].items())
          + f"; sum {ms(r['sum_of_parts_ms'])}; e2e / sum {r['ratio']:.2f} (goal <= 1.15)" if r["ratio"] else "")
    sp = r["first_audio_split_ms"]
    print(f"  in the loop, end of speech -> first audio: STT {ms(sp['stt'])}, LLM {ms(sp['llm'])} "
          f"({sp['llm_tokens']:.0f} tokens), TTS {ms(sp['tts'])} ({sp['tts_steps']:.0f} steps), other (idle, "
          f"bookkeeping) {ms(sp['other'])}; the LLM's words after its first, alone: "
          f"{ms(r['later_words_alone_ms'])}; e2e / (sum + those) {r['ratio_with_later_words']:.2f}")
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
