"""The assistant's ears: 80 ms frames from the microphone (echo-cancelled) or from a file, through
the STT, into captions and the turn detector (turn.py); at the end of a turn, the flush.

The STT keeps listening while the assistant speaks (that is how a barge-in is heard). The flush:
Unmute feeds ceil(delay / 80 ms) + 1 frames of silence so that the STT writes the last words it
still holds back; here they are pushed as fast as compute allows, not in real time.

Push-to-talk (`push_to_talk=True`): every frame still goes through the STT (it stays in sync), but
only the words said while the key was held count: `press()` and `release()` mark the held span on
the STT's audio clock, and a word is kept when it starts inside it (its pieces while they stay
inside), so a word said just before the press that the STT writes after it (its delay) is
dropped, and the words said before the release that the flush brings out are kept.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .. import FRAME_SIZE, SAMPLE_RATE
from ..stt.events import TextPiece
from .turn import FRAME_S, TurnDetector


class FileSource:
    """A recording, as 80 ms frames as fast as asked, then silence (the user stopped talking)."""

    live = False

    def __init__(self, pcm: np.ndarray):
        n = math.ceil(len(pcm) / FRAME_SIZE) * FRAME_SIZE
        self.pcm = np.zeros(n, np.float32)
        self.pcm[:len(pcm)] = pcm
        self.pos = 0

    @property
    def exhausted(self) -> bool:
        return self.pos >= len(self.pcm)

    def read(self) -> np.ndarray:
        if self.exhausted:
            return np.zeros(FRAME_SIZE, np.float32)
        frame = self.pcm[self.pos:self.pos + FRAME_SIZE]
        self.pos += FRAME_SIZE
        return frame

    def close(self) -> None:
        pass


class MicSource:
    """LiveAudio's microphone (its speaker is the assistant's output), echo-cancelled when asked."""

    live = True
    exhausted = False

    def __init__(self, audio, stop, emit, aec=None):
        from ..engine.live import microphone_frames

        self.audio, self.aec = audio, aec
        self.far = np.zeros(FRAME_SIZE, np.float32)  # the last frame sent to the speaker
        self._frames = microphone_frames(audio, stop, emit, "the assistant", False)

    def read(self) -> np.ndarray | None:
        mic = next(self._frames, None)
        if mic is not None and self.aec is not None:
            mic = self.aec.process(mic, self.far)
        self.far = np.zeros(FRAME_SIZE, np.float32)
        return mic

    def close(self) -> None:
        self.audio.close()


@dataclass
class Heard:
    """What one frame gave: new caption text, words that started, and the detector's signal."""

    caption: str
    words: int
    signal: str | None  # "end_of_turn", "barge_in" or None


class Ears:
    def __init__(self, transcriber, detector: TurnDetector, source, recorder=None, push_to_talk: bool = False):
        self.transcriber, self.detector, self.source, self.recorder = transcriber, detector, source, recorder
        self.text = ""  # the user's words since the last turn
        self.frames = 0
        self.last_word_at: float | None = None  # perf_counter when the last word arrived
        self.flush_frames = math.ceil(transcriber.settings.delay_s / FRAME_S) + 1
        self.push_to_talk = push_to_talk
        # push-to-talk: the held span, seconds of the STT's input (end None while held); None: not held
        self.span: tuple[float, float | None] | None = None
        self._keep_word: bool | None = None  # the current word's pieces are kept (None: no word yet)

    @property
    def held(self) -> bool:
        return self.span is not None and self.span[1] is None

    def press(self) -> None:
        """Push-to-talk: the key went down; words from now on count (none before)."""
        self.span = (self.transcriber.duration, None)
        self.text = ""
        self.detector.reset_turn()

    def release(self) -> None:
        """Push-to-talk: the key went up; words said after now do not count."""
        if self.held:
            self.span = (self.span[0], self.transcriber.duration)

    def _keeps(self, piece: TextPiece) -> bool:
        if not self.push_to_talk:
            return True
        span = self.span
        inside = span is not None and span[0] <= piece.time and (span[1] is None or piece.time <= span[1])
        if piece.text.startswith(" ") or self._keep_word is None:  # a new word: where it starts decides
            self._keep_word = inside
        return self._keep_word and inside

    @property
    def time_s(self) -> float:
        return self.frames * FRAME_S

    def frame(self, speaking: bool = False) -> Heard | None:
        """One frame from the source through the STT (None: the source ended, e.g. the mic lost)."""
        pcm = self.source.read()
        if pcm is None:
            return None
        self.frames += 1
        if self.recorder is not None:
            self.recorder.user_audio(pcm)
        caption, words = self._push(pcm)
        signal = self.detector.frame(self.transcriber.pause_probability, words, speaking)
        return Heard(caption, words, signal)

    def _push(self, pcm: np.ndarray) -> tuple[str, int]:
        caption, words = "", 0
        for e in self.transcriber.push(pcm):
            if isinstance(e, TextPiece) and e.text and self._keeps(e):
                if e.text.startswith(" ") or not self.text.strip():
                    words += 1
                caption += e.text
                self.text += e.text
        if words:
            self.last_word_at = time.perf_counter()
        return caption, words

    def flush(self) -> str:
        """The STT's delay's worth of silence, at compute speed: the last words come out now.
        Returns the caption text they add."""
        caption = ""
        for _ in range(self.flush_frames):
            c, _ = self._push(np.zeros(FRAME_SIZE, np.float32))
            caption += c
        return caption

    def take_turn(self) -> str:
        """The user's words since the last turn, and a fresh start for the next."""
        text, self.text = self.text.strip(), ""
        self.detector.reset_turn()
        if self.push_to_talk:
            self.span = None  # until the next press
        return text

    def close(self) -> None:
        self.source.close()


def load_input_wav(path: str) -> np.ndarray:
    """A WAV (any rate, any channels) as 24 kHz mono float32."""
    from .. import audio_io

    return audio_io.read_audio(path, SAMPLE_RATE)
