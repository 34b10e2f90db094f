"""The streaming synthesizer: text in (incrementally, from any thread), 80 ms audio frames out.

    synth = Synthesizer(model, [voice], TtsSettings(cfg=2.0))
    synth.push_text("Hello world. ")          # any thread, any time, in pieces
    synth.end_of_text()                       # or flush() at a pause, to speak everything now
    for frame in synth.frames():              # on the MLX thread (see engine/mlx_worker.py)
        play(frame.pcm); highlight(frame.word)

Per frame: the LM step (temporal transformer, text token through the word state machine,
depformer), then Mimi decodes the frame's codebooks. The audio lags the text by the model's
`delay_steps` (1.28 s): the first frames carry no audio (Kyutai's zero token, `LmGen.provide`), and
a word's audio starts `delay_steps` frames after the machine fed it. Memory stays flat however long
the text: the LM's KV cache is a fixed ring, queued words are dropped once fed, nothing keeps the
frames.

Waiting for text. The model looks `lookahead` words ahead (a second text stream) and the state
machine feeds a word whenever the model asks for one. So, while the text is not finished, the
synthesizer only runs a frame when it cannot need a word the reader has not seen yet: the current
word's tokens are still being fed, or more than `lookahead` words are queued. Otherwise it waits:
no frame is produced (a player hears silence), nothing is padded into the speech, and it resumes
exactly where it stopped when text arrives. The last words before such a wait are heard only once
more text (or `flush()`) comes, because their audio is still `delay_steps` frames behind.
`flush()` (or `TtsSettings.auto_flush_s` seconds without new text) says that the text so far is
complete: everything queued is spoken, then `final_padding` frames of the model's own silence,
and the stream pauses; text pushed later continues the same stream as a new segment.
`end_of_text()` is a final flush: `frames()` ends after it. With all the text given up front, the
frames are those of Kyutai's `TTSModel.generate` (the parity tests compare greedy tokens).
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, replace
from typing import Callable, Iterator

import numpy as np

from .. import FRAME_RATE
from ..errors import ConfigError
from ..sampling_defaults import AUDIO_TOP_K, TEXT_TOP_K
from ..lm.delays import UNGENERATED
from .machine import Entry, WordMachine, count_words
from .script import ScriptReader
from .voices import Voice

PREFIX_TRIM = 2  # frames dropped from the end of an audio prefix (Kyutai's get_prefix)
PREFIX_MAX_S = 10.0  # a longer recording is cut: the prefix must stay well inside the context
SKIP_FRAMES = 2  # decoded frames dropped at the start (Kyutai's simple_generate: a click otherwise)


@dataclass(frozen=True)
class TtsSettings:
    cfg: float = 2.0  # CFG-distilled models: the cfg condition; others: real CFG coefficient
    codebooks: int | None = None  # generated and decoded (default: 24, or all if fewer)
    temperature: float = 0.6  # text and audio (Kyutai's TTSModel default)
    text_top_k: int = TEXT_TOP_K
    audio_top_k: int = AUDIO_TOP_K
    seed: int | None = None
    padding_between: int = 1  # pads forced after each word (1: clearer articulation)
    max_padding: int = 8  # pads in a row before a word is forced
    initial_padding: int = 2
    final_padding: int = 4  # frames generated after the last word's audio has started
    auto_flush_s: float | None = None  # flush after this long without new text (None: wait)

    def greedy(self) -> "TtsSettings":
        return replace(self, temperature=0.0)


@dataclass(frozen=True)
class SpokenWord:
    text: str
    index: int  # words spoken in this stream so far
    span: tuple[int, int]  # its characters in all the text pushed (for highlighting)
    speaker: int  # 0: main voice, 1: the other (dialogues)
    frame: int  # output frame where its audio starts (frame / 12.5 = seconds)


@dataclass(frozen=True)
class SpeechFrame:
    pcm: np.ndarray  # (1920,) float32 in [-1, 1], 24 kHz
    index: int  # output frame number (80 ms each)
    word: SpokenWord | None  # the word being spoken (the last one whose audio has started)
    started: tuple[SpokenWord, ...] = ()  # words whose audio starts in this frame


class Synthesizer:
    """One stream of speech from text. `model`: a LoadedModel of kind "tts" (engine/loader.py).
    `token_sink(tokens)`: called with each LM output frame, int32 [1 + codebooks] (text token,
    then the codebooks, acoustic delay removed), including the first frames without audio: the
    layout of Kyutai's `TTSResult.frames`."""

    def __init__(self, model, voices: list[Voice], settings: TtsSettings = TtsSettings(),
                 token_sink: Callable[[np.ndarray], None] | None = None):
        from ..engine.core import Sampling
        from ..engine.setup import make_setup

        self.model, self.settings, self.token_sink = model, settings, token_sink
        t, k = settings.temperature, settings
        # the generator is built through the kind's record, as for every kind (tts/setup.py)
        self.setup = make_setup(model, Sampling(t, k.text_top_k, t, k.audio_top_k, settings.seed),
                                {"voices": voices, "cfg": settings.cfg, "codebooks": settings.codebooks,
                                 "text_hook": self._on_text, "null_tokens": self._null_tokens})
        self.info = info = self.setup.info
        self.voices, self.codebooks = voices, self.setup.codebooks
        config = model.lm.config
        prefix_model = not info.multi_speaker
        if prefix_model and self.codebooks != config.n_q:
            raise ConfigError(f"{model.files.name} takes its voice as an audio prefix and needs all "
                              f"its {config.n_q} codebooks")
        self.delays = np.asarray(config.delays, np.int64)
        self.decoder = _frame_decoder(model, self.codebooks)
        self.prefix = self._encode_prefix(voices[0].audio) if prefix_model else None
        self.prefix_len = 0 if self.prefix is None else self.prefix.shape[1]
        self.gen = self.setup.make_gen()
        self.machine = WordMachine(info.token_ids, info.lookahead, settings.max_padding,
                                   settings.initial_padding)
        self.reader = ScriptReader(model.tokenizer, info.token_ids, FRAME_RATE, info.multi_speaker,
                                   settings.padding_between)
        self._given = np.full(self.gen.buffer.given, info.token_ids.zero, np.int64)
        self._cond = threading.Condition()
        self.reset()

    # -- stream state ------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> None:
        """A new stream (same model, voices and settings): LM, codec, machine and text state."""
        with self._cond:
            self.gen.reset(self.settings.seed if seed is None else seed)
            self.setup.start(self.gen)
            self.decoder.reset()
            self.machine.reset()
            self.reader.reset()
            self._inbox: list[Entry] = []
            self._complete = False  # the text pushed so far is complete (flush)
            self._ended = False  # end_of_text: no more text will come
            self._cancelled = False
            self._last_text = time.monotonic()
            self._words = collections.deque()  # consumed words whose audio has not started yet
            self._word_count = 0
            self._current: SpokenWord | None = None
            self._frames_out = 0
            # seconds from the first word (or from frames() if it came later) to the first frame
            self.first_audio_s: float | None = None
            self._first_text: float | None = None  # when the first word arrived
            self._frames_started = 0.0
            self.compute_s = 0.0  # time spent making frames (LM steps and decoding)

    def push_text(self, text: str, speaker: int | None = None) -> None:
        """More text (any thread). `speaker` 0 or 1 starts a turn of that voice (dialogues)."""
        if speaker not in (None, 0, 1):
            raise ValueError("speaker must be 0 (main voice) or 1 (the other)")
        if speaker == 1 and len(self.voices) < 2 and self.info.multi_speaker:
            raise ConfigError("speaker 1 needs a second voice")
        with self._cond:
            if self._ended:
                raise RuntimeError("end_of_text() was called: reset() to start a new stream")
            entries = self.reader.push(text, speaker)
            self._receive(entries, complete=False)

    def flush(self) -> None:
        """The text so far is complete: speak all of it now, then pause (the stream stays open)."""
        with self._cond:
            self._receive(self.reader.flush(), complete=True)

    def end_of_text(self) -> None:
        """No more text: speak what is queued; `frames()` ends after its last frame."""
        with self._cond:
            self._receive(self.reader.flush(), complete=True)
            self._ended = True

    def cancel(self) -> None:
        """Stop `frames()` at the next frame (any thread)."""
        with self._cond:
            self._cancelled = True
            self._cond.notify_all()

    @property
    def queued_words(self) -> int:
        """Words pushed and not fed to the model yet."""
        with self._cond:
            return count_words(self._inbox) + self.machine.words_ahead()

    @property
    def dropped(self):
        """Words the tokenizer could not encode (not spoken): script.Unspeakable."""
        return self.reader.dropped

    def _receive(self, entries: list[Entry], complete: bool) -> None:
        if entries and self._first_text is None:
            self._first_text = time.monotonic()
        self._inbox += entries
        self._complete = complete or (self._complete and not entries)
        self._last_text = time.monotonic()
        self._cond.notify_all()

    # -- generation ----------------------------------------------------------------------------
    def frames(self) -> Iterator[SpeechFrame]:
        """Audio frames as they are made (run on the MLX thread); blocks while waiting for text."""
        self._frames_started = time.monotonic()
        while True:
            with self._cond:
                while True:
                    if self._cancelled:
                        return
                    action = self._next_action()
                    if action != "wait":
                        break
                    self._cond.wait(self._wait_timeout())
            if action == "done":
                return
            t = time.perf_counter()
            frame = self._step()
            self.compute_s += time.perf_counter() - t
            if frame is not None:
                yield frame

    def poll(self) -> str:
        """Without blocking, for a caller that runs its own frame clock (the assistant): "step"
        (call `step()`), "wait" (no text to go on) or "done" (ended or cancelled)."""
        with self._cond:
            return "done" if self._cancelled else self._next_action()

    def step(self) -> SpeechFrame | None:
        """One LM step after `poll()` said "step": the frame, or None while no audio comes yet."""
        if self._frames_started == 0.0:
            self._frames_started = time.monotonic()
        t = time.perf_counter()
        frame = self._step()
        self.compute_s += time.perf_counter() - t
        return frame

    def _wait_timeout(self) -> float | None:
        """How long to wait for text; with auto_flush_s, flushes once that long has passed."""
        limit = self.settings.auto_flush_s
        if limit is None:
            return None
        left = self._last_text + limit - time.monotonic()
        if left > 0:
            return left
        self._receive(self.reader.flush(), complete=True)
        return 0.0

    def _next_action(self) -> str:
        """'step', 'wait' or 'done' (called with the lock held). Words move from the inbox to the
        machine only when it may consume them: with their look-ahead, or the text complete."""
        m, s = self.machine, self.machine.state
        call = self.gen.offset
        if call < self.prefix_len:
            return "step"  # the voice prefix needs no text
        if self._first_text is None:  # nothing to say yet
            return "done" if self._ended else "wait"
        need = m.lookahead + 1
        ready = self._complete or count_words(self._inbox, need) + m.words_ahead(need) >= need
        if s.ended_at is not None:  # the last segment was spoken to its end
            if self._inbox and ready:
                m.resume()  # a new segment of the same stream
                self._take_inbox()
                return "step"
            if call < s.ended_at + self.info.delay_steps + self.settings.final_padding:
                return "step"  # the last words' audio (the machine has no word to take)
            return "done" if self._ended and not self._inbox else "wait"
        self._take_inbox()
        return "step" if s.queued or s.forced_padding > 0 or ready else "wait"

    def _take_inbox(self) -> None:
        self.machine.append(self._inbox)
        self._inbox = []

    def _step(self) -> SpeechFrame | None:
        call = self.gen.offset
        self._provide(call)
        out = self.gen.step(self._given)
        if out is None:
            return None
        if self.token_sink is not None:
            self.token_sink(np.concatenate([[out.text_token], out.audio_codes]).astype(np.int32))
        index = call - self.gen.buffer.max_delay  # TTSResult.frames index
        if index < self.info.delay_steps:
            return None  # no audio yet
        pcm = self.decoder.decode_frame(out.audio_codes)
        out_index = index - self.info.delay_steps - SKIP_FRAMES - self.prefix_len
        if out_index < 0:
            return None
        started = []
        while self._words and self._words[0].frame <= out_index:
            self._current = self._words.popleft()
            started.append(self._current)
        self._frames_out += 1
        if self.first_audio_s is None and self._first_text is not None:
            self.first_audio_s = time.monotonic() - max(self._first_text, self._frames_started)
        return SpeechFrame(np.clip(pcm, -1.0, 1.0).astype(np.float32), out_index, self._current,
                           tuple(started))

    # -- hooks -------------------------------------------------------------------------------
    def _on_text(self, sampled: int, call: int) -> int:
        """LmGen's text hook: the state machine (the text of a voice prefix is the zero token)."""
        if call < self.prefix_len:
            return self.info.token_ids.zero
        token, entry = self.machine.step(call, sampled)
        if entry is not None and entry.tokens:
            frame = call - SKIP_FRAMES - self.prefix_len
            self._words.append(SpokenWord(entry.text, self._word_count, entry.span, entry.speaker,
                                          max(frame, 0)))
            self._word_count += 1
        return token

    def _provide(self, call: int) -> None:
        """Fix the audio tokens of position call + 1 that are not sampled: the zero token while the
        audio delay fills (per codebook: its acoustic delay + delay_steps), then the voice prefix."""
        tokens = np.full(len(self.delays), UNGENERATED, np.int64)
        start = self.delays[1:1 + self.codebooks] + self.info.delay_steps
        t = call - start
        tokens[1:1 + self.codebooks] = np.where(t < 0, self.info.token_ids.zero, UNGENERATED)
        if self.prefix is not None:
            inside = (t >= 0) & (t < self.prefix_len)
            rows = np.arange(self.codebooks)[inside]
            tokens[1 + rows] = self.prefix[rows, t[inside]]
        if (tokens != UNGENERATED).any():
            self.gen.provide(call + 1, tokens)

    def _null_tokens(self, inputs: np.ndarray, call: int) -> np.ndarray:
        """The CFG null row's input (Kyutai's cfg_is_no_text and cfg_is_no_prefix): no text, and no
        voice prefix up to its last frame's audio."""
        zero = self.info.token_ids.zero
        started = call > self.delays
        inputs[0] = zero if started[0] else inputs[0]
        if self.prefix is not None:
            masked = started & (call <= self.delays + self.prefix_len + self.info.delay_steps)
            inputs[masked] = zero
        return inputs

    def _encode_prefix(self, audio: np.ndarray) -> np.ndarray:
        """A recording -> prefix codes [n_q, frames] (its last PREFIX_TRIM frames dropped)."""
        from .. import audio_io

        codec = self.model.codec
        audio = audio[:int(PREFIX_MAX_S * codec.sample_rate)]
        frames = audio_io.pad_to_frames(audio, codec.frame_size).reshape(-1, codec.frame_size)
        codec.reset()
        codes = np.stack([codec.encode_frame(f) for f in frames], axis=1)[:, :-PREFIX_TRIM]
        codec.reset()
        if codes.shape[1] < 1:
            raise ConfigError("the voice recording is too short: give a few seconds of speech")
        return codes.astype(np.int64)


def _frame_decoder(model, codebooks: int):
    """The model's codec decodes the first `codebooks` codebooks (MLX); rustymimi decodes a fixed
    count: open it with that many."""
    from ..mimi import open_codec
    from ..mimi.codec import MlxCodec

    codec = model.codec
    if codebooks == codec.num_codebooks or isinstance(codec, MlxCodec):
        return codec

    return open_codec(model.files.mimi_path, backend=model.codec_backend, num_codebooks=codebooks)

