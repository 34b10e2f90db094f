"""The assistant over a network stream (a websocket) instead of a microphone and a speaker.

    models = StreamModels(llm, stt_model, tts_model, default_voice, cache_dir)   # loaded once
    source, sink = StreamSource(), StreamSink(on_frame)
    assistant = StreamAssistant(listener, models, source, sink)
    assistant.start(AssistantOptions(llm=..., input_device=None, output_device=None))
    source.push(pcm)      # any thread: 24 kHz float32 audio, any length
    source.commit()       # any thread: the user's turn ends once the audio before it was heard
    source.clear()        # any thread: audio not heard yet is dropped

The session's frame loop (conversation.py) runs on the MLX worker as with a microphone: the source
is its clock. `read()` gives the next 80 ms of pushed audio at once, or, when the client sent none,
a frame of silence 80 ms after the last one (time passes for the turn detector, a typed turn's reply
goes on). Each frame of speech goes to `sink.on_frame(pcm)` on the worker thread: it must not block
(the server's queues are bounded and drop the oldest audio for a slow client).

End of turn: `StreamTurns` is the turn detector with two switches: `server_vad` (off: only a
commit ends a turn, and there is no barge-in) and the commits the source read. Models are kept
across sessions in `StreamModels` (one Transcriber reset per session, one Synthesizer per voice).
"""

from __future__ import annotations

import queue
import threading
import time

import numpy as np

from .. import FRAME_SIZE
from ..engine.events import ProgressEvent, StateEvent
from .session import Assistant
from .turn import FRAME_S, TurnDetector

_COMMIT = object()
MAX_QUEUED_FRAMES = 750  # 60 s of audio not heard yet; beyond, the oldest is dropped


class StreamTurns(TurnDetector):
    """TurnDetector + commits: a commit ends the turn at the frame after the audio before it (held
    while the assistant speaks); without `server_vad` only commits end turns, and nothing barges in."""

    server_vad = True

    def __post_init__(self):
        super().__post_init__()
        self.commits = 0

    def frame(self, probability, words=0, speaking=False):
        signal = super().frame(probability, words, speaking)
        if self.commits and not speaking:
            self.commits -= 1
            self.reset_turn()
            return "end_of_turn"
        return signal if self.server_vad else None


class StreamSource:
    """Audio pushed from another thread, read as 80 ms frames on the worker (live: its clock)."""

    live = True
    exhausted = False

    def __init__(self):
        self._q: queue.Queue = queue.Queue()
        self._partial = np.zeros(0, np.float32)
        self._lock = threading.Lock()
        self._last = time.perf_counter()
        self.stop = threading.Event()
        self.detector: StreamTurns | None = None
        self.dropped = 0

    # -- any thread -----------------------------------------------------------------------------
    def push(self, pcm: np.ndarray) -> None:
        with self._lock:
            pcm = np.concatenate([self._partial, np.asarray(pcm, np.float32).reshape(-1)])
            n = len(pcm) // FRAME_SIZE * FRAME_SIZE
            self._partial = pcm[n:].copy()
            for i in range(0, n, FRAME_SIZE):
                self._q.put(pcm[i:i + FRAME_SIZE])
            while self._q.qsize() > MAX_QUEUED_FRAMES:
                try:
                    self._q.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    break

    def commit(self) -> None:
        """The turn ends after the audio pushed so far (a partial frame is padded with silence)."""
        with self._lock:
            if len(self._partial):
                frame = np.zeros(FRAME_SIZE, np.float32)
                frame[:len(self._partial)] = self._partial
                self._q.put(frame)
                self._partial = np.zeros(0, np.float32)
            self._q.put(_COMMIT)

    def clear(self) -> None:
        with self._lock:
            self._partial = np.zeros(0, np.float32)
            kept = []
            while True:
                try:
                    item = self._q.get_nowait()
                except queue.Empty:
                    break
                if item is _COMMIT:
                    kept.append(item)
            for item in kept:
                self._q.put(item)

    # -- the worker -----------------------------------------------------------------------------
    def read(self) -> np.ndarray | None:
        while not self.stop.is_set():
            wait = max(0.0, self._last + FRAME_S - time.perf_counter())
            try:
                item = self._q.get(timeout=wait) if wait > 0 else self._q.get_nowait()
            except queue.Empty:
                item = np.zeros(FRAME_SIZE, np.float32)  # the client is silent: time passes
            if item is _COMMIT:
                if self.detector is not None:
                    self.detector.commits += 1
                continue
            self._last = time.perf_counter()
            return item
        return None

    def close(self) -> None:
        self.stop.set()


