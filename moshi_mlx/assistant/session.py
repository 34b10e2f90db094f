"""`Assistant`: the voice assistant engine (see assistant/__init__.py for the contract).

    assistant = Assistant(listener)             # listener(event): events.py + engine/events.py
    assistant.start(AssistantOptions(...))      # returns at once; all work on the MLX worker
    assistant.send_text("Hello")                # a typed turn (cuts a reply being spoken)
    assistant.interrupt()                       # the reply stops; history keeps the words heard
    assistant.answer_consent(request_id, "once" | "always" | "deny")
    assistant.hold_to_talk(True / False)        # push-to-talk: key down / key up (end of turn)
    assistant.stop()                            # blocking, idempotent

Only the models asked for are loaded: `stt=None` loads no STT (typed turns only), `tts=None` no
TTS (replies as text). The frame loop is conversation.py; listening.py the STT side; speaking.py
a reply (LLM -> words -> TTS); tool_calls.py the tools hook.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass

from ..engine.events import ErrorEvent, ProgressEvent, StateEvent
from ..engine.session_base import BackgroundSession
from ..errors import MoshiError
from .options import AssistantOptions

DECISIONS = ("once", "always", "deny")


class AssistantError(MoshiError):
    error_kind = "assistant"


@dataclass
class Models:
    chat: object  # ChatLLM
    transcriber: object | None  # stt.Transcriber
    synth: object | None  # tts.Synthesizer
    names: str


class Assistant(BackgroundSession):
    busy_message = "an assistant session is already running: stop() it first"
    stop_timeout = 30.0

    def __init__(self, listener):
        super().__init__(listener)
        self._commands: queue.SimpleQueue = queue.SimpleQueue()
        self._wake = threading.Event()
        self.recording_paths: dict | None = None
        self.output_wav: str | None = None  # the reply's WAV once the session ended

    # -- control (any thread) -----------------------------------------------------------------
    def send_text(self, text: str) -> None:
        """A typed turn: the reply being spoken (if any) is cut, then this turn is answered."""
        self._command("text", str(text))

    def interrupt(self) -> None:
        self._command("interrupt")

    def hold_to_talk(self, held: bool) -> None:
        """Push-to-talk (options.push_to_talk): True when the key goes down (a reply being spoken is
        cut; the words heard from now count), False when it goes up (the turn ends at once: the
        STT is flushed and the words answered; no pause detector). Ignored without push-to-talk."""
        self._command("hold", bool(held))

    def answer_consent(self, request_id: str, decision: str) -> None:
        if decision not in DECISIONS:
            raise ValueError(f"decision {decision!r}: one of {', '.join(DECISIONS)}")
        self._command("consent", request_id, decision)

    def _command(self, *cmd) -> None:
        self._commands.put(cmd)
        self._wake.set()

    def _on_stop(self) -> None:
        self._wake.set()

    def _prepare(self, options: AssistantOptions) -> None:
        if options.output_wav:  # checked now, fully, by the shared output layer (never an input)
            from .. import outputs

            with outputs.OutputSet(inputs=[options.input_wav]) as probe:
                probe.add(options.output_wav, "reply WAV file")
        if options.input_wav and options.stt is None:
            raise AssistantError("a spoken turn from a file needs an STT model (stt is None)")
        if options.record_dir:
            from ..outputs import writable_folder

            writable_folder(options.record_dir, "recording folder")
        while not self._commands.empty():  # nothing from an earlier session
            self._commands.get_nowait()

    def _model_name(self, options) -> str:
        return ", ".join(m for m in (options.stt, options.llm, options.tts) if m)

    # -- worker ---------------------------------------------------------------------------------
    def _run(self, options: AssistantOptions) -> None:
        self._emit(StateEvent("loading", self._model_name(options)))
        models = self._load(options)
        if self._stop.is_set():
            return
        self._emit(StateEvent("ready", models.names))
        io = _Io(options, models, self._emit, self._stop)
        try:
            self._converse(options, models, io)
        except Exception as e:  # a full disk under the reply's WAV: one line naming it
            failure = io.files.write_failure(e) if io.files is not None else None
            if failure is None:
                raise
            raise failure from None
        finally:
            io.close()
            self.recording_paths = io.recording_paths

    def _converse(self, options: AssistantOptions, models: Models, io: "_Io") -> None:
        from .conversation import Conversation

        self._emit(StateEvent("running", io.describe()))
        Conversation(chat=models.chat, synth=models.synth, ears=io.ears, output=io.output,
                     tools=options.tools, recorder=io.recorder, emit=self._emit, stop=self._stop,
                     commands=self._commands, wake=self._wake,
                     single_turn=bool(options.input_wav)).run()
        self._emit(StateEvent("stopping"))
        self.output_wav = io.commit()

    def _progress(self, job: str, done, total) -> None:
        self._emit(ProgressEvent(job, done, total))

    def _load(self, options: AssistantOptions) -> Models:
        import mlx.core as mx

        from ..mimi.share import MimiShare

        share = MimiShare()  # an STT and a TTS naming the same Mimi weights: one Mimi, a state each
        chat = self._load_llm(options)
        transcriber = self._load_stt(options, share) if options.stt else None
        synth = self._load_tts(options, share) if options.tts else None
        mx.clear_cache()  # loading's temporaries (casts, checks, warm-ups) go back to the system
        return Models(chat, transcriber, synth, ", ".join(m for m in (options.stt, options.llm, options.tts) if m))

    def _load_llm(self, options: AssistantOptions):
        from .character import system_prompt
        from .llm import ChatLLM, LlmSettings, load_llm
        from .record import history_for_chat

        llm = load_llm(options.llm, cache_dir=options.cache_dir,
                       progress=lambda d, t: self._emit(ProgressEvent("download", d, t, "bytes")))
        settings = LlmSettings.from_options(options)
        schemas = options.tools.schemas() if options.tools is not None else None
        history = history_for_chat(list(options.history or ()), bool(schemas and llm.tokenizer.has_tool_calling))
        chat = ChatLLM(llm, system_prompt(options.preset, options.system), settings, tools=schemas,
                       history=history)
        if schemas and not chat.supports_tools:
            self._emit(ErrorEvent("tools", f"{llm.name} cannot call tools (its chat template has no tool "
                                  "calling): tools are off", fatal=False))
        return chat

    def _load_stt(self, options: AssistantOptions, mimi_share=None):
        from ..stt.loading import load_stt_model
        from ..stt.transcriber import Transcriber

        model = load_stt_model(options.stt, "the assistant", cache_dir=options.cache_dir,
                               codec_backend=options.codec_backend, cancel=self._stop, progress=self._progress,
                               download_progress=lambda d, t: self._emit(ProgressEvent("download", d, t, "bytes")),
                               mimi_share=mimi_share, option="--stt")
        tr = Transcriber(model, seed=options.seed)
        self._emit(ProgressEvent("warm-up", 0, 1))
        tr.warmup()
        self._emit(ProgressEvent("warm-up", 1, 1))
        if not tr.has_end_of_turn:
            self._emit(ErrorEvent("no_end_of_turn", f"{model.files.name} has no end-of-turn heads: a turn ends "
                                  f"after {options.silence_timeout_s:g} s without a new word", fatal=False))
        return tr

    def _load_tts(self, options: AssistantOptions, mimi_share=None):
        from ..engine.loader import load_model
        from ..hub import resolve_model
        from ..kinds import check_kind
        from ..tts.info import TtsInfo
        from ..tts.synth import Synthesizer, TtsSettings
        from ..tts.voice_repo import default_voice, resolve_voice

        files = resolve_model(options.tts, cache_dir=options.cache_dir, cancel=self._stop, option="--tts",
                              progress=lambda d, t: self._emit(ProgressEvent("download", d, t, "bytes")))
        check_kind(files.config, ("tts",), files.name, "the assistant's voice (tts)")
        model = load_model(files, options.codec_backend, progress=self._progress, mimi_share=mimi_share)
        info = TtsInfo.from_model(model, used_by="the assistant")
        voice = resolve_voice(options.voice or default_voice(model), info, model, options.cache_dir,
                              cancel=self._stop)
        synth = Synthesizer(model, [voice], TtsSettings(seed=options.seed, final_padding=2))
        self._emit(ProgressEvent("compile", 0, 1))
        synth.gen.warmup()
        self._emit(ProgressEvent("compile", 1, 1))
        return synth


class _Io:
    """The session's audio: the microphone or a file into the STT, the speech to the speaker, a
    WAV and the History recording."""

    def __init__(self, options: AssistantOptions, models: Models, emit, stop):
        from .listening import Ears, FileSource, MicSource, load_input_wav
        from .speaking import VoiceOutput
        from .turn import TurnDetector

        self.options, self.ears, self.device, self.recorder, self.wav, self.files = options, None, None, None, None, None
        self.recording_paths = None
        self.aec = False
        try:
            source = None
            tr = models.transcriber
            if tr is not None and options.input_wav:
                source = FileSource(load_input_wav(options.input_wav))
            elif tr is not None and options.input_device is not None:
                source = self._mic(options, emit, stop)
                self.device = source.audio
            if self.device is None and options.output_device is not None and models.synth is not None:
                from ..tts.player import Player

                self.device = Player(None if options.output_device == "default" else options.output_device)
                self.device.start()
            if options.record_dir:
                self._open_recorder(options, models)
            if source is not None:
                tr.reset()
                detector = TurnDetector(options.pause_threshold, options.barge_in_threshold,
                                        options.silence_timeout_s, tr.has_end_of_turn)
                self.ears = Ears(tr, detector, source, self.recorder,
                                 push_to_talk=options.push_to_talk and source.live)
            if options.output_wav:
                from ..tts.outputs import OutputSet, WavStream, check_output_path

                self.files = OutputSet({"wav": check_output_path(options.output_wav, "reply WAV file")},
                                       inputs=[options.input_wav], options={"wav": "reply WAV file"})
                try:
                    self.wav = WavStream(self.files.temps["wav"])
                except Exception as e:  # a full disk or device: one line naming the file
                    failure = self.files.write_failure(e)
                    if failure is None:
                        raise
                    raise failure from None
            self.output = VoiceOutput(self.device, self.wav, self.recorder)
            if isinstance(source, MicSource):
                self.output.on_frame = lambda pcm: setattr(source, "far", pcm)
        except BaseException:
            self.close()
            raise

    def _mic(self, options, emit, stop):
        from ..engine.live import LiveAudio
        from .listening import MicSource

        device = None if options.input_device == "default" else options.input_device
        out = None if options.output_device == "default" else options.output_device
        audio = LiveAudio(device, out, max_lag_frames=3, output=options.output_device is not None)
        aec = None
        wanted = options.aec
        if wanted is None:
            wanted = audio.output is not None and audio.input.is_builtin and audio.output.is_builtin
        if wanted and audio.output is not None:
            from ..engine.aec import EchoCanceller

            aec = EchoCanceller(sample_rate=24000, frame_size=1920)
        self.aec = aec is not None
        audio.start()
        if aec is not None:
            aec.set_delay_ms((audio.input_latency_s + audio.output_latency_s) * 1e3)
        return MicSource(audio, stop, emit, aec)

    def _open_recorder(self, options, models: Models) -> None:
        from .record import AssistantRecorder

        meta = dict(mode="assistant", kind="assistant", model=models.names, model_name=models.names)
        self.recorder = AssistantRecorder(options.record_dir, models.names, meta=meta)
        self.recording_paths = dict(self.recorder.paths)

    def describe(self) -> str:
        parts = []
        if self.ears is not None:
            parts.append("file input" if not self.ears.source.live else
                         f"microphone, echo cancellation {'on' if self.aec else 'off'}")
        parts.append("speaker" if self.device is not None else "no speaker")
        return ", ".join(parts)

    def commit(self) -> str | None:
        if self.device is not None and hasattr(self.device, "drain"):
            self.device.drain()  # the last words reach the speaker
        if self.wav is not None:
            self.wav.close()
            self.files.commit()
            self.files = None
            return self.options.output_wav
        return None

    def close(self) -> None:
        if self.ears is not None:
            self.ears.close()
        elif self.device is not None:
            self.device.close()
        if self.wav is not None:
            self.wav.close()
        if self.files is not None:
            self.files.abort()
        if self.recorder is not None:
            self.recorder.close()
