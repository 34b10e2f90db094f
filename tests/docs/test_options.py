"""Each command's --help against its page: the page has an options table for the command (a
Markdown table right after `<!-- options: COMMAND -->`), every option of the command's parser is in
that table, and every option the table names exists.

To document a new command: add it to COMMAND_PAGES and write its table on its page. An options table
may serve several commands (`<!-- options: encode, decode -->`): then each command's options must
all be in it, and each option it names must belong to at least one of them."""

from __future__ import annotations

import re

import pytest

from .commands import all_option_strings, command_names, options
from .markdown import REPO, marked_tables

# command -> the page that documents it (and holds its options table)
COMMAND_PAGES = {
    "chat": "docs/talk.md",
    "voices": "docs/talk.md",
    "run": "docs/files.md",
    "encode": "docs/files.md",
    "decode": "docs/files.md",
    "transcribe": "docs/transcribe.md",
    "listen": "docs/transcribe.md",
    "translate": "docs/translate.md",
    "say": "docs/read-aloud.md",
    "serve": "docs/serve.md",
    "models": "docs/models.md",
    "moshi-quantize": "docs/models.md",
    "assistant": "docs/assistant.md",
    "bench assistant": "docs/assistant.md",
    "tools": "docs/tools.md",
    "tools list": "docs/tools.md",
    "tools call": "docs/tools.md",
    "bench e2e": "docs/benchmarks.md",
    "bench lm": "docs/benchmarks.md",
    "bench codec": "docs/benchmarks.md",
    "bench kinds": "docs/benchmarks.md",
    "bench stt": "docs/benchmarks.md",
    "bench tts": "docs/benchmarks.md",
    "bench persona": "docs/benchmarks.md",
}

# An option in a table: inside inline code, a long option or a one-letter short one.
OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z])(?![\w-])")


def named_options(table: str) -> set[str]:
    return {o for span in re.findall(r"`([^`]*)`", table) for o in OPTION.findall(span)}


def tables_for(command: str) -> list[tuple[int, list[str], str]]:
    page = REPO / COMMAND_PAGES[command]
    out = []
    for line, value, table in marked_tables(page, "options"):
        commands = [c.strip() for c in value.split(",")]
        if command in commands:
            out.append((line, commands, table))
    return out


def test_every_command_has_a_page():
    assert sorted(command_names()) == sorted(COMMAND_PAGES), (
        "add the command to COMMAND_PAGES (and an options table to its page), or remove one that is gone")


@pytest.mark.parametrize("command", sorted(COMMAND_PAGES))
def test_help_matches_page(command):
    page = COMMAND_PAGES[command]
    found = tables_for(command)
    if not options(command) and not found:
        return  # a command with only actions (`tools`: `tools list`, `tools call`) has nothing to list
    assert len(found) == 1, f"{page}: expected one table after <!-- options: {command} -->, found {len(found)}"
    line, commands, table = found[0]
    assert table, f"{page}:{line}: no table right after the options comment"
    named = named_options(table)
    undocumented = [" / ".join(opts) for opts in options(command) if not named & set(opts)]
    assert not undocumented, f"{page}:{line}: options of `{command} --help` missing from the table: {undocumented}"
    known = set().union(*(all_option_strings(c) for c in commands))
    unknown = sorted(named - known)
    assert not unknown, f"{page}:{line}: the table names options `{command}` does not have: {unknown}"


def test_every_options_table_names_known_commands():
    for page in {REPO / p for p in COMMAND_PAGES.values()}:
        for line, value, _ in marked_tables(page, "options"):
            for c in (c.strip() for c in value.split(",")):
                assert COMMAND_PAGES.get(c) == page.relative_to(REPO).as_posix(), (
                    f"{page}:{line}: options table for `{c}`, which COMMAND_PAGES does not send here")


def test_named_options():
    assert named_options("| `-o OUT` | x |\n| `--aec` / `--no-aec`, `--seed N` | `-` reads stdin, `-mlx` |") == {
        "-o", "--aec", "--no-aec", "--seed"}
