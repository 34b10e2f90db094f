"""`python -m moshi_mlx assistant`: talk with a local voice assistant (Kyutai STT -> an mlx-lm
chat model -> Kyutai TTS), in the terminal.

    assistant                                      # live: microphone and speaker, Ctrl+C ends
    assistant --text                               # typed turns from stdin, one per line, spoken
    assistant --text --no-speak --jsonl            # one JSON object per turn on stdout
    assistant --input question.wav -o reply.wav    # one spoken turn from a file, the reply to a file
"""

from __future__ import annotations

import argparse
import json
import queue
import sys
from pathlib import Path

from ..errors import MoshiError


def _tools_module():
    try:
        from .. import tools
    except ImportError:
        return None
    return tools if hasattr(tools, "add_tool_arguments") else None


def configure_parser(p: argparse.ArgumentParser) -> None:
    from ..engine.options_cli import number
    from .options import DEFAULT_STT, DEFAULT_TTS

    p.add_argument("--stt", default=DEFAULT_STT, metavar="M",
                   help=f"Kyutai STT model: folder, repo id or demo-stt (default {DEFAULT_STT})")
    p.add_argument("--llm", default="demo-llm", metavar="M",
                   help="mlx-lm chat model: folder, repo id or demo-llm (default demo-llm)")
    p.add_argument("--tts", default=DEFAULT_TTS, metavar="M",
                   help=f"Kyutai TTS model: folder, repo id or demo-tts (default {DEFAULT_TTS})")
    p.add_argument("--voice", default=None, metavar="V", help="TTS voice (default: the model's)")
    p.add_argument("--system", default=None, metavar="TEXT|@FILE",
                   help="the system prompt, or @FILE to read it from a file (default: the preset's)")
    from .character import DEFAULT_PRESET, PRESETS

    p.add_argument("--preset", default=DEFAULT_PRESET, choices=sorted(PRESETS), metavar="P",
                   help=f"character preset: {', '.join(sorted(PRESETS))} (default {DEFAULT_PRESET})")
    p.add_argument("--temperature", type=number(0.0), default=0.7, metavar="T", help="LLM sampling (default 0.7)")
    p.add_argument("--greedy", action="store_true", help="LLM argmax sampling")
    p.add_argument("--max-tokens", type=number(1, integer=True), default=300, metavar="N",
                   help="LLM tokens per reply at most (default 300)")
    p.add_argument("--seed", type=number(0, integer=True, high=2**31 - 1), default=None, metavar="S")
    p.add_argument("--input-device", default=None, metavar="D", help="microphone index or name (default: system's)")
    p.add_argument("--output-device", default=None, metavar="D", help="speaker index or name (default: system's)")
    p.add_argument("--no-aec", action="store_true", help="no echo cancellation (use headphones)")
    p.add_argument("--record", default=None, metavar="DIR",
                   help="keep the session for History in DIR: both voices (WAV) and the transcript")
    p.add_argument("--text", action="store_true", help="typed turns from stdin, one per line (no STT loaded)")
    p.add_argument("--no-speak", action="store_true", help="replies as text only (no TTS loaded)")
    p.add_argument("--jsonl", action="store_true",
                   help="one JSON object per turn on stdout: user, assistant, spoken, interrupted, latency_ms")
    p.add_argument("--input", default=None, metavar="FILE.wav", help="one spoken turn from this file")
    p.add_argument("-o", "--output", default=None, metavar="REPLY.wav",
                   help="write the spoken replies to this WAV file (then nothing is played)")
    p.add_argument("--silence-timeout", type=number(0.1), default=1.0, metavar="S",
                   help="end of turn for an STT without end-of-turn heads (default 1 s)")
    p.add_argument("--list-devices", action="store_true", help="list audio devices and exit")
    p.add_argument("--cache-dir", default=None, help="Hugging Face cache folder (default: HF's)")
    p.add_argument("--codec-backend", choices=("mlx", "rustymimi"), default="mlx", help="Mimi implementation")
    tools = _tools_module()
    if tools is not None:
        tools.add_tool_arguments(p)


def options_from_args(args: argparse.Namespace):
    from .options import AssistantOptions

    if args.text and args.input:
        raise MoshiError("--text and --input: choose typed turns or a spoken file")
    if args.no_speak and args.output:
        raise MoshiError("--no-speak and -o: nothing would be spoken into the file")
    if args.input and not Path(args.input).is_file():
        raise MoshiError(f"--input {args.input}: no such file")
    system = args.system
    if system and system.startswith("@"):
        try:
            system = Path(system[1:]).expanduser().read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as e:
            raise MoshiError(f"--system {args.system}: cannot read it ({e})") from None
    live = not (args.text or args.input)
    tools = None
    module = _tools_module()
    if module is not None:
        args.record_dir = args.record  # History search looks in the recordings folder
        tools = module.toolbox_from_args(args)
    return AssistantOptions(
        stt=None if args.text else args.stt, llm=args.llm, tts=None if args.no_speak else args.tts,
        voice=args.voice, preset=args.preset, system=system, temperature=args.temperature,
        greedy=args.greedy, max_tokens=args.max_tokens, seed=args.seed,
        input_device=(args.input_device or "default") if live else None,
        output_device=None if (args.no_speak or args.output) else (args.output_device or "default"),
        input_wav=args.input, output_wav=args.output, aec=False if args.no_aec else None,
        record_dir=args.record, silence_timeout_s=args.silence_timeout, tools=tools,
        cache_dir=args.cache_dir, codec_backend=args.codec_backend)


