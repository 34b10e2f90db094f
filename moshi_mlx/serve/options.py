"""What a server serves and how: its models (the conversation model of `/api/chat`, and the speech
to text and text to speech models of the OpenAI-compatible `/v1` endpoints), its address and its
limits."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..engine.core import Sampling
from ..engine.options_cli import DEFAULT_MODEL


@dataclass
class ServeOptions:
    model: str | None = DEFAULT_MODEL  # /api/chat: local folder, HF repo id, or "demo"; None: none
    host: str = "127.0.0.1"
    port: int = 8998  # 0: any free port (see ChatServer.port)
    token: str | None = None  # required unless host is a loopback address
    ssl_dir: str | None = None  # folder with cert.pem and key.pem
    static_dir: str | None = None  # e.g. Kyutai's web UI (its built `dist` folder)
    cache_dir: str | None = None
    codec_backend: str = "mlx"
    sampling: Sampling = field(default_factory=Sampling)  # defaults; the URL may override
    max_lag_frames: int = 3
    voice: str | None = None  # PersonaPlex: the persona of every conversation (see persona.py);
    role: str | None = None  # a client's URL may ask for another one
    image: str | None = None  # MoshiVis: the picture every conversation is about (see serve/vis.py)
    stt: str | None = None  # /v1/audio/transcriptions: a speech to text model (e.g. "demo-stt")
    tts: str | None = None  # /v1/audio/speech: a text to speech model (e.g. "demo-tts")
    tts_voice: str | None = None  # the speech endpoint's default voice (None: the model's)
    llm: str | None = None  # the assistant (/v1/realtime, and /api/chat without --model): mlx-lm model
    api_queue: int = 4  # requests that may wait for a model's turn; more get 429
    max_upload_mb: float = 25.0  # an audio file sent for transcription (OpenAI's limit too)
    max_speech_chars: int = 4096  # the text of one speech request (OpenAI's limit too)

    @property
    def persona(self) -> dict:
        """The server's own persona as kind options (empty: the model's defaults)."""
        return {k: v for k, v in (("voice", self.voice), ("role", self.role)) if v}

    @property
    def kind_options(self) -> dict:
        """The conversation model's kind options: the persona (PersonaPlex) or the image (MoshiVis)."""
        return self.persona | ({"image": self.image} if self.image else {})

    @property
    def model_names(self) -> list[str]:
        return [m for m in (self.model, self.stt, self.tts, self.llm) if m]
