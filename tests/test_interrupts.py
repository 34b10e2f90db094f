"""Ctrl-C as a request (moshi_mlx.interrupts.interrupt_as_request): the work is asked to stop, the
block's end raises; a second Ctrl-C raises at once; the previous handler is back afterwards."""

import os
import signal
import time

import pytest

from moshi_mlx.interrupts import interrupt_as_request


def _ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.05)  # the handler runs between two bytecodes of this thread


def test_ctrl_c_asks_then_raises_as_the_block_ends():
    before = signal.getsignal(signal.SIGINT)
    asked, after = [], []
    with pytest.raises(KeyboardInterrupt):
        with interrupt_as_request(lambda: asked.append(1)):
            _ctrl_c()
            after.append("the block went on")  # not raised here: the work winds down
    assert asked == [1] and after == ["the block went on"]
    assert signal.getsignal(signal.SIGINT) is before


def test_a_second_ctrl_c_raises_at_once():
    reached = []
    with pytest.raises(KeyboardInterrupt):
        with interrupt_as_request(lambda: None):
            _ctrl_c()
            _ctrl_c()
            reached.append(1)
    assert reached == []


def test_nothing_raised_without_ctrl_c():
    with interrupt_as_request(lambda: pytest.fail("asked")):
        pass
