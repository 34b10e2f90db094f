"""One reply: the LLM's tokens, regrouped into whole words, cleaned for speech, streamed into the
TTS as they come; the words reported as they are heard; the history told what was heard.

`Reply` never blocks and holds no clock: the frame loop (conversation.py) decides when to run an
LLM token (`llm_step`) and when a TTS frame (`tts_step`), all on the MLX worker. Without a TTS
(`synth` None) a word is "heard" as soon as it is written. An announcement (a reminder, a consent
question) is a Reply without an LLM: fixed text, spoken, kept out of the chat history.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .. import FRAME_RATE
from .events import AssistantWord


@dataclass
class Marks:
    """Wall-clock moments of a reply (time.perf_counter()), for TurnStats."""

    begin: float = 0.0  # the LLM was asked
    first_word: float | None = None  # the first whole word went to the TTS
    first_audio: float | None = None  # the first audio frame came out
    llm_s: float = 0.0  # time in LLM steps
    llm_tokens: int = 0
    llm_s_speaking: float = 0.0  # the same, while audio was coming out
    llm_tokens_speaking: int = 0
    tool_s: float = 0.0  # time waiting on tools (left out of the first-word latency)
    llm_waits: int = 0  # times the speech, once started, had to wait for the LLM's next word
    tts_s_before_audio: float = 0.0  # time in TTS steps up to the first audio frame
    tts_steps_before_audio: int = 0
    extra: dict = field(default_factory=dict)


class Reply:
    """The reply of one turn (or an announcement when `chat` is None)."""

    def __init__(self, turn: int, chat, synth, output, emit: Callable[[object], None], *,
                 user_text: str | None = None, announcement: str | None = None):
        from .speech_text import WordChunker

        self.turn, self.chat, self.synth, self.output, self.emit = turn, chat, synth, output, emit
        self.chunker = WordChunker()  # whole words, cleaned for speech (speech_text.py)
        self.text = ""  # as the model wrote it
        self.spoken = ""  # as given to the TTS
        self.heard: list[str] = []  # words heard, with their leading space
        self.marks = Marks(begin=time.perf_counter())
        self.llm_done = chat is None
        self.calls: list = []  # tool calls of the current LLM segment
        self.tool_calls: list | None = None  # calls waiting for their results (the LLM is paused)
        self.finished = False
        self.interrupted = False
        self.failed: BaseException | None = None
        self.words_pushed = 0
        self.frame_times: list[float] = []  # when each audio frame came out
        self.waiting = False  # the TTS waited for words at the last look
        self.pending: list[tuple[int, str]] = []  # (output frame, word) made, not played yet
        if synth is not None:
            synth.reset()
        if chat is not None:
            chat.begin_reply(user_text)
        if announcement:
            self.say_text(announcement, final=True)

    # -- the LLM side ---------------------------------------------------------------------------
    @property
    def llm_active(self) -> bool:
        return not self.llm_done and self.tool_calls is None and not self.finished

    def llm_step(self) -> None:
        """One token (the first call prefills). An exception is kept in `failed`: the reply ends
        with what was heard, the session goes on."""
        t = time.perf_counter()
        try:
            piece = self.chat.step()
        except Exception as e:  # noqa: BLE001 - reported by the loop as a non-fatal error
            self.failed = e
            self.llm_done = True
            self._end_text()
            return
        dt = time.perf_counter() - t
        self.marks.llm_s += dt
        self.marks.llm_tokens += 1
        if self.marks.first_audio is not None:
            self.marks.llm_s_speaking += dt
            self.marks.llm_tokens_speaking += 1
        if piece.text:
            self.text += piece.text
            for word in self.chunker.push(piece.text):
                self._say(word)
        if piece.tool_call is not None:
            self.calls.append(piece.tool_call)
        if piece.done:
            for word in self.chunker.flush():
                self._say(word)
            if self.calls:  # the calls run now; what was said before them is spoken meanwhile
                self.tool_calls, self.calls = self.calls, []
                if self.synth is not None:
                    self.synth.flush()
            else:
                self.llm_done = True
                self._end_text()

    def continue_after_tools(self, results: list[tuple]) -> None:
        """Each call's result text goes into the chat (which closes the reply's first part), then
        the model goes on with its reply."""
        for call, text in results:
            self.chat.add_tool_result(call, text)
        self.tool_calls = None
        self.chat.begin_reply(None)

    def say_text(self, text: str, final: bool = False) -> None:
        """Fixed text (a filler, a question, an announcement), cleaned for speech, spoken now."""
        from .speech_text import speakable

        for word in speakable(text).split():
            self._say(word)
        if final:
            self._end_text()
        elif self.synth is not None:
            self.synth.flush()

    def _say(self, word: str) -> None:
        """A whole word, cleaned (WordChunker), to the TTS."""
        clean = " " + word.strip()
        if not clean.strip():
            return
        self.spoken += clean
        self.words_pushed += 1
        if self.marks.first_word is None:
            self.marks.first_word = time.perf_counter()
        if self.synth is None:
            self._heard(clean)
        else:
            self.synth.push_text(clean)

    def _end_text(self) -> None:
        if self.synth is not None:
            self.synth.end_of_text()

    # -- the TTS side ---------------------------------------------------------------------------
    def tts_state(self) -> str:
        """"step", "wait" or "done" (no TTS: "done" once the LLM is)."""
        if self.finished:
            return "done"
        if self.synth is None:
            return "done" if self.llm_done else "wait"
        return self.synth.poll()

    def tts_step(self) -> int:
        """One TTS step; 1 when it gave an audio frame."""
        t = time.perf_counter()
        frame = self.synth.step()
        now = time.perf_counter()
        if self.marks.first_audio is None:
            self.marks.tts_s_before_audio += now - t
            self.marks.tts_steps_before_audio += 1
        if frame is None:
            return 0
        if self.marks.first_audio is None:
            self.marks.first_audio = now
        self.frame_times.append(now)
        self.output.speak(frame.pcm)
        for w in frame.started:
            self.pending.append((self.output.frames - 1, " " + w.text))
        self.release()
        return 1

    def release(self, everything: bool = False) -> None:
        """Words whose audio the speaker has started playing are heard (AssistantWord)."""
        played = self.output.played_frames()
        while self.pending and (everything or self.pending[0][0] < played):
            self._heard(self.pending.pop(0)[1])

    def underruns(self) -> int:
        """Frames made later than a speaker started at the first frame would have needed them
        (frame i is due at first + i * 80 ms): underruns of a real-time playback."""
        t = self.frame_times
        return sum(1 for i, x in enumerate(t) if x > t[0] + i / FRAME_RATE + 1e-3) if t else 0

    def _heard(self, word: str) -> None:
        self.heard.append(word)
        self.emit(AssistantWord(word, self.turn, self.output.time_s))

    # -- ending ---------------------------------------------------------------------------------
    def finish(self, interrupted: bool = False) -> None:
        """The reply ends (spoken to its end, or cut off): the history keeps the words heard."""
        if self.finished:
            return
        self.finished = True
        self.interrupted = interrupted or self.failed is not None
        if self.synth is not None:
            self.synth.cancel()
        self.release(everything=not interrupted)  # cut off: the words not played yet were not heard
        if interrupted:
            self.output.clear()
        if self.chat is not None and self.chat.replying:
            heard = "".join(self.heard).strip()
            if self.interrupted:
                self.chat.end_reply(heard=heard, interrupted=True)
            else:
                self.chat.end_reply()
        for call in self.tool_calls or ():  # calls the model made that will not run: closed
            self.chat.add_tool_result(call, "Cancelled: the user interrupted.")

    @property
    def heard_text(self) -> str:
        return "".join(self.heard).strip()

    def latency_ms(self, start: float) -> dict:
        """e2e and its parts after the user's turn ended at `start` (perf_counter)."""
        m, out = self.marks, {}
        if m.first_word is not None:
            out["llm_first_word"] = (m.first_word - m.begin - m.tool_s) * 1e3
        if m.first_audio is not None and m.first_word is not None:
            out["tts_first_audio"] = (m.first_audio - m.first_word) * 1e3
        end = m.first_audio if self.synth is not None else m.first_word
        if end is not None:
            out["e2e"] = (end - start) * 1e3
        return out


