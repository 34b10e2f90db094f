"""The models behind the `/v1` endpoints, loaded on the MLX worker: a speech to text model with its
Transcriber, a text to speech model with its voices and one Synthesizer per voice used (kept: a
Synthesizer's compiled frames are made once). Every method here runs on the MLX worker thread."""

from __future__ import annotations

import collections
import re
import threading
from typing import Callable

from ...engine.events import ProgressEvent, StateEvent

# What OpenAI's clients send by default; each is mapped to one of the voices installed here.
OPENAI_VOICES = ("alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage",
                 "shimmer", "verse")
KEPT_SYNTHS = 4  # voices whose Synthesizer stays ready
_LANGUAGE = re.compile(r"(?:^|[-_/])((?:en|fr|de|es|it|ja)(?:_(?:en|fr|de|es|it|ja))*)(?=$|[-_.])")


def languages_of(spec: str) -> tuple[str, ...]:
    """The languages a Kyutai model's name announces ("stt-1b-en_fr" -> en, fr); () when unknown."""
    m = _LANGUAGE.search(spec.rsplit("/", 1)[-1])
    return tuple(m.group(1).split("_")) if m else ()


class SttEngine:
    def __init__(self, spec: str, model):
        from ...stt.transcriber import Transcriber

        self.spec, self.model = spec, model
        self.languages = languages_of(spec)
        self.transcriber = Transcriber(model)
        self.transcriber.warmup()
        self.has_end_of_turn = self.transcriber.has_end_of_turn


class TtsEngine:
    def __init__(self, spec: str, model, voice: str | None, cache_dir: str | None):
        from ...tts.info import TtsInfo
        from ...tts.voice_repo import default_voice, list_voices

        self.spec, self.model, self.cache_dir = spec, model, cache_dir
        self.info = TtsInfo.from_model(model, used_by="`serve --tts`")
        self.default_voice = voice or default_voice(model)
        installed = [v.name for v in list_voices(self.info, model, cache_dir, remote=False) if v.installed]
        self.voices = [self.default_voice] + sorted(set(installed) - {self.default_voice})
        self._synths: collections.OrderedDict = collections.OrderedDict()
        self.synth(self.default_voice)  # the default voice is checked (and fetched) now

    def voice_name(self, asked: str | None) -> str | None:
        """The voice to use for `asked` (None: the default), or None if there is no such voice.
        OpenAI's names map to the voices here in order, alloy to the default."""
        if not asked:
            return self.default_voice
        if asked in self.voices:
            return asked
        if asked.lower() in OPENAI_VOICES:
            return self.voices[OPENAI_VOICES.index(asked.lower()) % len(self.voices)]
        stem = [v for v in self.voices if v.rsplit("/", 1)[-1].removesuffix(".wav") == asked]
        return stem[0] if len(stem) == 1 else None

    def synth(self, voice: str):
        """A Synthesizer speaking `voice`, reset for a new stream."""
        from ...tts.synth import Synthesizer, TtsSettings
        from ...tts.voice_repo import resolve_voice

        synth = self._synths.pop(voice, None)
        if synth is None:
            resolved = resolve_voice(voice, self.info, self.model, self.cache_dir)
            synth = Synthesizer(self.model, [resolved], TtsSettings())
            synth.gen.warmup()
        self._synths[voice] = synth
        while len(self._synths) > KEPT_SYNTHS:
            self._synths.popitem(last=False)
        synth.reset()
        return synth


def load_engine(kind: str, spec: str, options, emit: Callable, cancel: threading.Event):
    """Load `spec` as an STT or TTS model for the endpoints (on the MLX worker), with the serve
    options' cache folder and codec."""
    from ...engine.loader import load_model
    from ...hub import resolve_model
    from ...kinds import check_kind

    used_by = f"`serve --{kind}`"
    emit(StateEvent("loading", spec))
    files = resolve_model(spec, cache_dir=options.cache_dir, allow_download=True,
                          progress=lambda d, t: emit(ProgressEvent("download", d, t, "bytes")),
                          cancel=cancel)
    check_kind(files.config, (kind,), files.name or spec, used_by)
    model = load_model(files, options.codec_backend,
                       progress=lambda job, d, t: emit(ProgressEvent(job, d, t)))
    engine = (SttEngine(spec, model) if kind == "stt"
              else TtsEngine(spec, model, options.tts_voice, options.cache_dir))
    emit(StateEvent("ready", files.name))
    return engine
