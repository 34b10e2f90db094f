"""Just enough Markdown for the docs tests: the pages, their fenced blocks (with the HTML comment
before each), links, anchors as GitHub makes them, and tables marked with an HTML comment."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def pages() -> list[Path]:
    """README.md and every page of docs/ (not its subfolders' files: screenshots)."""
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


@dataclass
class Block:
    page: Path
    line: int            # 1-based line of the opening fence
    lang: str
    text: str
    marker: str | None   # the HTML comment right before the fence (blank lines allowed), without <!-- -->

    @property
    def where(self) -> str:
        return f"{rel(self.page)}:{self.line}"


_FENCE = re.compile(r"^(```+|~~~+)\s*([\w+-]*)")
_COMMENT = re.compile(r"^\s*<!--\s*(.*?)\s*-->\s*$")


def blocks(page: Path) -> list[Block]:
    lines = page.read_text(encoding="utf-8").splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang, start = m.group(1), m.group(2), i
        j = i + 1
        while j < len(lines) and not lines[j].startswith(fence[:3]):
            j += 1
        k = start - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        c = _COMMENT.match(lines[k]) if k >= 0 else None
        out.append(Block(page, start + 1, lang, "\n".join(lines[start + 1:j]), c.group(1) if c else None))
        i = j + 1
    return out


def prose(page: Path) -> str:
    """The page without its fenced blocks and inline code (links inside code are not links), line
    count kept so that line numbers stay right."""
    text = page.read_text(encoding="utf-8")
    text = re.sub(r"^(```+|~~~+).*?^\1\s*$", lambda m: "\n" * m.group(0).count("\n"), text,
                  flags=re.M | re.S)
    return re.sub(r"`[^`\n]*`", "``", text)


_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the text (links and emphasis rendered), lower case, only word
    characters, hyphens and spaces kept, spaces made hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text)
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    out: set[str] = set()
    in_fence = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        m = None if in_fence else _HEADING.match(line)
        if m:
            base = slug(m.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
    out |= set(re.findall(r'<a\s+(?:name|id)="([^"]+)"', page.read_text(encoding="utf-8")))
    return out


_LINK = re.compile(r"(!?)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HTML_SRC = re.compile(r"<(?:img|a)\s[^>]*(?:src|href)=\"([^\"]+)\"")


def links(page: Path) -> list[tuple[int, str, bool]]:
    """(line, target, is_image) of every Markdown link and image and every HTML src/href."""
    out = []
    for n, line in enumerate(prose(page).splitlines(), 1):
        for m in _LINK.finditer(line):
            out.append((n, m.group(3), m.group(1) == "!"))
        for m in _HTML_SRC.finditer(line):
            out.append((n, m.group(1), line[m.start():].startswith("<img")))
    return out


def marked_tables(page: Path, key: str) -> list[tuple[int, str, str]]:
    """(line, value, table text) of every table right after an HTML comment `<!-- key: value -->`."""
    lines = page.read_text(encoding="utf-8").splitlines()
    out = []
    for i, line in enumerate(lines):
        c = _COMMENT.match(line)
        if not c or not c.group(1).startswith(key + ":"):
            continue
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        rows = []
        while j < len(lines) and lines[j].lstrip().startswith("|"):
            rows.append(lines[j])
            j += 1
        out.append((i + 1, c.group(1)[len(key) + 1:].strip(), "\n".join(rows)))
    return out