class StreamSink:
    """VoiceOutput's device: each frame to `on_frame(pcm)` (worker thread), `on_clear()` on a cut.
    Not `paced`: the client buffers, the TTS makes audio as fast as it can. `paced`: a virtual
    speaker playing in real time, so that speech is made at most VoiceOutput.AHEAD_S ahead (for
    clients that play what arrives, such as Kyutai's)."""

    underruns = 0

    def __init__(self, on_frame, on_clear=None, paced: bool = False):
        self.on_frame, self.on_clear, self.paced = on_frame, on_clear, paced
        self._play_end = 0.0  # perf_counter when what was written has been played

    @property
    def queued_s(self) -> float:
        if not self.paced:
            return 0.0
        return max(0.0, self._play_end - time.perf_counter())

    def write(self, pcm: np.ndarray) -> None:
        self._play_end = max(self._play_end, time.perf_counter()) + FRAME_S
        self.on_frame(pcm)

    def clear(self) -> None:
        self._play_end = 0.0
        if self.on_clear is not None:
            self.on_clear()

    def close(self) -> None:
        pass


class StreamModels:
    """The assistant's models for a server, loaded once and used by one session at a time; every
    method runs on the MLX worker."""

    def __init__(self, llm, stt_model=None, tts_model=None, default_voice: str | None = None,
                 cache_dir: str | None = None):
        self.llm, self.stt_model, self.tts_model = llm, stt_model, tts_model
        self.default_voice, self.cache_dir = default_voice, cache_dir
        self._transcriber = None
        self._synths: dict = {}

    def transcriber(self, seed=None):
        from ..stt.transcriber import Transcriber

        if self.stt_model is None:
            return None
        if self._transcriber is None:
            self._transcriber = Transcriber(self.stt_model, seed=seed)
            self._transcriber.warmup()
        self._transcriber.reset()
        return self._transcriber

    def synth(self, voice: str | None, seed=None):
        """A Synthesizer for `voice` (None: the default), made and compiled once per voice."""
        from ..tts.info import TtsInfo
        from ..tts.synth import Synthesizer, TtsSettings
        from ..tts.voice_repo import resolve_voice

        if self.tts_model is None:
            return None
        voice = voice or self.default_voice
        synth = self._synths.get(voice)
        if synth is None:
            info = TtsInfo.from_model(self.tts_model, used_by="the assistant")
            resolved = resolve_voice(voice, info, self.tts_model, self.cache_dir)
            synth = Synthesizer(self.tts_model, [resolved], TtsSettings(seed=seed, final_padding=2))
            synth.gen.warmup()
            if len(self._synths) >= 4:
                self._synths.clear()
            self._synths[voice] = synth
        return synth


class StreamAssistant(Assistant):
    """An Assistant whose ears are a StreamSource and whose speaker is a StreamSink, on models
    loaded once (StreamModels). `server_vad` False: only commits end the user's turns."""

    def __init__(self, listener, models: StreamModels, source: StreamSource, sink: StreamSink,
                 server_vad: bool = True):
        super().__init__(listener)
        self.models, self.source, self.sink, self.server_vad = models, source, sink, server_vad

    def _on_stop(self) -> None:
        self.source.stop.set()
        super()._on_stop()

    def _run(self, options) -> None:
        from .character import system_prompt
        from .conversation import Conversation
        from .listening import Ears
        from .llm import ChatLLM, LlmSettings
        from .speaking import VoiceOutput

        m = self.models
        self._emit(StateEvent("loading", self._model_name(options)))
        chat = ChatLLM(m.llm, system_prompt(options.preset, options.system), LlmSettings.from_options(options),
                       tools=None, history=list(options.history or ()))
        self._emit(ProgressEvent("compile", 0, 1))
        tr = m.transcriber(options.seed)
        synth = m.synth(options.voice, options.seed)
        self._emit(ProgressEvent("compile", 1, 1))
        names = self._model_name(options)
        self._emit(StateEvent("ready", names))
        ears = None
        if tr is not None:
            detector = StreamTurns(options.pause_threshold, options.barge_in_threshold,
                                   options.silence_timeout_s, tr.has_end_of_turn)
            detector.server_vad = self.server_vad
            self.source.detector = detector
            ears = Ears(tr, detector, self.source)
        output = VoiceOutput(self.sink, None, None)
        self._emit(StateEvent("running", "websocket"))
        Conversation(chat=chat, synth=synth, ears=ears, output=output, tools=None, recorder=None,
                     emit=self._emit, stop=self._stop, commands=self._commands, wake=self._wake).run()
        self._emit(StateEvent("stopping"))


__all__ = ["StreamAssistant", "StreamModels", "StreamSink", "StreamSource", "StreamTurns"]
