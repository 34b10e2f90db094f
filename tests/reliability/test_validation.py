"""Item 8: one validation of numeric options. Every numeric option of every command goes through
moshi_mlx.engine.options_cli's validators (`number(...)`): nan, inf, negative and out-of-range
values are usage errors naming the option, never a traceback or silent garbage."""

from __future__ import annotations

import argparse
import importlib

import pytest

from moshi_mlx.cli import SUBCOMMANDS
from moshi_mlx.cli import main as cli_main

OTHER_OWNERS = {"serve"}  # items 18-20 of issue #30


def _parsers():
    import moshi_quantize.cli

    found = []
    for name, (module_name, _) in SUBCOMMANDS.items():
        if name in OTHER_OWNERS:
            continue
        module = importlib.import_module(module_name)
        p = argparse.ArgumentParser(prog=name)
        if module.configure_parser.__code__.co_argcount >= 2:
            module.configure_parser(p, name)
        else:
            module.configure_parser(p)
        found.append((name, p))
    p = argparse.ArgumentParser(prog="moshi-quantize")
    moshi_quantize.cli.configure_parser(p)
    found.append(("moshi-quantize", p))
    out = []
    while found:
        name, p = found.pop()
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                found += [(f"{name} {sub}", sp) for sub, sp in action.choices.items()]
            elif action.option_strings and action.type is not None:
                out.append((name, action))
    return out


NUMERIC = [(n, a) for n, a in _parsers() if a.type in (int, float) or getattr(a.type, "__name__", "")
           in ("number", "integer")]


def test_every_numeric_option_uses_the_validator():
    raw = [f"{n} {a.option_strings[-1]}" for n, a in NUMERIC if a.type in (int, float) and not a.choices]
    assert not raw, f"use moshi_mlx.engine.options_cli's validators (number, TEMPERATURE, ...): {raw}"


CHECKED = [(n, a) for n, a in NUMERIC if not a.choices]
IDS = [f"{n} {a.option_strings[-1]}" for n, a in CHECKED]


@pytest.mark.parametrize("bad", ["nan", "inf", "-1", "-inf", "1e400", "x"])
@pytest.mark.parametrize("name,action", CHECKED, ids=IDS)
def test_bad_numbers_are_refused(name, action, bad):
    with pytest.raises((argparse.ArgumentTypeError, ValueError)):
        action.type(bad)


@pytest.mark.parametrize("name,action", [c for c in CHECKED if c[1].type.__name__ == "integer"],
                         ids=[i for c, i in zip(CHECKED, IDS) if c[1].type.__name__ == "integer"])
def test_huge_integers_are_refused(name, action):
    with pytest.raises(argparse.ArgumentTypeError):
        action.type(str(2**70))


@pytest.mark.parametrize("argv,option", [
    (["transcribe", "x.wav", "--text-top-k", "0"], "--text-top-k"),
    (["transcribe", "x.wav", "--text-temperature", "-1"], "--text-temperature"),
    (["transcribe", "x.wav", "--text-temperature", "nan"], "--text-temperature"),
    (["say", "hi", "--temperature", "-1"], "--temperature"),
    (["say", "hi", "--temperature", "inf"], "--temperature"),
    (["say", "hi", "--seed", "-1"], "--seed"),
    (["say", "hi", "--seed", str(2**70)], "--seed"),
    (["listen", "--text-temperature", "nan"], "--text-temperature"),
    (["listen", "--seed", str(2**70)], "--seed"),
    (["translate", "x.wav", "--max-tail", "nan"], "--max-tail"),
    (["bench", "stt", "--seconds", "0"], "--seconds"),
    (["run", "--input", "x", "--output", "y", "--seed", "-1"], "--seed"),
])
def test_issue_examples_are_usage_errors(argv, option, capsys):
    with pytest.raises(SystemExit) as e:
        cli_main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert option in err and "Traceback" not in err


def test_quantize_agreement_is_a_fraction(capsys):
    import moshi_quantize.cli

    p = argparse.ArgumentParser()
    moshi_quantize.cli.configure_parser(p)
    with pytest.raises(SystemExit):
        p.parse_args(["src", "-o", "out", "--min-text-agreement", "1.5"])
    assert "--min-text-agreement" in capsys.readouterr().err
