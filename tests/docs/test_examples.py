"""The command examples of README.md and docs/*.md run as written.

Every `python -m moshi_mlx ...`, `moshi-mlx ...` and `moshi-quantize ...` line of a fenced bash block
is parsed by the command's own parser (an unknown command or option, a missing argument: failure).
Then, unless marked, it runs with the demo models in a fresh folder holding the input files of
FIXTURES (MOSHI_MLX_HOME shared by the whole test session, so the demo models are made once; no
network: HF_HUB_OFFLINE=1 and an empty Hugging Face cache), the lines of one block in order, and
must exit with 0.

Examples that cannot run here (a real model, audio devices, the network, minutes of work) are
checked for parsing only, marked with the reason:
- a whole block: `<!-- parse-only: needs a microphone -->` on the line before its fence;
- one line: a trailing `# parse-only: needs a real model` comment.

The ```python blocks are compiled, and every name they import from this project must exist.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest
import soundfile as sf

from .commands import check_args
from .markdown import REPO, Block, blocks, pages, rel

PROGRAMS = {  # how a line starts -> the module that runs it
    ("python", "-m", "moshi_mlx"): "moshi_mlx",
    ("python3", "-m", "moshi_mlx"): "moshi_mlx",
    ("moshi-mlx",): "moshi_mlx",
    ("python", "-m", "moshi_quantize"): "moshi_quantize",
    ("moshi-quantize",): "moshi_quantize",
}
PARSE_ONLY = re.compile(r"^parse-only:\s*(\S.*)$")
TRAILING = re.compile(r"\s#\s*parse-only:\s*(\S.*)$")
PROJECT_MODULES = ("moshi_mlx", "moshi_quantize", "moshi_app")


def _tone(seconds: float, hz: float):
    t = np.arange(int(24000 * seconds)) / 24000
    return lambda path: sf.write(path, (0.2 * np.sin(2 * np.pi * hz * t)).astype(np.float32), 24000)


def _text(text: str):
    return lambda path: path.write_text(text, encoding="utf-8")


# Input files the examples may name: each runnable block starts in a folder holding all of them.
FIXTURES = {
    "talk.wav": _tone(1.0, 220),
    "question.wav": _tone(1.0, 330),
    "talk-fr.wav": _tone(1.0, 180),
    "me.wav": _tone(2.0, 150),
    "chapter1.txt": _text("Once upon a time, a small model read a story.\n"),
    "dialogue.txt": _text("Hello there.\nHi! How are you?\n"),
}


@dataclass
class Example:
    program: str          # moshi_mlx or moshi_quantize
    argv: list[str]
    text: str             # the line as written (continuations joined)
    parse_only: str | None


def commands(block: Block) -> list[Example]:
    """The project's command lines of a bash block."""
    block_reason = None
    if block.marker and (m := PARSE_ONLY.match(block.marker)):
        block_reason = m.group(1)
    out = []
    for line in block.text.replace("\\\n", " ").splitlines():
        m = TRAILING.search(line)
        reason = m.group(1) if m else block_reason
        for segment in re.split(r"\|\||&&|[|;]", line):
            words = shlex.split(segment, comments=True)
            for start, program in PROGRAMS.items():
                if tuple(words[:len(start)]) == start:
                    assert reason is not None or "|" not in line, (
                        f"{block.where}: {line.strip()}: a pipe cannot run here; mark it parse-only")
                    out.append(Example(program, words[len(start):], line.strip(), reason))
    return out


BASH = [b for p in pages() for b in blocks(p) if b.lang in ("bash", "sh", "shell")]
EXAMPLES = [(b, commands(b)) for b in BASH]
RUNNABLE = [(b, ex) for b, ex in EXAMPLES if any(e.parse_only is None for e in ex)]
PYTHON = [b for p in pages() for b in blocks(p) if b.lang == "python"]


def test_examples_found():
    total = sum(len(ex) for _, ex in EXAMPLES)
    assert total > 60 and len(RUNNABLE) > 8, (total, len(RUNNABLE))
    pages_with = {rel(b.page) for b, ex in EXAMPLES if ex}
    assert "README.md" in pages_with and "docs/transcribe.md" in pages_with


