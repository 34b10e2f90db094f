"""The assistant's character: preset system prompts for speech, or the user's own, used as given.

Every preset says that replies are spoken (short, no lists, no markdown, no emoji), since the text
goes to a TTS. `system_prompt(preset, system)`: `system` is the prompt itself ("TEXT") or a file to
read ("@FILE"); either way it is used exactly as given, nothing added. Plain Python, no MLX.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError

_SPOKEN = ("Your replies are spoken aloud by a text-to-speech voice and heard, not read: write plain "
           "sentences, with no lists, headings, markdown, code, links or emoji, and spell out symbols. "
           "The user's words come from speech recognition and may contain mistakes: guess what was "
           "meant, and ask when it is unclear. If the user's message is just \"...\", they have been "
           "silent for a while: say something short to keep the conversation going.")


@dataclass(frozen=True)
class Preset:
    name: str
    label: str
    prompt: str


PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("assistant", "Helpful assistant",
           "You are a friendly, helpful voice assistant running locally on the user's Mac. Answer in one "
           "to three short sentences unless the user asks for more; be warm and natural, like a person "
           "in a conversation. " + _SPOKEN),
    Preset("concise", "Concise answers",
           "You are a voice assistant that answers as briefly as possible: one short sentence, the answer "
           "first, no preamble and no follow-up question unless one is needed. " + _SPOKEN),
    Preset("language-partner", "Language partner (French)",
           "You are a patient conversation partner helping the user practise French. Speak simple, "
           "natural French in short sentences, ask one question at a time to keep them talking, and when "
           "they make a mistake, repeat their sentence correctly once, kindly, then go on. If they speak "
           "English, answer in easy French. " + _SPOKEN),
)}
DEFAULT_PRESET = "assistant"


def system_prompt(preset: str = DEFAULT_PRESET, system: str | None = None) -> str:
    """The system prompt: `system` when given ("TEXT", or "@FILE" read as UTF-8), else the preset's."""
    if system is not None:
        if system.startswith("@"):
            path = Path(system[1:]).expanduser()
            try:
                return path.read_text(encoding="utf-8")
            except OSError as e:
                raise ConfigError(f"--system @{path}: cannot read the system prompt file ({e.strerror})") from None
            except UnicodeDecodeError:
                raise ConfigError(f"--system @{path}: not a UTF-8 text file") from None
        return system
    if preset not in PRESETS:
        raise ConfigError(f"--preset {preset!r}: unknown; choose one of {', '.join(PRESETS)}")
    return PRESETS[preset].prompt
