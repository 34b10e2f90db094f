"""`Transcriber`: 24 kHz audio in (blocks of any length), text pieces, timed words and ends of turn
out, frame by frame (Mimi encode -> LM step, no depformer, no decode), with explicit, resettable
state. The same object serves files (`transcribe`), the microphone (`listen`) and the app.

How Kyutai runs its STT models (moshi 0.2.13 `run_inference.py`, followed exactly so that the text
tokens equal the reference's): the audio gets `audio_silence_prefix_seconds` of silence before it
and, at the end of a stream, `audio_delay_seconds + 1` s after it (the text lags the audio by the
delay: the silence lets the model write the last words); the first frame is given to the LM twice
(its first call replaces the input by the initial tokens) and that first output is dropped; then
one text token per 80 ms frame. Sampling comes from config.json's `lm_gen_config` (Kyutai's STT
configs: temperature 0, greedy). MLX runs on the caller's thread: keep one thread per Transcriber
(the live engine and the app use the MLX worker thread).
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from .. import SAMPLE_RATE
from ..errors import ConfigError
from ..sampling_defaults import TEXT_TEMPERATURE, TEXT_TOP_K
from ..text import Detokenizer
from .events import EndOfTurn, SttEvent, TextPiece
from .words import WordTimer

END_OF_TURN_HEAD = 2  # Kyutai: head 2 (a 2 s pause) is the one its tools use
END_OF_TURN_THRESHOLD = 0.5
TRAILING_EXTRA_S = 1.0  # run_inference.py: delay + 1 s of silence after the audio


@dataclass(frozen=True)
class SttSettings:
    """An STT model's streaming settings, from its config.json."""

    delay_s: float  # the text lags the audio by this much
    prefix_s: float  # silence fed before the audio
    temperature: float  # text sampling (0: greedy)
    top_k: int

    @classmethod
    def from_config(cls, extra: Mapping, source: str) -> "SttSettings":
        stt = extra.get("stt_config") or {}
        if not isinstance(stt, Mapping) or "audio_delay_seconds" not in stt:
            raise ConfigError(f"{source}: config.json has no stt_config.audio_delay_seconds (how far the "
                              "text lags the audio), which a speech-to-text model needs")
        gen = extra.get("lm_gen_config") or {}
        try:  # absent sampling keys: the reference LMGen's defaults
            settings = cls(float(stt["audio_delay_seconds"]), float(stt.get("audio_silence_prefix_seconds", 0.0)),
                           float(gen.get("temp_text", TEXT_TEMPERATURE)), int(gen.get("top_k_text", TEXT_TOP_K)))
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{source}: bad stt_config / lm_gen_config value ({e})") from None
        if settings.delay_s < 0 or settings.prefix_s < 0 or settings.temperature < 0 or settings.top_k < 1:
            raise ConfigError(f"{source}: stt_config / lm_gen_config values out of range: {settings}")
        return settings


