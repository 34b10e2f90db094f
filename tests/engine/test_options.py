"""Sampling and loop options are checked by the argument parser (issue 20, item 6): a usage
error naming the option, exit code 2, never a traceback or a silent NaN."""

import pytest

from moshi_mlx import cli


@pytest.mark.parametrize("command", ["run", "chat"])
@pytest.mark.parametrize("option, value, expected", [
    ("--text-temperature", "-1", "expected a number >= 0"),
    ("--audio-temperature", "nan", "expected a number >= 0"),
    ("--text-temperature", "inf", "expected a number >= 0"),
    ("--audio-top-k", "0", "expected an integer >= 1"),
    ("--text-top-k", "2.5", "expected an integer >= 1"),
    ("--seed", "-3", "expected an integer >= 0"),
])
def test_bad_sampling_options(capsys, command, option, value, expected):
    args = [command, option, value] + (["--input", "a.wav", "--output", "b.wav"] if command == "run" else [])
    with pytest.raises(SystemExit) as info:
        cli.main(args)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: '{value}': {expected}" in err and "Traceback" not in err


@pytest.mark.parametrize("option, value", [("--max-lag-frames", "-1"), ("--duration", "0"),
                                           ("--duration", "nan")])
def test_bad_chat_loop_options(capsys, option, value):
    with pytest.raises(SystemExit) as info:
        cli.main(["chat", option, value])
    assert info.value.code == 2 and f"argument {option}" in capsys.readouterr().err


def test_good_values_parse():
    from moshi_mlx.engine.options_cli import number

    assert number(0.0)("0") == 0.0 and number(1, integer=True)("250") == 250
    assert number(0, low_open=True)("0.5") == 0.5
