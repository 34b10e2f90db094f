"""What an assistant session runs: its three models, its character, its audio and its tools."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_STT = "kyutai/stt-1b-en_fr-candle"  # the 1B with extra heads (end of turn)
DEFAULT_TTS = "kyutai/tts-1.6b-en_fr"


@dataclass
class AssistantOptions:
    stt: str | None = DEFAULT_STT  # Kyutai STT model; None: typed turns only (no STT loaded)
    llm: str = "demo-llm"  # mlx-lm model: folder, HF repo id, or "demo-llm" (see assistant/llm.py)
    tts: str | None = DEFAULT_TTS  # Kyutai TTS model; None: text replies only (no TTS loaded)
    voice: str | None = None  # TTS voice; None: the model's default
    preset: str = "assistant"  # character preset (system prompt), see assistant/character.py
    system: str | None = None  # the system prompt exactly as given; None: the preset's
    temperature: float = 0.7
    greedy: bool = False
    max_tokens: int = 300  # per reply
    seed: int | None = None
    thinking: bool = False  # let models that think do so (off for speech)
    input_device: int | str | None = "default"  # None: no microphone (typed turns, input_wav)
    output_device: int | str | None = "default"  # None: do not play
    input_wav: str | None = None  # one spoken turn from a file instead of the microphone
    output_wav: str | None = None  # the assistant's speech also written here
    aec: bool | None = None  # echo cancellation; None: on when both devices are built in
    record_dir: str | None = None  # keep the session for History (both voices, the transcript)
    pause_threshold: float = 0.6  # end of turn: smoothed pause probability (STT head 2) above this
    barge_in_threshold: float = 0.4  # barge-in: smoothed pause probability below this while speaking
    silence_timeout_s: float = 1.0  # end of turn for an STT without extra heads
    push_to_talk: bool = False  # the microphone's words count only while hold_to_talk(True); release ends the turn
    tools: object | None = None  # a tools.ToolBox; None: no tools
    history: list[dict] = field(default_factory=list)  # earlier messages, to continue a conversation
    cache_dir: str | None = None
    codec_backend: str = "mlx"
