"""The output folder never costs data (issue 20, items 1-3): --force replaces only what this tool
provably wrote; SIGTERM/SIGHUP clean up like Ctrl-C; what SIGKILL leaves is cleaned by the next
run; a replace cut between its two renames is recovered; folders get the normal permissions."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from moshi_mlx.errors import CheckpointError
from moshi_mlx.interrupts import Interrupted, deferred_interrupts, stop_signals_interrupt
from moshi_mlx.partial import STALE_AFTER_S, Partial, remove_stale
from moshi_quantize import cli
from moshi_quantize.convert import convert

# Runs moshi-quantize; the conversion stops at the first tensor (marker file written) or, with
# MQ_KILL_AT_RENAME, kills itself with SIGKILL right after the first rename of a --force replace.
_SLOW_CLI = """
import os, signal, sys, time
from pathlib import Path
import moshi_quantize.convert as c
marker = Path(os.environ["MQ_MARKER"])
if os.environ.get("MQ_KILL_AT_RENAME"):
    real_rename = os.rename
    def rename(a, b):
        real_rename(a, b)
        if ".moshi-old-" in str(b):
            os.kill(os.getpid(), signal.SIGKILL)
    os.rename = rename
else:
    real = c.write_lm
    def write_lm(*args, **kwargs):
        marker.write_text("writing")
        time.sleep(60)
        return real(*args, **kwargs)
    c.write_lm = write_lm
from moshi_quantize.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _start(src, out, tmp_path, *extra, kill_at_rename=False):
    env = dict(os.environ, MQ_MARKER=str(tmp_path / "marker"))
    if kill_at_rename:
        env["MQ_KILL_AT_RENAME"] = "1"
    return subprocess.Popen([sys.executable, "-c", _SLOW_CLI, str(src), "-o", str(out), "--bits", "4",
                             "--no-progress", *extra], env=env, stderr=subprocess.PIPE, text=True)


