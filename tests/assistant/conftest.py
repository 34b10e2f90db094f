import threading

import pytest


class Events(list):
    def __init__(self):
        super().__init__()
        self.stopped = threading.Event()
        self.changed = threading.Condition()

    def __call__(self, event):
        from moshi_mlx.engine.events import StateEvent

        with self.changed:
            self.append(event)
            self.changed.notify_all()
        if isinstance(event, StateEvent) and event.state == "stopped":
            self.stopped.set()

    def of(self, cls):
        return [e for e in list(self) if isinstance(e, cls)]

    def wait_for(self, predicate, timeout=120):
        with self.changed:
            assert self.changed.wait_for(lambda: predicate(self) or self.stopped.is_set(), timeout), "timed out"
        return predicate(self)


@pytest.fixture
def events():
    return Events()


@pytest.fixture(scope="session")
def assistant_home(tmp_path_factory):
    """MOSHI_MLX_HOME with demo-stt and demo-tts built once."""
    from moshi_mlx.demo import demo_model_dir

    home = tmp_path_factory.mktemp("assistant-home")
    demo_model_dir(home, "demo-stt")
    demo_model_dir(home, "demo-tts")
    return home


@pytest.fixture
def home(assistant_home, monkeypatch):
    monkeypatch.setenv("MOSHI_MLX_HOME", str(assistant_home))
    return assistant_home


@pytest.fixture
def scripted(monkeypatch):
    """scripted(replies) -> the ScriptedChat the next Assistant will use."""
    from moshi_mlx.assistant.session import Assistant

    from .fakes import ScriptedChat

    def make(replies, **kw):
        chat = ScriptedChat(replies, **kw)
        monkeypatch.setattr(Assistant, "_load_llm", lambda self, options: chat)
        return chat

    return make
