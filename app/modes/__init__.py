"""The app's modes in toolbar order (Cmd+1, Cmd+2, ...). A new mode is one module here holding a
Mode subclass (see base.py) plus one line in MODES."""

from .assistant import AssistantMode
from .read_aloud import ReadAloudMode
from .talk import TalkMode
from .transcribe import TranscribeMode
from .translate import TranslateMode

MODES = (
    TalkMode,
    TranscribeMode,
    TranslateMode,
    ReadAloudMode,
    AssistantMode,
)
