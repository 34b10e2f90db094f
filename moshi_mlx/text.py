"""Turning Moshi's text tokens into text as they come (sentencepiece pieces, padding hidden)."""

from __future__ import annotations

import os

PAD_IDS = (0, 3)  # EPAD = 0, PAD = 3 (Moshi's text stream padding): never shown


class Detokenizer:
    """Streaming detokenizer: `push(token) -> str` returns the text to append (a word-initial piece
    comes with its leading space; byte pieces are held until they form a whole UTF-8 character)."""

    def __init__(self, tokenizer_or_path):
        if isinstance(tokenizer_or_path, (str, os.PathLike)):
            import sentencepiece

            tokenizer_or_path = sentencepiece.SentencePieceProcessor(model_file=str(tokenizer_or_path))
        self.sp = tokenizer_or_path
        self._bytes = bytearray()

    def reset(self) -> None:
        self._bytes.clear()

    def push(self, token: int) -> str:
        if token in PAD_IDS or token < 0 or token >= self.sp.get_piece_size():
            return ""
        if self.sp.is_control(token) or self.sp.is_unknown(token):
            return ""
        piece = self.sp.id_to_piece(token)
        if self.sp.is_byte(token):  # "<0xE2>"
            self._bytes.append(int(piece[3:5], 16))
            try:
                text = self._bytes.decode("utf-8")
            except UnicodeDecodeError:
                return "" if len(self._bytes) < 4 else self._flush_bytes()
            self._bytes.clear()
            return text
        prefix = self._flush_bytes() if self._bytes else ""
        return prefix + piece.replace("\u2581", " ")

    def _flush_bytes(self) -> str:
        text = self._bytes.decode("utf-8", errors="replace")
        self._bytes.clear()
        return text
