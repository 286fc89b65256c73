"""PRIVACY.md and docs/OPERATIONS.md are reachable from the README, and their links resolve."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

ROOT = REPO_ROOT
DOCS = [ROOT / "PRIVACY.md", ROOT / "docs" / "OPERATIONS.md"]
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(markdown: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    found = set()
    for line in markdown.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


def relative_links(markdown: Path) -> list[str]:
    text = re.sub(r"(?s)```.*?```", "", markdown.read_text())
    return [link for link in _LINK.findall(text) if not re.match(r"^[a-z]+:", link)]


def test_the_readme_links_the_privacy_notes_and_the_operations_guide() -> None:
    links = relative_links(ROOT / "README.md")
    assert "PRIVACY.md" in links
    assert any(link.split("#")[0] == "docs/OPERATIONS.md" for link in links)


@pytest.mark.parametrize("document", DOCS, ids=lambda path: path.name)
def test_every_relative_link_and_anchor_resolves(document: Path) -> None:
    for link in relative_links(document):
        target, _, anchor = link.partition("#")
        path = (document.parent / target).resolve() if target else document
        assert path.exists(), f"{document.name}: {link} points at no file"
        if anchor:
            assert anchor in anchors(path), f"{document.name}: {link}: no such heading"