class Transcriber:
    """One stream at a time: `push(pcm)` as audio comes, `flush()` at its end, `reset()` for the next.

    temperature / top_k: text sampling (default: the model's lm_gen_config); seed: sampling seed.
    keep_tokens: keep the text token of every frame (`tokens()`, for --tokens)."""

    def __init__(self, model, *, temperature: float | None = None, top_k: int | None = None,
                 seed: int | None = None, keep_tokens: bool = False, dtype=None):
        from ..lm import LmGen, make_sampler

        config = model.lm.config
        name = model.files.name
        if config.dep_q != 0 or config.max_delay != 0:
            raise ConfigError(f"{name}: not a speech-to-text layout (dep_q {config.dep_q}, delays up to "
                              f"{config.max_delay}; STT models generate no audio and have no delays)")
        if model.num_codebooks < config.n_q:
            raise ConfigError(f"{name}: the codec gives {model.num_codebooks} codebooks, the LM reads {config.n_q}")
        self.model = model
        self.settings = SttSettings.from_config(config.extra, name)
        self.temperature = self.settings.temperature if temperature is None else temperature
        self.top_k = self.settings.top_k if top_k is None else top_k
        self.seed = seed
        self.keep_tokens = keep_tokens
        self.frame_size = model.codec.frame_size
        self.has_end_of_turn = config.extra_heads_num_heads > END_OF_TURN_HEAD
        self.gen = LmGen(model.lm, make_sampler(self.temperature, top_k=self.top_k), make_sampler(0.0),
                         seed=seed, dtype=dtype)
        self.detok = Detokenizer(model.tokenizer)
        self.words = WordTimer(model.tokenizer, self.time_of)
        # called after every frame with (frame, text token, extra-head probabilities or None)
        self.frame_hook: Callable[[int, int, np.ndarray | None], None] | None = None
        self.reset()

    # -- state ---------------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> None:
        """A new stream: LM cache, codec, sampler seed, words; the silence prefix is queued."""
        self.gen.reset(self.seed if seed is None else seed)
        self.model.codec.reset()
        self.detok.reset()
        self.words.reset()
        self._prefix = int(self.settings.prefix_s * SAMPLE_RATE)
        self._pending = np.zeros(self._prefix, np.float32)
        self._first = True
        self._flushed = False
        self._armed = False  # an end of turn is reported once, after some text
        self.frames = 0  # frames whose text token came out
        self.samples = 0  # input samples pushed
        self.heads: np.ndarray | None = None  # the last frame's extra-head probabilities
        self._tokens = array("i")

    def warmup(self) -> None:
        """Compile the LM's frame variants now (a new stream then traces nothing), then reset."""
        self.gen.warmup()
        self.reset()

    @property
    def duration(self) -> float:
        """Seconds of input audio pushed into this stream."""
        return self.samples / SAMPLE_RATE

    @property
    def pause_probability(self) -> float | None:
        """The end-of-turn head's latest probability (None: no heads, or no frame yet)."""
        return None if self.heads is None or not self.has_end_of_turn else float(self.heads[END_OF_TURN_HEAD, 0])

    def time_of(self, frame: int) -> float:
        """Input time of a frame's text token: the prefix and the delay subtracted, within the audio."""
        t = (frame * self.frame_size - self._prefix) / SAMPLE_RATE - self.settings.delay_s
        return min(max(t, 0.0), self.duration)

    def tokens(self) -> np.ndarray:
        """int32 [frames]: the text token of every frame so far (keep_tokens=True)."""
        return np.frombuffer(self._tokens, dtype=np.int32).copy()

    # -- audio in, events out ------------------------------------------------------------------
    def push(self, pcm: np.ndarray) -> list[SttEvent]:
        """Mono 24 kHz float32 samples, any number; returns what they made the model write."""
        if self._flushed:
            raise RuntimeError("this stream was flushed: reset() to start another")
        pcm = np.asarray(pcm, dtype=np.float32).reshape(-1)
        self.samples += len(pcm)
        return self._feed(pcm)

    def flush(self) -> list[SttEvent]:
        """End of the stream: the trailing silence lets the model write the last words (a final
        partial frame is dropped, as in Kyutai's run_inference), then the last word is finished."""
        if self._flushed:
            return []
        tail = np.zeros(int((self.settings.delay_s + TRAILING_EXTRA_S) * SAMPLE_RATE), np.float32)
        events = self._feed(tail)
        self._pending = self._pending[:0]
        self._flushed = True
        return events + self.words.close(self.duration)

    def _feed(self, pcm: np.ndarray) -> list[SttEvent]:
        buffered = np.concatenate([self._pending, pcm]) if len(self._pending) else pcm
        n = len(buffered) // self.frame_size
        self._pending = buffered[n * self.frame_size:].copy()
        events: list[SttEvent] = []
        submitted = False
        for i in range(n):
            codes = self.model.codec.encode_frame(buffered[i * self.frame_size:(i + 1) * self.frame_size])
            if submitted:  # the previous LM frame computed while this one was encoded
                events += self._collect()
            if self._first:  # the reference's first call ignores its input: give frame 0 twice
                self.gen.step(codes)
                self._first = False
            self.gen.submit(codes)
            submitted = True
        if submitted:
            events += self._collect()
        return events

    def _collect(self) -> list[SttEvent]:
        out = self.gen.collect()
        frame, token = self.frames, int(out.text_token)
        self.frames += 1
        if self.keep_tokens:
            self._tokens.append(token)
        if self.frame_hook is not None:
            self.frame_hook(frame, token, out.extra_heads)
        time = self.time_of(frame)
        events: list[SttEvent] = list(self.words.push(token, frame))
        piece = self.detok.push(token)
        if piece:
            events.append(TextPiece(piece, time))
            self._armed = self._armed or bool(piece.strip())
        if out.extra_heads is not None:
            self.heads = out.extra_heads
            p = self.pause_probability
            if p is not None and p > END_OF_TURN_THRESHOLD and self._armed:
                self._armed = False
                events += self.words.close(time)
                events.append(EndOfTurn(time, p))
        return events
