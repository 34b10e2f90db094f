import pytest

from tests.aec.signals import speech_pair


@pytest.fixture(scope="session")
def speech(tmp_path_factory):
    """(moshi, user) utterances from espeak-ng at 24 kHz."""
    return speech_pair(tmp_path_factory.mktemp("aec-speech"))
