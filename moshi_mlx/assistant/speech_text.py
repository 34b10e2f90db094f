"""The LLM's text made ready for the TTS: whole words, as they come, cleaned for speech.

`WordChunker` regroups text deltas into whole words with their leading space (the TTS mispronounces
split words, as Unmute notes). A word is complete when whitespace follows it, or at `flush()`;
punctuation stays with its word ("Hello," not "Hello" + ","), since it shapes the prosody. Whitespace
runs (newlines included) become one space. With `clean=True` (default) each word goes through the
speech cleaning below, with the state a stream needs (inside a code block, at a line start).

`speakable(text)` cleans a whole text the same way:

    markdown           **bold**, _it_, `code`     -> bold, it, code (markers dropped)
    headers, bullets   "# Title", "- item", "2. x" at a line start -> the marker dropped
    code blocks        ```...```                  -> "code omitted."
    links              [text](https://...)        -> text
    URLs               https://www.example.com/a  -> example.com (the domain)
    emoji              😀 👍 ✨                    -> dropped
    symbols            50% -> 50 percent; & -> and; 20°C -> 20 degrees Celsius; 3 + 4 = 7 ->
                       3 plus 4 equals 7; $5 -> 5 dollars; €5 -> 5 euros; ~3 -> about 3;
                       #2 -> number 2; a@b.org -> a at b.org
    quotes             ‘ ’ “ ” -> ' "
    lone : - – — •     dropped (Unmute: " : " -> space)

Plain Python: no MLX, no Qt.
"""

from __future__ import annotations

import re

_URL = re.compile(r"(?:https?://|www\.)[^\s<>()\[\]]+", re.I)
_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "«": '"', "»": '"'})
_EMOJI = re.compile("[\U0001F000-\U0001FAFF\U00002600-\U000027BF\U0001F1E6-\U0001F1FF"
                    "\U00002B00-\U00002BFF\uFE0F\u200D\u20E3]")
_LONE = {":", "-", "–", "—", "•", "*", "|", "/", "=>", "->", "#"}
_BULLET = re.compile(r"^(?:[-*•+]|\d{1,2}[.)]|#+)$")
_CURRENCY = {"$": "dollars", "€": "euros", "£": "pounds", "¥": "yen"}
_SYMBOLS = [
    (re.compile(r"°\s*C\b"), " degrees Celsius"), (re.compile(r"°\s*F\b"), " degrees Fahrenheit"),
    (re.compile(r"°"), " degrees"), (re.compile(r"%"), " percent"), (re.compile(r"&"), " and "),
    (re.compile(r"(?<=\w)@(?=\w)"), " at "), (re.compile(r"^~(?=\d)"), "about "),
    (re.compile(r"^#(?=\d)"), "number "), (re.compile(r"^\+$"), "plus"), (re.compile(r"^=$"), "equals"),
    (re.compile(r"^×$"), "times"),
]
_TRAIL = ".,;:!?)\"'"


class WordChunker:
    """push(delta) -> the words it completes; flush() -> the last one. Each has its leading space."""

    def __init__(self, clean: bool = True):
        self.clean = clean
        self._buf = ""
        self._in_code = False
        self._line_start = True
        self._started = False  # a word was given out (later words keep their leading space)

    def push(self, delta: str) -> list[str]:
        self._buf += delta
        out: list[str] = []
        while True:
            m = re.match(r"(\s*)(\S+)(?=\s)", self._buf)
            if m is None:
                return out
            self._buf = self._buf[m.end():]
            out += self._word(m.group(1), m.group(2))

    def flush(self) -> list[str]:
        m = re.match(r"(\s*)(\S+)", self._buf)
        self._buf = ""
        return self._word(m.group(1), m.group(2)) if m else []

    def _word(self, space: str, word: str) -> list[str]:
        line_start = self._line_start or "\n" in space
        self._line_start = False
        words = [word] if not self.clean else self._clean(word, line_start)
        out = []
        for w in words:
            out.append((" " if self._started or space else "") + w)
            self._started = True
        return out

    def _clean(self, word: str, line_start: bool) -> list[str]:
        if "```" in word:
            opening = not self._in_code
            self._in_code = not self._in_code
            return ["code", "omitted."] if opening else []
        if self._in_code:
            return []
        return clean_word(word, line_start).split()


def clean_word(word: str, line_start: bool = False) -> str:
    """One word (no spaces) as it should be said; "" when it should not be said."""
    word = _EMOJI.sub("", word.translate(_QUOTES))
    if line_start and _BULLET.match(word):
        return ""
    if "](" in word:  # end of a markdown link: keep its text
        word = word.split("](", 1)[0]
    word = word.lstrip("[")
    m = _URL.search(word)
    if m:
        url = m.group(0)
        tail = url[len(url.rstrip(_TRAIL)):]
        host = re.sub(r"^(?:https?://)?(?:www\.)?", "", url.rstrip(_TRAIL), flags=re.I).split("/")[0]
        word = word[:m.start()] + host.split("?")[0] + tail + word[m.end():]
    word = word.replace("*", "").replace("`", "").strip("_")
    word = re.sub(r"(?<=\w)_(?=\w)", " ", word)
    if word in _LONE:
        return ""
    for sign, name in _CURRENCY.items():
        m = re.match(rf"^{re.escape(sign)}(\d[\d.,]*\d|\d)(.*)$", word)
        if m:
            word = f"{m.group(1)} {name}{m.group(2)}"
    for pattern, spoken in _SYMBOLS:
        word = pattern.sub(spoken, word)
    return " ".join(word.split())


def speakable(text: str) -> str:
    """A text (or one word) cleaned for speech, see the module docstring; a leading space is kept."""
    chunker = WordChunker()
    words = chunker.push(text) + chunker.flush()
    spoken = "".join(words)
    return spoken if text[:1].isspace() else spoken.lstrip()
