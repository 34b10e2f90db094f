"""Kyutai's voice repository (`kyutai/tts-voices`): names, languages, listing, download on demand.

A voice is named after the recording it was made from, relative to the repo root, e.g.
`expresso/ex03-ex01_happy_001_channel1_334s.wav` or `vctk/p225_023.wav`. Speaker-embedding models
read `<name>.<sig>@<epoch>.safetensors` (sig and epoch from the model's config.json `model_id`:
embeddings are made for one model); audio-prefix models read the recording itself. Files are
downloaded on first use into the Hugging Face cache (resumable, verified: moshi_mlx/hub.py), after
which nothing touches the network. The repo's folders tell the language: a language-code folder
(`cml-tts/fr/`), else the collection (VCTK, EARS, Expresso: English recordings).

A model folder may carry its own voices in `voices/` (same names and file layout: the demo model's
are made there), found before the repo's; its config.json `tts_config.default_voice` names the
voice used when none is asked for (default: Kyutai's scripts' default voice).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import ModelNotAvailableError
from .info import TtsInfo
from .voices import AUDIO_SUFFIXES, Voice, VoiceError, load_voice_file

VOICE_REPO = "kyutai/tts-voices"
DEFAULT_VOICE = "expresso/ex03-ex01_happy_001_channel1_334s.wav"  # Kyutai's scripts' default
# Collections whose recordings are all in one language (the others: a language folder, or "?").
COLLECTION_LANGUAGES = {"expresso": "en", "vctk": "en", "ears": "en", "unmute-prod-website": "en"}
_LANGUAGE_FOLDER = re.compile(r"^[a-z]{2}(?:[-_][A-Za-z]{2})?$")


@dataclass(frozen=True)
class VoiceEntry:
    name: str  # what --voice takes
    file: str  # its file in the repo (or in the model folder's voices/)
    language: str  # "en", "fr", ... or "?"
    installed: bool  # on this machine (cached, or the model's own)
    source: str = VOICE_REPO  # the repo, or "model" for the model folder's voices


def default_voice(model) -> str:
    """The voice of a model (LoadedModel) when none is asked for."""
    tts = model.lm.config.extra.get("tts_config") or {}
    return str(tts.get("default_voice") or DEFAULT_VOICE)


def model_voices(model) -> dict[str, Path]:
    """The model folder's own voice files (voices/), by path inside that folder."""
    folder = model.files.lm_path.parent / "voices"
    if not folder.is_dir():
        return {}
    return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if p.is_file()}


def language_of(name: str) -> str:
    parts = name.split("/")[:-1]
    for part in reversed(parts):
        if _LANGUAGE_FOLDER.match(part):
            return part.lower()
    return COLLECTION_LANGUAGES.get(parts[0], "?") if parts else "?"


def voice_file(name: str, info: TtsInfo) -> str:
    """The repo file of a voice name for this model."""
    return name + info.voice_suffix if info.multi_speaker else name


def _name_of(file: str, info: TtsInfo) -> str | None:
    if info.multi_speaker:
        return file[:-len(info.voice_suffix)] if info.voice_suffix and file.endswith(info.voice_suffix) else None
    return file if file.lower().endswith(AUDIO_SUFFIXES) else None


def cached_files(cache_dir: str | None = None, repo: str = VOICE_REPO) -> dict[str, Path]:
    """Every file of the voice repo present in the local cache (all snapshots), by repo path."""
    from ..hub import _repo_cache

    out: dict[str, Path] = {}
    snapshots = _repo_cache(repo, cache_dir) / "snapshots"
    if snapshots.is_dir():
        for snap in sorted(snapshots.iterdir()):
            for path in snap.rglob("*"):
                if path.is_file():
                    out.setdefault(path.relative_to(snap).as_posix(), path)
    return out


def list_voices(info: TtsInfo, model=None, cache_dir: str | None = None, remote: bool = True,
                repo: str = VOICE_REPO) -> list[VoiceEntry]:
    """The voices made for this model: the model folder's own, the repo's (when `remote` and
    online) and the cached ones."""
    from ..hub import is_offline

    out = [VoiceEntry(name, f, language_of(name), True, "model")
           for f in (model_voices(model) if model is not None else {})
           if (name := _name_of(f, info)) is not None]
    cached = cached_files(cache_dir, repo)
    files = set(cached)
    if remote and not is_offline():
        files |= set(_remote_files(repo))
    for f in sorted(files):
        name = _name_of(f, info)
        if name is not None:
            out.append(VoiceEntry(name, f, language_of(name), f in cached))
    return out


@dataclass(frozen=True)
class _VoiceLayout:
    multi_speaker: bool
    voice_suffix: str


