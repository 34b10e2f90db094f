"""`python -m moshi_mlx voices`: list PersonaPlex voices, or make one from a recording; and the
`--voice` / `--role` options of `chat` and `run`."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_persona_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("persona (PersonaPlex models)")
    g.add_argument("--voice", default=None, metavar="NAME|FILE",
                   help="voice prompt: a voice name (see `voices`), a voice file (.safetensors or "
                        "NVIDIA's .pt) or a recording of someone speaking (.wav, 1-30 s)")
    g.add_argument("--role", default=None, metavar="TEXT|@FILE",
                   help="role prompt: who the model is and what it does, as text or @file")


def persona_options(args: argparse.Namespace) -> dict | None:
    """EngineOptions.kind_options from --voice / --role (None when neither is given)."""
    from .voices import VoiceError

    options = {}
    if args.voice:
        options["voice"] = args.voice
    if args.role:
        role = args.role
        if role.startswith("@"):
            role = _read_role(Path(role[1:]).expanduser())
        if not any(c.isalnum() for c in role):
            raise VoiceError(f"--role {args.role!r}: has no words (only symbols or emoji, which the "
                             "model's tokenizer cannot say): describe the role in words")
        options["role"] = role.strip()
    return options or None


MAX_ROLE_BYTES = 16 * 1024  # a role prompt is a few sentences, one frame (80 ms) per token


def _read_role(path: Path) -> str:
    from ..tts.text_source import TextError, text_pieces
    from .voices import VoiceError

    try:
        with open(path, "rb") as f:
            text = ""
            for piece in text_pieces(f, f"--role @{path}", limit=4096):
                text += piece
                if len(text.encode()) > MAX_ROLE_BYTES:
                    raise VoiceError(f"--role @{path}: longer than {MAX_ROLE_BYTES // 1024} KB; a role "
                                     "prompt is a few sentences")
    except TextError as e:
        raise VoiceError(str(e)) from None
    except OSError as e:
        raise VoiceError(f"--role @{path}: cannot read the role file ({e.strerror or e})") from None
    return text


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None,
                   help="a PersonaPlex model (folder, repo id or demo-personaplex): list its voices too")
    p.add_argument("--cache-dir", default=None, help="Hugging Face cache folder (default: HF's)")
    p.add_argument("--add", metavar="NAME", default=None,
                   help="make a voice named NAME from --from (saved in your voices folder)")
    p.add_argument("--from", dest="source", metavar="FILE", default=None,
                   help="the recording for --add: one person speaking, 1-30 s (5-10 s is best)")


def main(args: argparse.Namespace) -> int:
    from ..errors import MoshiError
    from .voices import list_voices, user_voice_dir

    folder = files = None
    if args.model:
        files = _personaplex_files(args.model, args.cache_dir)
        folder = Path(files.lm_path).parent
    if args.add or args.source:
        if not (args.add and args.source and files):
            raise MoshiError("--add NAME needs --from FILE and --model (its Mimi encodes the voice)")
        path = add_voice(files, args.add, args.source)
        print(f"saved voice {args.add!r}: {path}")
        return 0
    voices = list_voices(folder)
    if not voices:
        print(f"no voices (yours go to {user_voice_dir()}; `voices --model M --add NAME --from FILE.wav`)")
        return 0
    width = max(len(v.name) for v in voices)
    for v in voices:
        print(f"{v.name:<{width}}  {v.origin:<5}  {v.seconds:5.1f} s  {v.path}")
    return 0


def _personaplex_files(spec: str, cache_dir: str | None):
    from ..hub import resolve_model
    from ..kinds import check_kind

    files = resolve_model(spec, cache_dir=cache_dir, allow_download=False)
    check_kind(files.config, ("personaplex",), files.name, "`voices`")
    return files


def add_voice(files, name: str, recording: str | Path) -> Path:
    """Make a voice from a recording with the model's Mimi and save it among the user's voices
    (only the codec is loaded, not the LM)."""
    from ..lm.config import LmConfig
    from ..mimi import MimiConfig, open_codec
    from .voices import check_name, read_recording, save_voice, user_voice_dir, voice_from_audio

    from .voices import VoiceError, model_voice_dir

    target = user_voice_dir() / f"{check_name(name)}.safetensors"
    if (model_voice_dir(Path(files.lm_path).parent) / f"{name}.safetensors").exists():
        raise VoiceError(f"--add {name}: {files.name} already has a voice of that name, which yours "
                         "would hide: choose another name")
    if Path(recording).expanduser().is_dir():
        raise VoiceError(f"--from {recording}: is a folder; give a recording (a WAV, FLAC... file)")
    pcm = read_recording(recording)
    moshi = LmConfig.from_dict(files.config or {"model_type": "personaplex"}).n_q // 2
    mimi_config = files.config.get("mimi_config")
    codec = open_codec(files.mimi_path, "mlx", num_codebooks=moshi,
                       config=MimiConfig.from_dict(mimi_config) if mimi_config else None)
    voice = voice_from_audio(pcm, codec, name, moshi, source=str(Path(recording).name))
    return save_voice(voice, target)