class VoiceOutput:
    """Where the assistant's speech goes: the speaker (a Player, or LiveAudio's output), a WAV
    file, the History recorder. `time_s`: seconds of speech written in this session."""

    AHEAD_S = 0.32  # audio queued ahead of the speaker at most (Unmute: 4 frames)

    def __init__(self, device=None, wav=None, recorder=None):
        self.device, self.wav, self.recorder = device, wav, recorder
        self.frames = 0
        self.on_frame = None  # called with each frame spoken (the echo canceller's far end)
        self.underruns_before = self._device_underruns()

    @property
    def time_s(self) -> float:
        return self.frames / FRAME_RATE

    def played_frames(self) -> float:
        """Frames of speech the speaker has played (all those written, without one)."""
        if self.device is None:
            return float(self.frames)
        return self.frames - self._queued_s() * FRAME_RATE

    def _queued_s(self) -> float:
        queued = getattr(self.device, "queued_s", None)
        return self.device.queued_output_s if queued is None else queued

    def has_room(self) -> bool:
        return self.device is None or self._queued_s() < self.AHEAD_S

    def speak(self, pcm: np.ndarray) -> None:
        self.frames += 1
        if self.device is not None:
            (self.device.write if hasattr(self.device, "queued_s") else self.device.write_frame)(pcm)
        if self.wav is not None:
            self.wav.write(pcm)
        if self.recorder is not None:
            self.recorder.assistant_audio(pcm)
        if self.on_frame is not None:
            self.on_frame(pcm)

    def clear(self) -> None:
        """Barge-in: what is queued for the speaker is dropped (within one frame)."""
        if self.device is not None:
            clear = getattr(self.device, "clear", None) or getattr(self.device, "clear_output")
            clear()

    def _device_underruns(self) -> int:
        return int(getattr(self.device, "underruns", 0) or 0) if self.device is not None else 0

    def underruns(self) -> int:
        return self._device_underruns() - self.underruns_before