@pytest.mark.parametrize("block,examples", EXAMPLES, ids=[b.where for b, _ in EXAMPLES])
def test_example_parses(block, examples):
    if block.marker and block.marker.startswith("parse-only"):
        assert PARSE_ONLY.match(block.marker), f"{block.where}: `parse-only:` needs a reason"
    problems = [f"{block.where}: {e.text}\n    {why}" for e in examples if (why := check_args(e.program, e.argv))]
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="session")
def example_env(tmp_path_factory):
    env = dict(os.environ)
    env.update(MOSHI_MLX_HOME=str(tmp_path_factory.mktemp("moshi-home")),
               HF_HOME=str(tmp_path_factory.mktemp("hf-home")), HF_HUB_OFFLINE="1",
               PYTHONUNBUFFERED="1", XDG_DATA_HOME=str(tmp_path_factory.mktemp("xdg-data")))
    env.pop("HF_HUB_CACHE", None)  # (XDG_DATA_HOME: `tools call set_timer` keeps its reminders there)
    return env


def run(example: Example, cwd, env) -> subprocess.CompletedProcess:
    for arg in example.argv:
        assert not arg.startswith(("~", "/")), (
            f"{example.text}: a runnable example writes only in its own folder; mark it parse-only")
    return subprocess.run([sys.executable, "-m", example.program, *example.argv], cwd=cwd, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)


@pytest.mark.slow  # about a minute for all of them; parsing (above) is the fast check
@pytest.mark.parametrize("block,examples", RUNNABLE, ids=[b.where for b, _ in RUNNABLE])
def test_example_runs(block, examples, tmp_path, example_env):
    for name, make in FIXTURES.items():
        make(tmp_path / name)
    for example in examples:
        if example.parse_only is not None:
            continue
        done = run(example, tmp_path, example_env)
        assert done.returncode == 0, (f"{block.where}: {example.text}\nexit {done.returncode}\n"
                                      f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}")


def test_a_wrong_example_fails(tmp_path, example_env):
    assert check_args("moshi_mlx", ["transcribe", "talk.wav", "--no-such-option"])
    assert check_args("moshi_mlx", ["no-such-command"])
    assert check_args("moshi_mlx", ["transcribe", "talk.wav", "--out", "x.txt"])  # abbreviated
    assert check_args("moshi_mlx", ["bench", "lm", "--step", "3"])
    assert check_args("moshi_mlx", ["encode", "talk.wav"])  # a missing argument
    assert check_args("moshi_quantize", ["kyutai/moshiko-pytorch-bf16", "--bits", "3", "-o", "x"])
    assert check_args("moshi_mlx", ["bench", "--model", "demo", "--frames", "3"]) is None
    done = run(Example("moshi_mlx", ["transcribe", "missing.wav", "--model", "demo-stt"], "", None),
               tmp_path, example_env)
    assert done.returncode != 0
    block = Block(REPO / "README.md", 1, "bash", "python -m moshi_mlx say hi -o a.wav  # parse-only: why\n"
                  "moshi-quantize x -o y\necho hi | python -m moshi_mlx say -  # parse-only: a pipe", None)
    assert [(e.program, e.argv, e.parse_only) for e in commands(block)] == [
        ("moshi_mlx", ["say", "hi", "-o", "a.wav"], "why"), ("moshi_quantize", ["x", "-o", "y"], None),
        ("moshi_mlx", ["say", "-"], "a pipe")]


def project_imports(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PROJECT_MODULES:
            yield node.module, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in PROJECT_MODULES:
                    yield a.name, []


@pytest.mark.parametrize("block", PYTHON, ids=[b.where for b in PYTHON])
def test_python_block_imports_exist(block):
    tree = ast.parse(block.text, filename=block.where)
    for module, names in project_imports(tree):
        try:
            mod = importlib.import_module(module)
        except ImportError as e:
            pytest.fail(f"{block.where}: import {module}: {e}")
        for name in names:
            if not hasattr(mod, name):
                try:
                    importlib.import_module(f"{module}.{name}")
                except ImportError:
                    pytest.fail(f"{block.where}: {module} has no {name}")