def quick_voice_list(config: dict, folder: Path | None, cache_dir: str | None = None,
                     repo: str = VOICE_REPO, remote: bool = False) -> tuple[str, list[str]]:
    """(default voice, voice names) of a TTS model from its config.json and folder, without loading
    it (for a picker): the default, the folder's own voices and the repo's voices already cached
    that were made for it; with `remote`, also the repo's others (one listing request; raises
    ModelNotAvailableError when it fails). A model whose config.json has a `model_id` signature
    reads speaker embeddings, the others audio recordings."""
    default = str((config.get("tts_config") or {}).get("default_voice") or DEFAULT_VOICE)
    model_id = config.get("model_id") or {}
    sig = "sig" in model_id and "epoch" in model_id
    layout = _VoiceLayout(sig, f".{model_id['sig']}@{model_id['epoch']}.safetensors" if sig else "")
    own = folder / "voices" if folder is not None else None
    files = [p.relative_to(own).as_posix() for p in sorted(own.rglob("*")) if p.is_file()] \
        if own is not None and own.is_dir() else []
    from ..hub import is_offline

    repo_files = set(cached_files(cache_dir, repo))
    if remote and not is_offline():
        repo_files |= set(_remote_files(repo))
    names = [default]
    for f in files + sorted(repo_files):
        name = _name_of(f, layout)
        if name is not None and name not in names:
            names.append(name)
    return default, names


def _remote_files(repo: str) -> list[str]:
    from huggingface_hub import HfApi, constants

    try:
        return HfApi(endpoint=constants.ENDPOINT).list_repo_files(repo)
    except Exception as e:
        raise ModelNotAvailableError(f"cannot list the voices of {repo}: {type(e).__name__}: {e}") from None


def resolve_voice(spec: str, info: TtsInfo, model=None, cache_dir: str | None = None,
                  progress: Callable[[int, int], None] | None = None,
                  cancel: threading.Event | None = None, repo: str = VOICE_REPO) -> Voice:
    """`--voice`: a local file (voice embedding or recording), or a voice name (with or without its
    ".wav"; a bare file name when it is unique): the model folder's own voices, then the repo's,
    downloaded when missing."""
    from ..hub import NotOnHubError, download_file

    path = Path(spec).expanduser()
    if path.is_file():
        return load_voice_file(path)
    if spec.lower().endswith(".safetensors") or spec.startswith(("/", ".", "~")):
        raise VoiceError(f"voice file {spec} does not exist")
    own = model_voices(model) if model is not None else {}
    candidates = _candidates(spec, info, model, cache_dir, repo)
    for name in candidates:
        if voice_file(name, info) in own:
            return load_voice_file(own[voice_file(name, info)], name)
    for name in candidates:
        try:
            found = download_file(repo, voice_file(name, info), cache_dir, progress, cancel)
        except NotOnHubError:
            continue
        except ModelNotAvailableError as e:  # offline, or the Hub cannot be reached
            raise _not_here(spec, info, model, cache_dir, repo, e) from None
        return load_voice_file(found, name)
    raise VoiceError(f"unknown voice {spec!r}: not a file, and {repo} has no voice of that name for "
                     "this model; `python -m moshi_mlx say --list-voices` lists them")


def _candidates(spec: str, info: TtsInfo, model, cache_dir: str | None, repo: str) -> list[str]:
    names = [spec] if spec.lower().endswith(AUDIO_SUFFIXES) else [spec + ".wav", spec]
    if "/" in spec:
        return names
    # a bare name ("p225_023"): look it up among the known voices
    from ..hub import is_offline

    try:
        known = list_voices(info, model, cache_dir, remote=not is_offline(), repo=repo)
    except ModelNotAvailableError as e:  # the repo cannot be listed
        raise _not_here(spec, info, model, cache_dir, repo, e) from None
    stem = spec[:-4] if spec.lower().endswith(".wav") else spec
    matches = sorted({v.name for v in known if v.name.rsplit("/", 1)[-1] in (spec, stem + ".wav", stem)})
    if len(matches) > 1:
        raise VoiceError(f"voice {spec!r} is ambiguous: {', '.join(matches[:6])}")
    return matches or names


def _not_here(spec: str, info: TtsInfo, model, cache_dir: str | None, repo: str, why) -> VoiceError:
    """An unknown voice while `repo` cannot be reached: the voices that could be used here."""
    local = sorted(v.name for v in list_voices(info, model, cache_dir, remote=False, repo=repo))
    shown = ", ".join(local[:8]) + (", ..." if len(local) > 8 else "")
    return VoiceError(f"unknown voice {spec!r}: not a file, not one of the voices here "
                      f"({shown or 'none'}), and it cannot be looked up in {repo}: {why}")
