"""The Assistant mode over the real engine (moshi_mlx.assistant.session.Assistant) with demo-tts and a
scripted chat model, nothing played (a null output): typed turns answered word by word, a tool call
with consent through the real ToolBox, the session recorded and listed in History."""

from __future__ import annotations

import json

import pytest

from moshi_app.modes.base import IDLE

from .conftest import FakeBackend, open_mode, wait_for

pytestmark = pytest.mark.timeout(400)


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    from moshi_mlx.demo import demo_model_dir

    home = tmp_path_factory.mktemp("assistant-demo")
    demo_model_dir(home, "demo-tts")
    demo_model_dir(home, "demo-stt")
    return home


class NullAudio(FakeBackend):
    """The real assistant engine; no microphone, its speech goes to no device."""

    def make_assistant(self, listener):
        from moshi_app.backend import Backend

        return Backend.make_assistant(self, listener)

    input_wav: str | None = None  # a spoken turn from this file instead of the microphone

    def make_assistant_options(self, **kwargs):
        self.options.append(kwargs)
        return super().make_assistant_options(**dict(kwargs, input_device=None, output_device=None,
                                                     input_wav=self.input_wav))


def scripted(tmp_path, replies) -> str:
    path = tmp_path / "replies.json"
    path.write_text(json.dumps({"replies": replies, "tool_format": "qwen"}))
    return f"scripted:{path}"


def test_typed_turns_and_a_consent_over_the_real_engine(qtbot, make_app, demo_home, tmp_path):
    llm = scripted(tmp_path, [
        "Hello there, friend.",
        '<tool_call>{"name": "open_url", "arguments": {"url": "https://example.com"}}</tool_call>',
        "I opened it."])
    backend = NullAudio()
    shell = make_app(backend, cache_dir=str(demo_home), record_dir=str(tmp_path / "rec"), seed=1)
    m = open_mode(shell, "assistant")
    assert m.set_trio("", llm, "demo-tts")
    m.tools.save(policies={"open_url": "never"})  # offered to no model: the call is refused, nothing opens
    m.page.record_check.setChecked(True)
    p = m.page
    words = []
    m.bridge.event.connect(lambda e: words.append(p.chat.bubbles("assistant")[-1].highlighted())
                           if type(e).__name__ == "AssistantWord" else None)
    assert m.send_typed("Hi!")
    wait_for(qtbot, lambda: bool(shell.messages.history) or bool(
        p.chat.bubbles("assistant") and not p.chat.bubbles("assistant")[0].live), 200_000)
    assert not shell.messages.history, shell.messages.history
    assert p.chat.transcript() == "You: Hi!\nAssistant: Hello there, friend."
    assert words == ["Hello", "there,", "friend."]  # each word highlighted as it is heard
    m.send_typed("Open example.com")
    wait_for(qtbot, lambda: len(p.chat.bubbles("assistant")) == 2 and not p.chat.bubbles("assistant")[1].live,
             200_000)
    card, = set(p.chat.cards.values())
    assert card.name == "open_url" and card.state in ("error", "denied") and not card.buttons.isVisible()
    assert p.chat.transcript().endswith("Assistant: I opened it.")
    m.stop()
    wait_for(qtbot, lambda: m.state == IDLE, 60_000)
    assert m.last_recordings
    shell.show_page("history")
    sessions = [s for s in shell.history.shown if s.mode == "assistant"]
    assert sessions, shell.history.shown


def test_spoken_turn_over_the_real_engine(qtbot, make_app, demo_home, tmp_path):
    import numpy as np
    import soundfile as sf

    wav = tmp_path / "question.wav"
    sf.write(wav, (0.1 * np.random.default_rng(0).standard_normal(24000 * 2)).astype(np.float32), 24000)
    backend = NullAudio()
    backend.input_wav = str(wav)
    shell = make_app(backend, cache_dir=str(demo_home), seed=3)
    m = open_mode(shell, "assistant")
    assert m.set_trio("demo-stt", scripted(tmp_path, ["I heard you."]), "demo-tts")
    assert m.start()
    wait_for(qtbot, lambda: m.state == IDLE, 300_000)  # the session ends after the file's turn
    assert not shell.messages.history, shell.messages.history
    you, = m.page.chat.bubbles("user")
    assert you.text.strip() and not you.live and "typed" not in you.accessibleDescription()
    assert m.page.chat.transcript().endswith("Assistant: I heard you.")
    assert m.page.latency_label.text().startswith("latency ")


