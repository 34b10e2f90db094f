"""The table of commands that write files: every probe of test_matrix.py runs against every row.
A new command that writes files adds a row here (and calls moshi_mlx.outputs.OutputSet); one that
writes none is listed in NO_OUTPUT_FILES with what it writes instead. test_every_command_is_classified
fails until one of the two is done."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

MISSING_MODEL = "/nonexistent/moshi-model"  # probes that must fail before the model is looked at


@dataclass(frozen=True)
class Command:
    id: str
    input: str  # the key of the `inputs` fixture this command reads (the one an output could be)
    argv: Callable[[dict, Path, str], list]  # (inputs, output path, model) -> arguments
    model: str  # the demo model that makes it run
    stdout: bool = True  # writes to standard output besides the file (broken pipe probe)
    extra: dict = field(default_factory=dict)


def _other(out: Path, name: str) -> Path:
    return out.parent / f"{out.stem}-{name}"


COMMANDS = [
    Command("run", "wav", lambda i, o, m: ["run", "--model", m, "--input", i["wav"], "--output", o,
                                           "--quiet", "--seed", 1], "demo"),
    Command("run--transcript", "wav", lambda i, o, m: [
        "run", "--model", m, "--input", i["wav"], "--output", _other(o, "a.wav"), "--transcript", o,
        "--quiet"], "demo"),
    Command("run--tokens", "wav", lambda i, o, m: [
        "run", "--model", m, "--input", i["wav"], "--output", _other(o, "a.wav"), "--tokens", o,
        "--quiet"], "demo"),
    Command("run--image", "image", lambda i, o, m: [
        "run", "--model", m, "--input", i["wav"], "--image", i["image"], "--output", o, "--quiet"], "demo-vis"),
    Command("encode", "wav", lambda i, o, m: ["encode", i["wav"], o, "--model", m], "demo"),
    Command("decode", "codes", lambda i, o, m: ["decode", i["codes"], o, "--model", m], "demo"),
    Command("transcribe", "wav", lambda i, o, m: ["transcribe", "--model", m, i["wav"], "-o", o,
                                                  "--format", "txt", "--force", "--quiet"],
            "demo-stt", stdout=False),
    Command("transcribe--tokens", "wav", lambda i, o, m: [
        "transcribe", "--model", m, i["wav"], "--tokens", o, "--force", "--quiet"], "demo-stt"),
    Command("say", "text", lambda i, o, m: ["say", "--model", m, "--file", i["text"], "-o", o,
                                            "--seed", 1], "demo-tts"),
    Command("say--tokens", "text", lambda i, o, m: [
        "say", "--model", m, "--file", i["text"], "-o", _other(o, "a.wav"), "--tokens", o], "demo-tts"),
    Command("translate", "wav", lambda i, o, m: ["translate", "--model", m, i["wav"], "-o", o,
                                                 "--quiet", "--max-tail", "0.5"], "demo-hibiki"),
    Command("translate--transcript", "wav", lambda i, o, m: [
        "translate", "--model", m, i["wav"], "-o", _other(o, "a.wav"), "--transcript", o, "--quiet",
        "--max-tail", "0.5"], "demo-hibiki"),
    Command("assistant", "wav", lambda i, o, m: [
        "assistant", "--stt", "demo-stt", "--llm", "demo-llm", "--tts", m, "--input", i["wav"], "-o", o,
        "--seed", 1, "--max-tokens", 8], "demo-tts"),
]

# sub-commands that write no file a user names, and what they write instead
NO_OUTPUT_FILES = {
    "chat": "speakers; --record DIR through moshi_mlx.outputs.record_folder",
    "listen": "stdout; --record DIR through moshi_mlx.outputs.record_folder",
    "serve": "the network (items 18-20 of issue #30)",
    "models": "stdout; downloads into the model cache",
    "voices": "stdout; --add writes into the user voice folder",
    "bench": "stdout",
    "tools": "stdout; reminders.json and the notes file through the tools' own writers (moshi_mlx/tools)",
}
