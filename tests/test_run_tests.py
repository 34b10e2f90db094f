"""scripts/run_tests.sh, what `make test` and CI run: both phases run, a failure of either fails the
run, "no test selected" (5) does not, and where Linux has SCHED_IDLE the first phase runs at it
beside the audio phase. Checked with a stand-in Python that records how it was called."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "run_tests.sh"

FAKE = """\
import json, os, sys
args = sys.argv[1:]
phase = "audio" if args[args.index("-m", 1) + 1] == "audio or realtime" else "first"
policy = os.sched_getscheduler(0) if hasattr(os, "sched_getscheduler") else None
with open(os.environ["FAKE_LOG"], "a") as f:
    f.write(json.dumps({"phase": phase, "args": args, "policy": policy}) + "\\n")
print(f"output of the {phase} phase")
sys.exit(int(os.environ.get(f"FAKE_RC_{phase.upper()}", "0")))
"""


def run(tmp_path: Path, *args: str, first: int = 0, audio: int = 0, serial: bool = False, preexec_fn=None):
    fake = tmp_path / "python"
    fake.write_text(f"#!{sys.executable}\n{FAKE}")
    fake.chmod(0o755)
    log = tmp_path / "calls.jsonl"
    log.unlink(missing_ok=True)
    env = dict(os.environ, FAKE_LOG=str(log), FAKE_RC_FIRST=str(first), FAKE_RC_AUDIO=str(audio))
    env.pop("MOSHI_TEST_PHASES", None)
    if serial:
        env["MOSHI_TEST_PHASES"] = "serial"
    proc = subprocess.run(["bash", str(SCRIPT), str(fake), *args], env=env, capture_output=True,
                          text=True, timeout=60, preexec_fn=preexec_fn)
    calls = {c["phase"]: c for c in map(json.loads, log.read_text().splitlines())}
    return proc, calls


@pytest.mark.parametrize("serial", [False, True], ids=["side-by-side", "serial"])
@pytest.mark.parametrize("first, audio, ok", [(0, 0, True), (1, 0, False), (0, 1, False), (2, 0, False),
                                              (5, 0, True), (0, 5, True), (1, 5, False)])
def test_the_run_fails_when_either_phase_fails(tmp_path, serial, first, audio, ok):
    proc, calls = run(tmp_path, "-k", "mimi or lm", first=first, audio=audio, serial=serial)
    assert set(calls) == {"first", "audio"}, proc.stderr
    assert (proc.returncode == 0) == ok, (proc.returncode, proc.stdout, proc.stderr)
    assert "output of the first phase" in proc.stdout and "output of the audio phase" in proc.stdout
    for call in calls.values():  # the caller's arguments reach both phases, quoting kept
        assert call["args"][-2:] == ["-k", "mimi or lm"]
    assert "not audio and not realtime" in calls["first"]["args"] and "-n" in calls["first"]["args"]
    assert "-n" not in calls["audio"]["args"]


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
def test_side_by_side_the_first_phase_yields_to_the_audio_phase(tmp_path):
    caller = os.sched_getscheduler(0)  # SCHED_IDLE itself when this runs in `make test`'s first phase
    _, calls = run(tmp_path)
    assert calls["first"]["policy"] == os.SCHED_IDLE
    assert calls["audio"]["policy"] == caller
    _, calls = run(tmp_path, serial=True)
    assert calls["first"]["policy"] == calls["audio"]["policy"] == caller


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
def test_from_a_normal_caller_the_audio_phase_runs_at_the_normal_priority(tmp_path):
    """As CI starts `make test`: the script in a child put back to SCHED_OTHER (this test itself
    may run in `make test`'s first phase, at SCHED_IDLE, which only a privileged process may leave)."""
    if os.sched_getscheduler(0) != os.SCHED_OTHER:
        try:
            subprocess.run(["true"], check=True, preexec_fn=_normal_priority)
        except subprocess.SubprocessError:
            pytest.skip("this process may not start a child at SCHED_OTHER")
    _, calls = run(tmp_path, preexec_fn=_normal_priority)
    assert (calls["first"]["policy"], calls["audio"]["policy"]) == (os.SCHED_IDLE, os.SCHED_OTHER)


def _normal_priority():
    os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


def test_fast_runs_the_first_phase_without_slow_tests(tmp_path):
    proc, calls = run(tmp_path, "--fast", "-x", first=3)
    assert set(calls) == {"first"}
    assert proc.returncode == 3
    args = calls["first"]["args"]
    assert args[args.index("-m", 1) + 1] == "not slow and not audio" and args[-1] == "-x"
