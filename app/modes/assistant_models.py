"""The Assistant's three models chosen together: what each slot may hold (demos, known models with
their sizes and whether they are downloaded, imported folders, any mlx-lm repo or folder for the
chat model), and whether the whole trio fits this Mac's memory. No Qt here: the dialog
(app/views/trio_dialog.py) shows it."""

from __future__ import annotations

from dataclasses import dataclass

from ..sysinfo import format_bytes

LLM_RUNTIME_BYTES = 800_000_000  # KV cache and activations of a chat of a few thousand tokens
TINY = 50_000_000


@dataclass(frozen=True)
class Choice:
    spec: str  # "" = none (typed turns only / text replies only)
    label: str
    size_bytes: int | None  # None: unknown (a repo or folder we know nothing about)
    runtime_bytes: int = 0
    installed: bool = True

    def text(self) -> str:
        """How the choice reads in a list: "Kyutai STT 1B (2.4 GB, downloaded)"."""
        if not self.spec:
            return self.label
        size = format_bytes(self.size_bytes) if self.size_bytes and self.size_bytes > TINY else (
            "tiny" if self.size_bytes else "size unknown")
        return f"{self.label} ({size}, {'downloaded' if self.installed else 'not downloaded'})"


class TrioChoices:
    """What each slot of `mode` (the Assistant) may hold."""

    def __init__(self, mode) -> None:
        self.mode = mode
        self.backend = mode.backend
        self.cache = mode.shell.settings.cache_dir or None

    def _installed(self, spec: str) -> bool:
        try:
            return self.backend.is_installed(spec, self.cache)
        except Exception:  # noqa: BLE001 - a damaged cache reads as not downloaded
            return False

    def slot(self, kind: str) -> list[Choice]:
        """Choices for "stt" or "tts": none, the demo, the known models, imported folders."""
        from moshi_mlx.kinds import KINDS

        none = Choice("", "None: typed turns only" if kind == "stt" else "None: text replies only", 0)
        choices = [none, Choice(KINDS[kind].demo, f"Demo {KINDS[kind].label} (random weights)", 1)]
        for known in self.backend.known_models():
            if known.kind == kind:
                choices.append(Choice(known.repo_id, known.label, known.size_bytes, known.runtime_bytes,
                                      self._installed(known.repo_id)))
        for folder in self.mode.shell.settings.local_models:
            try:
                if self.backend.model_kind(folder) == kind:
                    choices.append(Choice(folder, folder, None, 0, True))
            except Exception:  # noqa: BLE001 - unreadable folders are not offered
                continue
        return choices

    def chat_models(self) -> list[Choice]:
        choices = [Choice("demo-llm", "Demo chat model (random weights)", 1)]
        for repo, label, size in self.backend.chat_models():
            choices.append(Choice(repo, label, size, LLM_RUNTIME_BYTES, self._installed(repo)))
        return choices

    def find(self, choices: list[Choice], spec: str) -> Choice:
        """The choice of `spec`, or one made for it (any repo or folder)."""
        found = next((c for c in choices if c.spec == spec), None)
        if found is not None:
            return found
        from pathlib import Path

        local = Path(spec).expanduser().exists()
        return Choice(spec, spec, None, LLM_RUNTIME_BYTES, local or self._installed(spec))

    def fit(self, picked: list[Choice], total_memory: int | None) -> tuple[str, str]:
        """('ok'|'tight'|'too_big', a sentence) for the three together (hub.recommend's rule)."""
        from moshi_mlx.known_models import KnownModel

        unknown = [c.label for c in picked if c.spec and c.size_bytes is None]
        size = sum(c.size_bytes or 0 for c in picked if c.spec)
        runtime = sum(c.runtime_bytes for c in picked if c.spec)
        trio = KnownModel("trio", "The three models", "-", 16, size, (), "stt", runtime)
        level, sentence = self.backend.recommend(trio, total_memory)
        if unknown:
            sentence += f" (without {', '.join(unknown)}, whose size is unknown)"
        return level, "All three: " + sentence