class Printer:
    """Events to the terminal: captions and replies on stdout (or one JSON line per turn), the rest
    on stderr. Collects each turn for --jsonl."""

    def __init__(self, jsonl: bool):
        from ..talk.chat_cli import TerminalView

        self.jsonl = jsonl
        self.events: queue.Queue = queue.Queue()
        self.status = TerminalView(show_stats=False)
        self.fatal: str | None = None
        self.fatal_kind = ""
        self._user: dict[int, str] = {}
        self._line = False
        self._caption = False  # live captions on stderr, line not ended

    def __call__(self, event) -> None:
        self.events.put(event)

    def exit_code(self) -> int:
        """0 when no fatal error; 2 for one the user can fix (a file, a model, a device: exit 2 as
        every command's MoshiError), 1 for an internal error."""
        return 0 if self.fatal is None else 1 if self.fatal_kind == "internal" else 2

    def show(self, event) -> None:
        from ..engine.events import ErrorEvent, ProgressEvent, StateEvent
        from .events import AssistantReply, AssistantWord, ConsentRequest, ReminderEvent, TurnStats, UserCaption, UserTurn

        out = sys.stdout
        if isinstance(event, ErrorEvent):
            if event.fatal:
                self.fatal, self.fatal_kind = event.message, event.kind
            print(f"{'error' if event.fatal else 'note'}: {event.message.splitlines()[0]}", file=sys.stderr)
        elif isinstance(event, (ProgressEvent, StateEvent)):
            if not (isinstance(event, StateEvent) and event.state in ("running", "stopped")):
                self.status(event)
            if isinstance(event, StateEvent) and event.state == "running":
                print(f"\nassistant ready: {event.detail}", file=sys.stderr)
        elif isinstance(event, UserTurn):
            self._user[event.turn] = event.text
            if self._caption:
                sys.stderr.write("\n")
                self._caption = False
            if not self.jsonl and not event.typed:
                self._end_line()
                print(f"you: {event.text}", file=out, flush=True)
        elif isinstance(event, UserCaption) and not self.jsonl:
            sys.stderr.write(("(hearing) " if not self._caption else "") + event.text)
            sys.stderr.flush()
            self._caption = True
        elif isinstance(event, AssistantWord) and not self.jsonl:
            if not self._line:
                out.write("assistant:")
                self._line = True
            out.write(event.word)
            out.flush()
        elif isinstance(event, AssistantReply):
            self._end_line()
            self._reply = event
        elif isinstance(event, TurnStats):
            reply = getattr(self, "_reply", None)
            if self.jsonl and reply is not None:
                print(json.dumps({"user": self._user.get(event.turn, ""), "assistant": reply.text,
                                  "spoken": reply.spoken, "interrupted": reply.interrupted,
                                  "latency_ms": {k: round(v, 1) for k, v in event.latency_ms.items()}},
                                 ensure_ascii=False), flush=True)
            elif not self.jsonl:
                parts = ", ".join(f"{k} {v:.0f}" for k, v in event.latency_ms.items())
                print(f"[latency ms: {parts}; {event.llm_tokens_per_s:.0f} tokens/s]", file=sys.stderr)
        elif isinstance(event, ConsentRequest):
            print(f"consent: {event.question} (say yes or no)", file=sys.stderr)
        elif isinstance(event, ReminderEvent):
            print(f"reminder: {event.text}", file=sys.stderr)

    def _end_line(self) -> None:
        if self._line:
            sys.stdout.write("\n")
            sys.stdout.flush()
            self._line = False

    def wait_for(self, *kinds, timeout: float | None = None):
        """Show events until one of `kinds` (an event class or a StateEvent state) arrives."""
        from ..engine.events import StateEvent

        while True:
            event = self.events.get(timeout=timeout)
            self.show(event)
            if isinstance(event, StateEvent) and event.state in kinds:
                return event
            if any(isinstance(k, type) and isinstance(event, k) for k in kinds):
                return event


def main(args: argparse.Namespace) -> int:
    from ..engine.devices import format_devices, list_devices
    from ..engine.events import StateEvent
    from .events import TurnStats
    from .session import Assistant

    if args.list_devices:
        print(format_devices(list_devices()))
        return 0
    options = options_from_args(args)
    printer = Printer(args.jsonl)
    assistant = Assistant(printer)
    try:
        assistant.start(options)
        if printer.wait_for("running", "stopped").state == "stopped":
            return printer.exit_code()
        if args.text:
            for line in sys.stdin:
                if not line.strip():
                    continue
                assistant.send_text(line.strip())
                if isinstance(printer.wait_for(TurnStats, "stopped"), StateEvent):
                    break
        else:  # a file's turn ends the session by itself; live: until Ctrl+C
            if not options.input_wav:
                print("speak! (Ctrl+C to stop)", file=sys.stderr)
            printer.wait_for("stopped")
    except KeyboardInterrupt:
        pass
    finally:
        assistant.stop()
        if options.tools is not None:
            options.tools.close()
        while not printer.events.empty():
            printer.show(printer.events.get())
        if assistant.recording_paths:
            print("recorded: " + ", ".join(str(p) for p in assistant.recording_paths.values()), file=sys.stderr)
    if printer.fatal:
        return printer.exit_code()
    if args.output and assistant.output_wav:
        print(f"reply written to {assistant.output_wav}", file=sys.stderr)
    return 0