def _wait_for(path, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "the conversion never started writing"
        time.sleep(0.05)


def _age(path, seconds=STALE_AFTER_S + 5):
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_force_never_replaces_a_folder_it_did_not_write(release_folder, out_parent):
    src, _ = release_folder
    web = out_parent / "webapp"
    web.mkdir()
    (web / "manifest.json").write_text(json.dumps({"name": "My PWA", "start_url": "/"}))
    (web / "index.html").write_text("<html>mine</html>")
    with pytest.raises(CheckpointError, match="not a moshi-quantize output.*not one of ours"):
        convert(str(src), web, bits=4, force=True)
    assert (web / "index.html").read_text() == "<html>mine</html>"
    assert cli.main([str(src), "-o", str(web), "--force", "--no-progress"]) == 2

    ours = out_parent / "ours"
    convert(str(src), ours, bits=8)
    (ours / "notes.txt").write_text("added by the user")  # no longer only what we wrote
    with pytest.raises(CheckpointError, match="also holds notes.txt"):
        convert(str(src), ours, bits=4, force=True)
    (ours / "notes.txt").unlink()
    with open(ours / "config.json", "a") as f:
        f.write(" ")  # a file that differs from the manifest
    with pytest.raises(CheckpointError, match="config.json is missing or differs"):
        convert(str(src), ours, bits=4, force=True)
    manifest = json.loads((ours / "manifest.json").read_text())
    (ours / "config.json").write_bytes((ours / "config.json").read_bytes()[:-1])
    (ours / "manifest.json").write_text(json.dumps({**manifest, "created_by": "someone else"}))
    with pytest.raises(CheckpointError, match="not written by moshi-quantize"):
        convert(str(src), ours, bits=4, force=True)
    (ours / "manifest.json").write_text(json.dumps(manifest))
    convert(str(src), ours, bits=4, force=True)  # exactly our output: replaced
    assert (ours / "model.q4.safetensors").is_file() and not (ours / "model.q8.safetensors").exists()
    assert sorted(p.name for p in out_parent.iterdir()) == ["ours", "webapp"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_leave_nothing(release_folder, out_parent, tmp_path, sig):
    src, _ = release_folder
    proc = _start(src, out_parent / "o", tmp_path)
    _wait_for(tmp_path / "marker", proc)
    assert any(".moshi-partial-" in p.name for p in out_parent.iterdir())
    proc.send_signal(sig)
    assert proc.wait(30) == 130
    assert "interrupted: no output was written" in proc.stderr.read()
    assert list(out_parent.iterdir()) == []


def test_sigkill_leftovers_are_removed_by_the_next_run(release_folder, out_parent, tmp_path):
    src, _ = release_folder
    proc = _start(src, out_parent / "o", tmp_path)
    _wait_for(tmp_path / "marker", proc)
    proc.kill()
    proc.wait(30)
    (left,) = out_parent.iterdir()
    assert ".moshi-partial-" in left.name and left.is_dir()
    someone_elses = out_parent / ".o.partial-abc"  # not ours: never touched
    someone_elses.mkdir()
    convert(str(src), out_parent / "p", bits=4)
    assert left.exists(), "a partial folder younger than STALE_AFTER_S may still be starting"
    _age(left)
    _age(someone_elses)
    live = Partial(out_parent / "q", folder=True)  # another process's partial, being written
    _age(live.path)
    convert(str(src), out_parent / "p", bits=4, force=True)
    assert not left.exists()
    assert live.path.exists() and someone_elses.exists()
    live.discard()
    assert sorted(p.name for p in out_parent.iterdir()) == [".o.partial-abc", "p"]


def test_a_replace_cut_between_its_renames_is_recovered(release_folder, out_parent, tmp_path):
    src, _ = release_folder
    out = out_parent / "o"
    convert(str(src), out, bits=8)
    proc = _start(src, out, tmp_path, "--force", kill_at_rename=True)
    assert proc.wait(60) == -signal.SIGKILL
    assert not out.exists()  # the moment between the two renames
    (old,) = [p for p in out_parent.iterdir() if ".moshi-old-" in p.name]
    for p in out_parent.iterdir():
        _age(p)  # the old output and the new one, complete but never renamed in
    with pytest.raises(CheckpointError, match="already exists"):
        convert(str(src), out, bits=4)  # the next run first puts the old output back
    assert (out / "model.q8.safetensors").is_file() and not old.exists()
    convert(str(src), out, bits=4, force=True)
    assert (out / "model.q4.safetensors").is_file()
    assert [p.name for p in out_parent.iterdir() if p.name != "o"] == []


def test_stop_requests_wait_for_the_renames():
    with pytest.raises(Interrupted) as info:
        with deferred_interrupts():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)  # delivered now, held until the block ends
            done = True
    assert done and info.value.completed and info.value.signal_name == "SIGTERM"
    before = signal.getsignal(signal.SIGHUP)  # SIG_IGN under nohup: whatever it was comes back
    with pytest.raises(KeyboardInterrupt):
        with stop_signals_interrupt():
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(1)
    assert signal.getsignal(signal.SIGHUP) == before


def test_output_folder_has_the_normal_permissions(release_folder, out_parent):
    src, _ = release_folder
    old = os.umask(0o022)
    try:
        convert(str(src), out_parent / "o", bits=4)
    finally:
        os.umask(old)
    assert (out_parent / "o").stat().st_mode & 0o777 == 0o755
    for f in (out_parent / "o").iterdir():
        assert f.stat().st_mode & 0o777 == 0o644, f.name


def test_remove_stale_only_takes_abandoned_partials(tmp_path):
    a = Partial(tmp_path / "x.wav", folder=False)
    a.release()  # its process is gone
    b = Partial(tmp_path / "y.wav", folder=False)  # still held
    for p in (a.path, b.path):
        _age(p)
    assert remove_stale(tmp_path) == [a.path]
    assert b.path.exists()
    b.discard()
    assert list(tmp_path.iterdir()) == []
