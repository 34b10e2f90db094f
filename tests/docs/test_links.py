"""Every relative link and image of README.md and docs/*.md resolves: the file exists and an
#anchor names a heading of the page it points to. Screenshots that tests/app writes are shown by a
page."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest

from .markdown import REPO, anchors, links, pages, rel

EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)  # https:, mailto:, ...

ALL_LINKS = [(page, line, target, image) for page in pages() for line, target, image in links(page)]


def check(page, target):
    """None if target resolves from page, else why not."""
    path_part, _, anchor = target.partition("#")
    dest = (page.parent / unquote(path_part)).resolve() if path_part else page
    try:
        name = dest.relative_to(REPO).as_posix()
    except ValueError:
        return f"{target} leaves the repository"
    if not dest.exists():
        return f"{target}: no file {name}"
    if anchor and dest.suffix == ".md" and anchor not in anchors(dest):
        return f"{target}: no heading #{anchor} in {name}"
    return None


def test_there_are_links():
    assert len(ALL_LINKS) > 50
    assert any(image for *_, image in ALL_LINKS)


@pytest.mark.parametrize("page", pages(), ids=rel)
def test_relative_links_resolve(page):
    problems = [f"{rel(page)}:{line}: {why}" for p, line, target, _ in ALL_LINKS if p == page
                and not EXTERNAL.match(target) and (why := check(page, target))]
    assert not problems, "\n".join(problems)


def test_images_are_files():
    bad = [f"{rel(p)}:{line}: {target}" for p, line, target, image in ALL_LINKS
           if image and not EXTERNAL.match(target) and not (p.parent / target).is_file()]
    assert not bad, "\n".join(bad)


def test_every_screenshot_is_shown_by_a_page():
    """tests/app writes its screenshots to docs/screenshots under MOSHI_UPDATE_SCREENSHOTS=1 (see
    tests/app/conftest.py): each of them, and each file there, is shown or linked by some page."""
    written = set()
    for test in (REPO / "tests" / "app").glob("*.py"):
        text = test.read_text(encoding="utf-8")
        written |= set(re.findall(r'SCREENSHOTS / "(\w+\.png)"', text))
        written |= set(re.findall(r'screenshot\([^)]*"(\w+\.png)"\)', text))
    assert "conversation.png" in written
    assert 'docs" / "screenshots"' in (REPO / "tests" / "app" / "conftest.py").read_text(encoding="utf-8")
    on_disk = {p.name for p in (REPO / "docs" / "screenshots").glob("*.png")}
    shown = {(p.parent / t).resolve() for p, _, t, _ in ALL_LINKS if not EXTERNAL.match(t)}
    missing = sorted(n for n in written | on_disk if (REPO / "docs" / "screenshots" / n).resolve() not in shown)
    assert not missing, f"screenshots no page shows: {missing}"
    assert written <= on_disk, f"screenshots tests/app writes but docs/screenshots lacks: {written - on_disk}"


def test_the_checker_catches_broken_links():
    page = REPO / "docs" / "talk.md"
    assert check(page, "models.md") is None
    assert check(page, "screenshots/persona.png") is None
    assert check(page, "#personas-personaplex") is None
    assert check(page, "models.md#no-such-heading") is not None
    assert check(page, "no-such-page.md") is not None
    assert check(page, "#no-such-heading") is not None
    assert check(page, "local-api.md") is None  # pending, or merged


def test_readme_is_a_front_page_linking_every_page():
    readme = REPO / "README.md"
    assert len(readme.read_text(encoding="utf-8").splitlines()) <= 300, "README.md: at most 300 lines"
    linked = {(readme.parent / t.partition("#")[0]).resolve() for _, t, _ in links(readme) if not EXTERNAL.match(t)}
    unlinked = [rel(p) for p in pages()[1:] if p.resolve() not in linked]
    assert not unlinked, f"pages the README does not link: {unlinked}"
