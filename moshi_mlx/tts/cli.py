"""`python -m moshi_mlx say`: read text aloud with Kyutai's TTS, to the speaker or into a WAV file.

    say "Hello there."                       # play it
    say --file book.txt -o book.wav          # a WAV, written as it is made
    some-llm | say -                         # each line spoken as soon as it arrives
    say --voice vctk/p225_023 --voice vctk/p226_009 --file dialogue.txt   # lines alternate speakers

Everything is checked before the model runs (text, voices, output paths); outputs are written
under temporary names and renamed at the end, so an error or Ctrl+C leaves nothing half-written.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time

from .. import FRAME_RATE, FRAME_SIZE, SAMPLE_RATE
from ..engine import options_cli as _v

DEFAULT_MODEL = "kyutai/tts-1.6b-en_fr"


def configure_parser(p: argparse.ArgumentParser) -> None:
    from ..engine.options_cli import add_model_options

    p.add_argument("text", nargs="?", default=None,
                   help='the text to speak, or "-" to read standard input (each line is spoken as '
                        "soon as it arrives)")
    p.add_argument("--file", "-f", default=None, help="read the text from this UTF-8 file")
    p.add_argument("-o", "--output", default=None, help="write a 24 kHz WAV file instead of playing")
    p.add_argument("--voice", action="append", default=None, metavar="NAME|FILE",
                   help="a voice of kyutai/tts-voices (e.g. vctk/p225_023), a voice embedding "
                        "(.safetensors) or, for models voiced by an audio prefix, a recording. Give "
                        "it twice for a dialogue: the text's lines alternate between the voices "
                        "(default: the model's default voice)")
    p.add_argument("--list-voices", action="store_true", help="list the model's voices and exit")
    p.add_argument("--cfg", type=_v.GUIDANCE, default=2.0,
                   help="classifier-free guidance: how closely to follow the text and voice "
                        "(1.6B: one of 1, 1.5, .., 4; default 2)")
    p.add_argument("--temperature", type=_v.TEMPERATURE, default=0.6, help="sampling temperature (text and audio)")
    p.add_argument("--seed", type=_v.SEED, default=None, help="random seed (reproducible output)")
    p.add_argument("--greedy", action="store_true", help="temperature 0 everywhere (argmax)")
    p.add_argument("--codebooks", type=_v.COUNT, default=None,
                   help="audio codebooks generated and decoded (default: 24 of 32; fewer is faster)")
    p.add_argument("--tokens", default=None, metavar="FILE.npy",
                   help="save the tokens: int32 [1 + codebooks, frames], text then audio, "
                        "as Kyutai's TTSResult.frames")
    add_model_options(p)
    p.set_defaults(model=DEFAULT_MODEL)
    p.add_argument("--output-device", default=None, help="output device index or name (default: system's)")
    p.add_argument("--list-devices", action="store_true", help="list audio devices and exit")
    p.add_argument("--quiet", action="store_true", help="do not print the words as they are spoken")


def main(args: argparse.Namespace) -> int:
    if args.list_devices:
        from ..engine.devices import format_devices, list_devices

        print(format_devices(list_devices()))
        return 0
    from .outputs import OutputSet
    from .text_source import TextSource

    source = TextSource.from_args(args.text, args.file) if not args.list_voices else None
    targets = {} if args.list_voices else {"wav": args.output, "tokens": args.tokens}
    targets = {name: path for name, path in targets.items() if path}
    # every output checked (and its temporary made) before the model loads; none kept on failure
    with OutputSet(targets, inputs=[args.file], options={"wav": "--output", "tokens": "--tokens"}) as files:
        model = _load(args)
        from .info import TtsInfo

        info = TtsInfo.from_model(model)
        if args.list_voices:
            return _list_voices(info, model, args.cache_dir)
        voices = _voices(args, info, model)
        from .synth import Synthesizer, TtsSettings

        settings = TtsSettings(cfg=args.cfg, codebooks=args.codebooks, temperature=args.temperature,
                               seed=args.seed)
        settings = settings.greedy() if args.greedy else settings
        run = _Run(args, model, voices, settings, source, files)
        return run.go(Synthesizer)


def _load(args):
    from ..engine.loader import load_model
    from ..hub import known_model, resolve_model
    from ..kinds import KINDS, ModelKindError

    known = known_model(args.model)
    if known is not None and known.kind != "tts":  # before downloading gigabytes
        kind = KINDS[known.kind]
        raise ModelKindError(f"{args.model} is a {kind.label} model; say needs a text to speech "
                             f"model (e.g. {DEFAULT_MODEL})")
    files = resolve_model(args.model, cache_dir=args.cache_dir, progress=_progress("model"))
    from ..kinds import check_kind

    check_kind(files.config, ("tts",), files.name, "say")
    if files.is_demo:
        print("note: the demo model has random weights: you will hear noise", file=sys.stderr)
    return load_model(files, args.codec_backend)


def _progress(what: str):
    def report(done: int, total: int) -> None:
        if total:
            sys.stderr.write(f"\rdownloading {what}: {done / 1e6:.1f}/{total / 1e6:.1f} MB "
                             f"{100 * done / total:5.1f}%")
            if done >= total:
                sys.stderr.write("\n")
            sys.stderr.flush()
    return report


def _voices(args, info, model):
    from .voice_repo import default_voice, resolve_voice
    from .voices import check_voices

    specs = args.voice or [default_voice(model)]
    voices = [resolve_voice(s, info, model, args.cache_dir, progress=_progress(f"voice {s}")) for s in specs]
    check_voices(info, voices, model.files.name)
    return voices


def _list_voices(info, model, cache_dir) -> int:
    from .voice_repo import default_voice, list_voices

    voices = list_voices(info, model, cache_dir)
    default = default_voice(model)
    if not voices:
        print("no voices found (offline, and none downloaded yet)", file=sys.stderr)
        return 1
    width = max(len(v.name) for v in voices)
    for v in voices:
        mark = "*" if v.name == default else " "
        where = "model" if v.source == "model" else ("installed" if v.installed else "")
        print(f"{mark} {v.name:<{width}}  {v.language:<3} {where}")
    print(f"* default voice; {len(voices)} voices", file=sys.stderr)
    return 0


class _Run:
    """One synthesis: the synthesizer fed from the text source, frames to the WAV or speaker."""

    def __init__(self, args, model, voices, settings, source, outputs):
        self.args, self.model, self.voices, self.settings = args, model, voices, settings
        self.source, self.outputs = source, outputs
        self.stop = threading.Event()

    def go(self, synth_class) -> int:
        from ..interrupts import interrupt_as_request
        from .outputs import NpyColumns, WavStream
        from .script import ScriptReader
        from .text_source import Feeder, TextError, unspeakable_message

        rows = []
        synth = synth_class(self.model, self.voices, self.settings, token_sink=rows.append)
        s = synth
        self.source.check_speakable(ScriptReader(s.model.tokenizer, s.info.token_ids, FRAME_RATE,
                                                 s.info.multi_speaker), self.model.files.name)
        t0 = time.perf_counter()
        synth.gen.warmup()
        warmup_s = time.perf_counter() - t0
        feeder = Feeder(self.source, synth, len(self.voices) > 1, self.stop)
        files = self.outputs
        wav = WavStream(files.temps["wav"]) if "wav" in files.temps else None
        token_file = NpyColumns(files.temps["tokens"], 1 + synth.codebooks) if "tokens" in files.temps else None
        player = None if wav is not None else self._player()
        # Ctrl+C stops the synthesis at the next frame, then raises: outputs are never kept
        with interrupt_as_request(lambda: (self.stop.set(), synth.cancel())):
            try:
                feeder.start()
                started = time.perf_counter()
                frames = 0
                for frame in synth.frames():
                    self._write_tokens(rows, token_file)
                    if wav is not None:
                        wav.write(frame.pcm)
                    else:
                        player.write(frame.pcm, self.stop)
                    self._print_words(frame)
                    frames += 1
                self._write_tokens(rows, token_file)
                wall = time.perf_counter() - started
                if feeder.error is not None:
                    raise feeder.error
                if frames == 0:
                    raise TextError(unspeakable_message(synth.dropped, self.model.files.name))
                if player is not None:
                    player.drain(self.stop)
            finally:
                self.stop.set()
                if player is not None:
                    player.close()
                for f in (wav, token_file):
                    if f is not None:
                        f.close()
        files.commit()
        if synth.dropped.count:
            print(f"warning: skipped {synth.dropped.describe()} (the tokenizer cannot encode them)",
                  file=sys.stderr)
        self._summary(synth, frames, wall, warmup_s, player)
        return 0

    @staticmethod
    def _write_tokens(rows: list, token_file) -> None:
        if token_file is not None:
            for row in rows:
                token_file.append(row)
        rows.clear()

    def _player(self):
        from .player import Player

        player = Player(self.args.output_device)
        player.start()
        return player

    def _print_words(self, frame) -> None:
        if self.args.quiet or not frame.started:
            return
        sys.stdout.write("".join((" " if w.index else "") + w.text for w in frame.started))
        sys.stdout.flush()

    def _summary(self, synth, frames: int, wall: float, warmup_s: float, player) -> None:
        if not self.args.quiet:
            sys.stdout.write("\n")
        audio_s = frames * FRAME_SIZE / SAMPLE_RATE
        steps = synth.gen.offset
        first = synth.first_audio_s
        lines = [f"{self.model.files.name}: {audio_s:.1f} s of audio in {wall:.1f} s "
                 f"({1000 * synth.compute_s / max(steps, 1):.1f} ms per frame, real-time factor "
                 f"{synth.compute_s / max(audio_s, 1e-9):.2f}); first audio after "
                 + (f"{first:.2f} s" if first is not None else "-")
                 + f" (compile {warmup_s:.1f} s before)"]
        if self.args.output:
            lines.append(f"wrote {self.args.output}")
        if self.args.tokens:
            lines.append(f"wrote {self.args.tokens} [{1 + synth.codebooks}, {steps - synth.gen.buffer.max_delay}]")
        if player is not None and player.underruns:
            lines.append(f"{player.underruns} underruns (the synthesis was slower than real time)")
        print("; ".join(lines), file=sys.stderr)


