#!/usr/bin/env bash
# The test suite: usage: run_tests.sh PYTHON [--fast] [pytest arguments...]
#
# 1. Everything but the `audio` tests, one pytest-xdist worker per core, tests handed out one at a
#    time in collection order (the `slow` ones first, see tests/conftest.py); tests that share one
#    costly fixture carry an `xdist_group`. `--fast` (`make test-fast`): this phase alone, without
#    the `slow` tests.
# 2. The `audio` tests, in one process: they play and record through one virtual sound card in real
#    time, so they cannot share it, and they must not wait for a busy CPU. The `realtime` tests (paced
#    by the wall clock: they mostly wait, e.g. ten seconds of a live link) run with them.
#
# Where Linux's SCHED_IDLE policy is available (`chrt --idle`), both phases run at once: phase 1 at
# SCHED_IDLE, so that it gets only the CPU time phase 2 leaves (a normal task that wakes preempts an
# idle one at once, whereas `nice` only shares the CPU in proportion: the echo canceller's loopback
# test missed its deadlines beside a niced phase 1). Phase 2's output is shown when both are done.
# Elsewhere (macOS), or with MOSHI_TEST_PHASES=serial, they run one after the other.
# Exit status 5 (no test selected, e.g. a pytest path that holds no audio test) is not a failure.
set -uo pipefail
py=$1
shift
fast=0
if [ "${1:-}" = --fast ]; then
    fast=1
    shift
fi
marks="not audio and not realtime"
[ "$fast" = 1 ] && marks="not slow and not audio"
first=(-m pytest -n auto --dist loadgroup --no-loadscope-reorder -m "$marks")
audio=(-m pytest -m "audio or realtime" -p no:cacheprovider)

ok() { [ "$1" -eq 0 ] || [ "$1" -eq 5 ]; }

if [ "$fast" = 1 ]; then
    exec "$py" "${first[@]}" "$@"
fi

# Both phases stay in the caller's session (no setsid): the kernel's autogroups share the CPU
# between sessions, and SCHED_IDLE yields only to the tasks of its own group.
if [ "${MOSHI_TEST_PHASES:-}" != serial ] && command -v chrt >/dev/null 2>&1 \
        && chrt --idle 0 true 2>/dev/null; then
    log=$(mktemp "${TMPDIR:-/tmp}/moshi-audio-tests.XXXXXX")
    "$py" "${audio[@]}" "$@" >"$log" 2>&1 &
    audio_pid=$!
    trap 'kill "$audio_pid" 2>/dev/null; rm -f "$log"; exit 130' INT TERM
    chrt --idle 0 "$py" "${first[@]}" "$@"
    rc1=$?
    wait "$audio_pid"
    rc2=$?
    trap - INT TERM
    echo "---- the audio tests (run beside the others, at the normal priority; exit status $rc2) ----"
    cat "$log"
    rm -f "$log"
else
    "$py" "${first[@]}" "$@"
    rc1=$?
    "$py" "${audio[@]}" "$@"
    rc2=$?
fi
ok "$rc1" && ok "$rc2"
