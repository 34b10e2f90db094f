"""Every promise of docs/command-promises.md, checked against every command that writes files
(tests/reliability/commands.py). Probes that must fail before any work give a model that does not
exist: the error must be about the output, proving the output was checked first. Those run the
command in this process (run_cli_here: its checks, exit status and messages are the same; no
interpreter start per probe); probes about the process (umask, a closed stdout) and the ones that
write through devices and full disks run it as a child process (run_cli)."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from moshi_mlx.cli import SUBCOMMANDS

from .commands import COMMANDS, MISSING_MODEL, NO_OUTPUT_FILES
from .conftest import run_cli, run_cli_here

IDS = [c.id for c in COMMANDS]


def _argv(cmd, inputs, out, model=None):
    return cmd.argv(inputs, out, model or cmd.model)


def _clean_error(r, *words):
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, r.stderr
    for w in words:
        assert w in errors[0], r.stderr


def test_every_command_is_classified():
    in_table = {c.argv({"wav": "w", "codes": "c", "text": "t", "image": "i"}, Path("o"), "m")[0] for c in COMMANDS}
    unknown = set(SUBCOMMANDS) - in_table - set(NO_OUTPUT_FILES)
    assert not unknown, f"add these commands to tests/reliability/commands.py: {sorted(unknown)}"


@pytest.mark.parametrize("how", ["same", "symlink", "hardlink"])
@pytest.mark.parametrize("cmd", COMMANDS, ids=IDS)
def test_output_is_never_an_input(cmd, how, inputs, tmp_path):
    source = inputs[cmd.input]
    before = source.read_bytes()
    out = {"same": lambda: source, "symlink": lambda: tmp_path / "link",
           "hardlink": lambda: tmp_path / "hard"}[how]()
    if how == "symlink":
        out.symlink_to(source)
    elif how == "hardlink":
        os.link(source, out)
    r = run_cli_here(inputs, _argv(cmd, inputs, out, MISSING_MODEL))
    _clean_error(r, "is one of the inputs")
    assert source.read_bytes() == before
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


@pytest.mark.parametrize("cmd", COMMANDS, ids=IDS)
def test_a_fifo_is_never_replaced(cmd, inputs, tmp_path):
    out = tmp_path / "fifo"
    os.mkfifo(out)
    r = run_cli_here(inputs, _argv(cmd, inputs, out, MISSING_MODEL))
    _clean_error(r, str(out), "FIFO")
    assert stat.S_ISFIFO(out.lstat().st_mode)


@pytest.mark.parametrize("cmd", COMMANDS, ids=IDS)
def test_read_only_folder_is_refused_before_work(cmd, inputs, read_only_folder):
    r = run_cli_here(inputs, _argv(cmd, inputs, read_only_folder / "out", MISSING_MODEL))
    _clean_error(r, "read-only")
    assert "nonexistent" not in r.stderr


@pytest.mark.parametrize("cmd", COMMANDS, ids=IDS)
def test_abandoned_temporaries_are_removed(cmd, inputs, tmp_path):
    """A run killed by SIGKILL leaves its locked temporary; the next run into the folder removes it
    (even one that then fails)."""
    stale = tmp_path / ".out.moshi-partial-0badf00d"
    stale.write_bytes(b"left by a killed run")
    old = time.time() - 60
    os.utime(stale, (old, old))
    run_cli_here(inputs, _argv(cmd, inputs, tmp_path / "out", MISSING_MODEL))
    assert not stale.exists()


@pytest.mark.parametrize("cmd", COMMANDS, ids=IDS)
def test_character_device_is_written_through(cmd, inputs, tmp_path):
    """`-o /dev/null`, on a private copy of /dev/null: written, never replaced."""
    null = tmp_path / "null"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    r = run_cli(inputs, _argv(cmd, inputs, null))
    assert r.returncode == 0, r.stderr
    assert stat.S_ISCHR(null.lstat().st_mode)


@pytest.mark.parametrize("cmd", COMMANDS, ids=IDS)
def test_full_device_is_one_line(cmd, inputs, tmp_path):
    """`-o /dev/full` (a private copy): "no space left", naming the file."""
    full = tmp_path / "full"
    os.mknod(full, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    r = run_cli(inputs, _argv(cmd, inputs, full))
    _clean_error(r, str(full), "no space left")
    assert stat.S_ISCHR(full.lstat().st_mode)


@pytest.mark.parametrize("cmd", COMMANDS, ids=IDS)
def test_full_disk_is_one_line_and_leaves_nothing(cmd, inputs, full_folder):
    out = full_folder / "out"
    r = run_cli(inputs, _argv(cmd, inputs, out))
    _clean_error(r, str(out), "no space left")
    assert sorted(p.name for p in full_folder.iterdir()) == ["filler"]


@pytest.mark.parametrize("cmd", COMMANDS, ids=IDS)
def test_new_files_follow_the_umask(cmd, inputs, tmp_path):
    out = tmp_path / "out"
    r = run_cli(inputs, _argv(cmd, inputs, out), umask=0o027)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o640


@pytest.mark.parametrize("cmd", COMMANDS, ids=IDS)
def test_replaced_file_keeps_its_mode_and_a_closed_pipe_ends_nothing(cmd, inputs, tmp_path):
    """`cmd ... | head -c0` with an existing 0644 output and umask 077: exit 0 quietly, the file is
    written and keeps 0644."""
    out = tmp_path / "out"
    out.write_bytes(b"old")
    out.chmod(0o644)
    r = run_cli(inputs, _argv(cmd, inputs, out), umask=0o077, close_stdout=True)
    assert r.returncode == 0 and "Traceback" not in r.stderr and "BrokenPipe" not in r.stderr, r.stderr
    assert out.read_bytes() != b"old" and out.stat().st_size > 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
