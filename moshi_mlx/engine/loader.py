"""Loading a resolved model (LM, Mimi codec, tokenizer) once, for many conversations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..errors import CheckpointError, MoshiError
from ..hub import ModelFiles
from ..kinds import KINDS, import_object, kind_name


@dataclass
class LoadedModel:
    files: ModelFiles
    lm: Any  # moshi_mlx.lm.Lm
    codec: Any  # StreamingCodec: reset() before each conversation
    tokenizer: Any  # sentencepiece.SentencePieceProcessor
    codec_backend: str
    kind: str = "moshi"  # moshi_mlx.kinds: from config.json's model_type

    @property
    def num_codebooks(self) -> int:
        return self.codec.num_codebooks


def _mimi_config(files: ModelFiles):
    cfg = files.config.get("mimi_config")
    if cfg is None:
        return None
    from ..mimi import MimiConfig

    return MimiConfig.from_dict(cfg, source=f"{files.lm_path.parent / 'config.json'} \"mimi_config\"")


def load_model(files: ModelFiles, codec_backend: str = "mlx",
               progress: Callable[[str, int, int], None] | None = None, mimi_share=None) -> LoadedModel:
    """Load LM, codec and tokenizer; `progress(job, done, total)` after each of the three.
    `mimi_share`: a MimiShare, for models loaded together that may name the same Mimi weights."""
    import sentencepiece

    from ..lm import load_lm
    from ..mimi import open_codec

    from .setup import setup_class

    report = progress or (lambda job, done, total: None)
    if codec_backend not in ("mlx", "rustymimi"):
        raise CheckpointError(f"codec backend {codec_backend!r}: use 'mlx' or 'rustymimi'")
    kind = kind_name(files.config, str(files.lm_path))
    if not files.config:  # Kyutai's MoshiVis release has no config.json either: told by its keys
        from ..vis.loading import folder_config

        if folder_config(files.lm_path.parent) is not None:
            kind = "moshivis"
    try:
        report("load model", 0, 3)
        loader = import_object(KINDS[kind].lm_loader) if KINDS[kind].lm_loader else load_lm
        lm = loader(files.lm_path)  # reads config.json beside it when there is one
        if KINDS[kind].lm_fixup:  # as Kyutai's loader does (Hibiki: EOS text embedding reads as PAD)
            import_object(KINDS[kind].lm_fixup)(lm)
        report("load model", 1, 3)
        num_codebooks = setup_class(kind).codec_codebooks(lm.config)  # PersonaPlex: 8 of its 16
        codec = open_codec(files.mimi_path, backend=codec_backend, num_codebooks=num_codebooks,
                           config=_mimi_config(files), share=mimi_share)
        report("load model", 2, 3)
        tokenizer = sentencepiece.SentencePieceProcessor(model_file=str(files.tokenizer_path))
        report("load model", 3, 3)
    except (MoshiError, MemoryError):
        raise
    except Exception as e:
        raise CheckpointError(f"cannot load model {files.name} ({files.lm_path.parent}): "
                              f"{type(e).__name__}: {e}") from e
    text_card = getattr(lm.config, "text_card", None)
    if text_card is not None and tokenizer.get_piece_size() > text_card:
        raise CheckpointError(f"{files.tokenizer_path}: {tokenizer.get_piece_size()} pieces, more than "
                              f"the LM's text vocabulary ({text_card})")
    return LoadedModel(files, lm, codec, tokenizer, codec_backend, kind)