@pytest.mark.audio
@pytest.mark.slow
def test_live_session_through_the_virtual_sound_card(qtbot, make_app, demo_home, tmp_path, virtual_audio_device):
    """Microphone and speaker open (the loopback device): a typed turn answered aloud, the meters
    move, the STT hears (demo-stt: random words, maybe turns of its own), the session recorded."""
    shell = make_app(None, cache_dir=str(demo_home), record_dir=str(tmp_path / "rec"), seed=1)
    m = open_mode(shell, "assistant")
    m.refresh_devices(refresh=True)
    assert m.input_devices(), "the virtual sound card has no input"
    assert m.set_trio("demo-stt", scripted(tmp_path, ["Hello from the speaker."] * 20), "demo-tts")
    m.tools.save(builtins=False)
    m.page.record_check.setChecked(True)
    assert m.start()
    wait_for(qtbot, lambda: bool(shell.messages.history) or m.state == "running", 200_000)
    assert not shell.messages.history, shell.messages.history
    assert "microphone" in m.last_running_detail and "speaker" in m.last_running_detail
    m.send_typed("hi")
    replies = []
    m.bridge.event.connect(lambda e: replies.append(e) if type(e).__name__ == "AssistantReply" else None)
    try:  # the reply may be cut by what the STT hears (the speaker loops back into the microphone)
        wait_for(qtbot, lambda: bool(replies) and m.phase == "listening", 150_000)
    finally:
        print(m.page.chat.transcript())
    you_typed = [b for b in m.page.chat.bubbles("user") if b.text == "hi"]
    assert you_typed and "typed" in you_typed[0].accessibleDescription()
    assert "Hello from the speaker.".startswith(replies[0].heard.strip()) or replies[0].interrupted
    assert any(not b.live for b in m.page.chat.bubbles("assistant"))
    m.stop()
    wait_for(qtbot, lambda: m.state == IDLE, 60_000)
    assert not [msg for msg in shell.messages.history], shell.messages.history
    assert m.last_recordings


class NoiseMic:
    """A live microphone for the real engine: noise frames (demo-stt writes random words from them),
    paced a little; None (the microphone gone) after `last` frames."""

    live, exhausted, audio = True, False, None

    def __init__(self, last=3000):
        import numpy as np

        self.rng, self.count, self.last = np.random.default_rng(0), 0, last

    def read(self):
        import time

        import numpy as np

        if self.count >= self.last:
            return None
        self.count += 1
        time.sleep(0.005)
        return (0.1 * self.rng.standard_normal(1920)).astype(np.float32)

    def close(self):
        pass


class NoiseMicAudio(NullAudio):
    def make_assistant_options(self, **kwargs):
        self.options.append(kwargs)
        return FakeBackend.make_assistant_options(self, **dict(kwargs, input_device="noise", output_device=None))


def test_push_to_talk_over_the_real_engine(qtbot, make_app, demo_home, tmp_path, monkeypatch):
    """Hold to talk on, the real engine hearing noise (demo-stt: random words): no turn of its own while
    the keys are up; holding them (in the window) cuts the reply being spoken, letting go ends the
    turn (a reply when demo-stt started a word meanwhile, none otherwise), and it listens on."""
    from PySide6.QtCore import QEvent, Qt
    from PySide6.QtGui import QKeyEvent
    from PySide6.QtWidgets import QApplication

    from moshi_app.controllers.hold_key import MODIFIERS
    from moshi_app.modes.base import RUNNING
    from moshi_mlx.assistant.session import _Io

    mic = NoiseMic()
    monkeypatch.setattr(_Io, "_mic", lambda self, options, emit, stop: mic)
    shell = make_app(NoiseMicAudio(), cache_dir=str(demo_home), seed=1)
    m = open_mode(shell, "assistant")
    story = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen."
    assert m.set_trio("demo-stt", scripted(tmp_path, [story, "Going on."]), "demo-tts")
    m.page.hold_check.setChecked(True)
    m.tools.save(builtins=False)
    assert m.start()
    wait_for(qtbot, lambda: bool(shell.messages.history) or m.state == RUNNING, 200_000)
    assert not shell.messages.history, shell.messages.history
    m.send_typed("tell me a story")
    chat = m.page.chat
    wait_for(qtbot, lambda: bool(chat.bubbles("assistant")) and len(chat.bubbles("assistant")[0].words) >= 3, 200_000)

    def key(kind):
        QApplication.sendEvent(chat, QKeyEvent(kind, Qt.Key.Key_M, MODIFIERS, "", False))

    key(QEvent.Type.KeyPress)
    bubble = chat.bubbles("assistant")[0]
    wait_for(qtbot, lambda: not bubble.live, 60_000)
    assert bubble.interrupted and story.startswith(bubble.text) and len(bubble.text.split()) >= 3
    qtbot.wait(1500)  # held: it hears
    held_words = len(chat.bubbles("user")) == 2  # captions of words heard while held
    key(QEvent.Type.KeyRelease)
    if held_words:  # the release ended that turn: it is answered
        wait_for(qtbot, lambda: len(chat.bubbles("assistant")) == 2 and not chat.bubbles("assistant")[1].live,
                 120_000)
        assert chat.bubbles("assistant")[1].text == "Going on." and not chat.bubbles("user")[1].live
    else:  # no word while held: no turn
        qtbot.wait(2000)
        assert len(chat.bubbles("user")) == 1 and len(chat.bubbles("assistant")) == 1
    assert chat.bubbles("user")[0].text == "tell me a story"
    assert m.state == RUNNING and mic.count < mic.last  # listening on
    m.stop()
    wait_for(qtbot, lambda: m.state == IDLE, 60_000)
    assert not shell.messages.history, shell.messages.history
