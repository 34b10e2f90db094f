"""The command-line parsers, built in this process (no subprocess, nothing run): what
`python -m moshi_mlx COMMAND --help` and `moshi-quantize --help` describe."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io

from moshi_mlx import cli
from moshi_mlx.bench import cli as bench_cli

QUANTIZE = "moshi-quantize"


def command_names() -> list[str]:
    """Every command: the sub-commands of `python -m moshi_mlx` (with their actions: `tools list`),
    `bench NAME` for each benchmark, and moshi-quantize."""
    names = []
    for n in cli.SUBCOMMANDS:
        if n != "bench":
            names += [n, *(f"{n} {action}" for action in _actions(_cli_parser(n)))]
    return [*names, *(f"bench {b}" for b in bench_cli.BENCHMARKS), QUANTIZE]


def _actions(p: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """A command's own sub-commands (`tools list`, `tools call`): name -> parser."""
    for a in p._actions:
        if isinstance(a, argparse._SubParsersAction):
            return dict(a.choices)
    return {}


def parser(command: str) -> argparse.ArgumentParser:
    """The parser of a command as command_names() names it ("bench lm": the benchmark's own)."""
    if command == QUANTIZE:
        from moshi_quantize import cli as quantize_cli
        p = argparse.ArgumentParser(prog=QUANTIZE)
        quantize_cli.configure_parser(p)
        return p
    if command.startswith("bench "):
        name = command.split()[1]
        p = argparse.ArgumentParser(prog=f"moshi-mlx {command}")
        importlib.import_module(bench_cli.BENCHMARKS[name][0]).configure_parser(p)
        return p
    name, _, action = command.partition(" ")
    p = _cli_parser(name)
    return _actions(p)[action] if action else p


def _cli_parser(name: str) -> argparse.ArgumentParser:
    module_name, help_text = cli.SUBCOMMANDS[name]
    module = importlib.import_module(module_name)
    p = argparse.ArgumentParser(prog=f"moshi-mlx {name}", description=help_text)
    module.configure_parser(p, name) if cli._takes_name(module) else module.configure_parser(p)
    return p


def options(command: str) -> list[tuple[str, ...]]:
    """The option strings of each optional argument (`("-o", "--output")`), --help left out."""
    return [tuple(a.option_strings) for a in parser(command)._actions
            if a.option_strings and not isinstance(a, argparse._HelpAction) and a.help != argparse.SUPPRESS]


def all_option_strings(command: str) -> set[str]:
    return {s for opts in options(command) for s in opts}


def check_args(program: str, argv: list[str]) -> str | None:
    """Parse a command line as the program would (nothing runs): None if argparse accepts it, else
    argparse's message. program: "moshi_mlx" or "moshi_quantize"."""
    if program == "moshi_quantize":
        p = parser(QUANTIZE)
    else:
        if not argv or argv[0] not in cli.SUBCOMMANDS:
            return f"no command {argv[:1]} (commands: {', '.join(cli.SUBCOMMANDS)})"
        name, rest = argv[0], argv[1:]
        if name == "bench" and rest and rest[0].startswith("-") and rest[0] not in ("-h", "--help"):
            rest = ["e2e", *rest]  # as cli.main does: `bench --model X` = `bench e2e --model X`
        p, argv = _cli_parser(name), rest
    _no_abbreviations(p)
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            p.parse_args(argv)
    except SystemExit as e:
        return None if e.code == 0 else err.getvalue().strip() or f"exit {e.code}"
    return None


def _no_abbreviations(p: argparse.ArgumentParser) -> None:
    """Docs spell options in full: `--out` for `--output` is refused (argparse would accept it)."""
    p.allow_abbrev = False
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _no_abbreviations(sub)
