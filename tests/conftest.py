import os
import signal

import pytest

from tests.support import virtual_audio

# Qt tests never need a display; the app tests may override with xvfb where they say so.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests never touch the network: the Hugging Face hub is offline unless a test serves its own
# (tests/support/fake_hub.py turns it back on). Without this, a name that is not in a local cache
# (an unknown voice, ...) is looked up on huggingface.co: 23 s of retries where there is no
# network, a real request where there is.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# A shell's background job (`make test &`, a CI step started with `&`) starts with Ctrl+C ignored,
# and so would every command a test starts: the Ctrl+C tests would see nothing. They test what a
# user's terminal does, so the suite puts Python's own handler back (children then get the default).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(config, items):
    """A test that uses the loopback audio device is an `audio` test, marked or not (`make test-fast`
    leaves them out)."""
    for item in items:
        if "virtual_audio_device" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.audio)
    if hasattr(config, "workerinput"):
        # a pytest-xdist worker (`make test` runs one per core, handed tests one at a time): the
        # `slow` tests first, so that the longest ones start early and the short ones fill the gaps
        # instead of one long test ending the run alone. Every worker sorts the same way.
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def demo_models(tmp_path_factory):
    """Each demo model built once for the whole session; `demo_models.home(folder, *names)` puts
    copies in a home of a test's own (tests/support/demo_models.py)."""
    from tests.support.demo_models import DemoModels

    return DemoModels(tmp_path_factory.mktemp("demo-builds"))


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory, demo_models):
    """A folder holding the demo model, built once for the session."""
    return demo_models.home(tmp_path_factory.mktemp("moshi-home"), "demo")


@pytest.fixture
def event_log():
    """A thread-safe listener that keeps every engine event and can wait for one."""
    from tests.support.events import EventLog

    return EventLog()


@pytest.fixture(scope="session")
def virtual_audio_device():
    """The loopback PulseAudio device (see tests/support/virtual_audio.py). Fails (never skips) when
    the daemon cannot start: the audio features must be tested."""
    va = virtual_audio.start()
    import sounddevice as sd

    # PortAudio enumerates devices once at initialisation: refresh it now that the daemon runs.
    sd._terminate()
    sd._initialize()
    yield va
    virtual_audio.stop(va)
