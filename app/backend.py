"""The engine-side services the app uses, in one place (and one seam tests can replace).

Everything here is imported lazily: opening the window does not load MLX or the engine. These calls
never run on the UI thread except the quick ones (listing devices and known models, is_installed).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

_convert_worker = None  # created on the first conversion


class Backend:
    """Thin access to moshi_mlx (engine, devices, hub, self-test) and moshi_quantize (convert)."""

    # -- devices --------------------------------------------------------------------------
    def list_devices(self, refresh: bool = False) -> list:
        from moshi_mlx.audio.devices import list_devices

        return list_devices(refresh=refresh)

    # -- conversation engine --------------------------------------------------------------
    def make_engine(self, listener: Callable):
        from moshi_mlx.engine.conversation import ConversationEngine

        return ConversationEngine(listener)

    def make_options(self, **kwargs):
        from moshi_mlx.engine.conversation import EngineOptions

        return EngineOptions(**kwargs)

    def make_transcription(self, listener: Callable):
        """The live transcription engine (moshi_mlx.stt.live): the same lifecycle as a conversation,
        plus file transcription on the MLX worker with the model it keeps."""
        from moshi_mlx.stt.live import LiveTranscription

        return LiveTranscription(listener)

    def make_listen_options(self, **kwargs):
        from moshi_mlx.stt.live import ListenOptions

        return ListenOptions(**kwargs)

    def check_audio_file(self, path: str) -> float:
        """The duration of an audio file from its header; a MoshiError naming the file when it is
        not one (unreadable, a folder, no samples)."""
        from moshi_mlx.stt.files import check_input

        return check_input(path).duration

    def make_translation_options(self, **kwargs):
        """EngineOptions for a live translation; its sampling from the model's config.json
        (`lm_gen_config`, as Kyutai's runner and `translate` do), read without loading anything."""
        from moshi_mlx.hibiki.setup import model_sampling

        config = self.hub.preview_config(kwargs["model"], kwargs.get("cache_dir"))
        s = model_sampling(config, seed=kwargs.pop("seed", None))
        return self.make_options(text_temperature=s.text_temperature, text_top_k=s.text_top_k,
                                 audio_temperature=s.audio_temperature, audio_top_k=s.audio_top_k,
                                 seed=s.seed, **kwargs)

    # -- serving Kyutai's clients ("Let other devices connect") ---------------------------
    def make_server(self, listener: Callable, models=None):
        """A moshi_mlx.serve ChatServer; `models`: the ModelCache of Talk's engine, if it has one,
        so that both keep a single copy of the model."""
        from moshi_mlx.serve import ChatServer

        return ChatServer(listener, models=models)

    def make_serve_options(self, sampling: dict | None = None, **kwargs):
        """ServeOptions(**kwargs); `sampling`: the keyword arguments of the engine's Sampling."""
        from moshi_mlx.engine.core import Sampling
        from moshi_mlx.serve import ServeOptions

        return ServeOptions(sampling=Sampling(**(sampling or {})), **kwargs)

    def new_token(self) -> str:
        from moshi_mlx.serve.security import new_token

        return new_token()

    # -- read aloud (Kyutai TTS) ---------------------------------------------------------------
    def make_read_aloud(self, listener: Callable):
        """The Read aloud engine (moshi_mlx.tts.session): start(options), stop(), push_text...,
        pause/resume; its work runs on the MLX worker."""
        from moshi_mlx.tts.session import ReadAloud

        return ReadAloud(listener)

    def make_read_aloud_options(self, seed: int | None = None, **kwargs):
        """ReadAloudOptions (`seed`: the synthesizer's sampling seed)."""
        from moshi_mlx.tts.session import ReadAloudOptions
        from moshi_mlx.tts.synth import TtsSettings

        return ReadAloudOptions(settings=TtsSettings(seed=seed), **kwargs)

    def tts_voices(self, spec: str, cache_dir: str | None = None, remote: bool = False) -> tuple[str, list[str]]:
        """(default voice, voice names) of a TTS model, read from its config.json and folders
        without loading it; `remote`: also those of kyutai/tts-voices online (a network request:
        not on the UI thread)."""
        from moshi_mlx.tts import demo
        from moshi_mlx.tts.voice_repo import quick_voice_list

        config = self.hub.preview_config(spec, cache_dir)
        path = Path(spec).expanduser()
        folder = (path if path.is_dir() else path.parent) if path.exists() else None
        if folder is None and spec.count("/") == 1 and self.is_installed(spec, cache_dir):
            folder = self.hub.resolve_model(spec, cache_dir=cache_dir, allow_download=False).lm_path.parent
        default, names = quick_voice_list(config, folder, cache_dir, remote=remote)
        if spec == "demo-tts":  # the demo's voices are made with it
            names = names[:1] + [v for v in demo.VOICES if v not in names] + names[1:]
        return default, names

    # -- the voice assistant (STT -> LLM -> TTS, with tools) --------------------------------------
    def make_assistant(self, listener: Callable):
        """The assistant engine (moshi_mlx.assistant.session.Assistant): start(options) returns at
        once, send_text, interrupt, answer_consent, stop; its work runs on the MLX worker."""
        from moshi_mlx.assistant.session import Assistant

        return Assistant(listener)

    def make_assistant_options(self, **kwargs):
        from moshi_mlx.assistant.options import AssistantOptions

        return AssistantOptions(**kwargs)

    def chat_models(self) -> list[tuple[str, str, int]]:
        """(repo id, label, download size in bytes) of the curated mlx-lm chat models
        (moshi_mlx.known_models.LLM_MODELS: advice; any mlx-lm repo or folder works)."""
        from moshi_mlx.known_models import LLM_MODELS

        return [(m.repo_id, m.label, m.size_bytes) for m in LLM_MODELS]

    def make_toolbox(self, **kwargs):
        """The assistant's tools (moshi_mlx.tools.ToolBox(**kwargs)); reminders kept in the app's
        data folder. Blocking while MCP servers start: never on the UI thread."""
        from moshi_mlx.tools import ToolBox
        from moshi_mlx.tools.toolbox import default_data_dir

        kwargs.setdefault("data_dir", default_data_dir())
        return ToolBox(**kwargs)

    def reminder_store(self, clock):
        """The assistant's timers and reminders (moshi_mlx.tools.reminders.ReminderStore) on the
        reminders.json that make_toolbox's ToolBoxes keep; plain Python, no MLX."""
        from moshi_mlx.tools.reminders import FILE_NAME, ReminderStore
        from moshi_mlx.tools.toolbox import default_data_dir

        return ReminderStore(default_data_dir() / FILE_NAME, clock)

    def chat_known_models(self) -> list:
        """The curated chat models as KnownModel (kind "llm"), for the model manager's sizes,
        memory advice and downloads (hub.download fetches any repo's model files)."""
        from moshi_mlx.known_models import KnownModel

        from .modes.assistant_models import LLM_RUNTIME_BYTES

        return [KnownModel(repo, label, "-", 4, size, (), "llm", LLM_RUNTIME_BYTES)
                for repo, label, size in self.chat_models()]

    def character_presets(self) -> list[tuple[str, str, str]]:
        """(preset name, label, system prompt) of the assistant's characters (assistant/character.py)."""
        from moshi_mlx.assistant.character import PRESETS

        return [(p.name, p.label, p.prompt) for p in PRESETS.values()]

    # -- personas (PersonaPlex) -------------------------------------------------------------
    def list_voices(self, spec: str, cache_dir: str | None = None):
        """A Future of the voices `spec` can use (moshi_mlx.personas.voices.VoiceInfo): the model's
        (NVIDIA's voices.tgz converted on first use) and the user's. On the MLX worker: a demo
        model is made there on first use, a conversion writes safetensors with MLX."""
        from moshi_mlx.engine import mlx_worker

        def work() -> list:
            from moshi_mlx.errors import ModelNotAvailableError
            from moshi_mlx.personas.voices import list_voices

            try:
                files = self.hub.resolve_model(spec, cache_dir=cache_dir, allow_download=False)
            except ModelNotAvailableError:  # not downloaded yet: the user's own voices only
                return list_voices(None)
            return list_voices(Path(files.lm_path).parent)

        return mlx_worker.submit(work)

    def voice_preview_job(self, voice: str, folder: str) -> Callable:
        """fn(model) for ConversationEngine.run_on_model: a few seconds of `voice` ("" = the model's
        default) written as a WAV in `folder`; returns its path."""
        def work(model) -> str:
            from moshi_mlx.audio_io import write_wav
            from moshi_mlx.personas.stream import default_voice, voice_preview

            path = Path(folder) / f"preview-{abs(hash(voice)) % 10**8}.wav"
            write_wav(path, voice_preview(model, voice or default_voice(model)))
            return str(path)

        return work

    def make_voice_job(self, name: str, pcm, rate: int) -> Callable:
        """fn(model) for ConversationEngine.run_on_model: the user's voice `name` made from a
        recording with the model's Mimi (moshi_mlx.personas.stream.make_user_voice); its path."""
        def work(model) -> str:
            from moshi_mlx.personas.stream import make_user_voice

            return str(make_user_voice(model, name, pcm, rate))

        return work

    # -- models ---------------------------------------------------------------------------
    @property
    def hub(self):
        from moshi_mlx import hub

        return hub

    def known_models(self) -> list:
        return list(self.hub.KNOWN_MODELS)

    def demo_spec(self) -> str:
        return self.hub.DEMO

    def is_installed(self, repo_id: str, cache_dir: str | None = None) -> bool:
        return bool(self.hub.is_installed(repo_id, cache_dir=cache_dir))

    def recommend(self, known, total_memory_bytes: int | None) -> tuple[str, str]:
        return self.hub.recommend(known, total_memory_bytes=total_memory_bytes)

    def download(self, repo_id: str, cache_dir: str | None, progress, cancel: threading.Event) -> Path:
        return self.hub.download(repo_id, cache_dir=cache_dir, progress=progress, cancel=cancel)

    def model_kind(self, spec: str, cache_dir: str | None = None) -> str | None:
        """The kind (moshi_mlx.kinds) of a model spec without loading it: a demo's, a known repo's,
        or read from the config.json of a local folder or of a downloaded repo; None when it cannot
        be known yet (a repo not downloaded: the engine checks it after the download). Raises a
        MoshiError naming the file when a config.json is unreadable or names an unknown kind."""
        from moshi_mlx.jsonfile import read_json_object
        from moshi_mlx.kinds import KINDS, kind_name

        demo = next((k.name for k in KINDS.values() if spec == k.demo), None)
        if demo is not None:
            return demo
        known = self.hub.known_model(spec)
        if known is not None:
            return known.kind
        path = Path(spec).expanduser()
        folder = path.parent if path.is_file() else path
        if folder.is_dir():
            config = folder / "config.json"
            return kind_name(read_json_object(config) if config.is_file() else {}, str(config))
        if spec.count("/") == 1 and self.is_installed(spec, cache_dir):
            files = self.hub.resolve_model(spec, cache_dir=cache_dir, allow_download=False)
            return kind_name(files.config, f"{spec}: config.json")
        return None

    def check_local_model(self, folder: str) -> Path:
        """Raises a MoshiError naming what is missing when `folder` is not a usable model."""
        if not Path(folder).expanduser().is_dir():
            from moshi_mlx.errors import CheckpointError

            raise CheckpointError(f"{folder} is not a folder")
        self.hub.resolve_model(str(folder), allow_download=False)  # raises naming the missing file
        return Path(folder).expanduser()

    def convert(self, source: str, output: str, bits: int | None, progress,
                cancel: threading.Event):
        from moshi_mlx.engine.mlx_worker import MlxWorker
        from moshi_quantize.convert import convert

        global _convert_worker
        if _convert_worker is None:
            # MLX work runs on a parked long-lived thread (see mlx_worker: a thread that ran MLX ops
            # and ended makes the process abort at exit); its own, so a conversation never waits on it.
            _convert_worker = MlxWorker("moshi-convert-worker")
        job = _convert_worker.submit(
            lambda: convert(source, output, bits=bits, progress=progress, cancel=cancel))
        return job.result()
