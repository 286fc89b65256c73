"""Signal kinds and their forgiving aliases (PRODUCT.md, Signal kinds)."""

from __future__ import annotations

import pytest

from bot.services.vocabulary import KIND_DESCRIPTIONS, KINDS, kinds_sentence, parse_kind


def test_every_product_kind_exists():
    assert set(KINDS) == {
        "drift",
        "bias",
        "edge-case",
        "data-quality",
        "problem-fit",
        "adoption",
        "governance",
        "other",
    }
    assert set(KIND_DESCRIPTIONS) == set(KINDS)


@pytest.mark.parametrize("kind", list(KINDS))
def test_canonical_names(kind):
    assert parse_kind(kind) == kind
    assert parse_kind(kind.upper()) == kind
    assert parse_kind(f"  {kind} ") == kind


@pytest.mark.parametrize(
    "alias, kind",
    [
        ("edge", "edge-case"),
        ("edgecase", "edge-case"),
        ("Edge_Case", "edge-case"),
        ("data", "data-quality"),
        ("DQ", "data-quality"),
        ("fairness", "bias"),
        ("FAIRNESS", "bias"),
        ("fit", "problem-fit"),
        ("compliance", "governance"),
        ("explainability", "governance"),
        ("workaround", "adoption"),
        ("misc", "other"),
    ],
)
def test_aliases(alias, kind):
    assert parse_kind(alias) == kind


@pytest.mark.parametrize("word", ["", "foo", "anon", "status", "help", "drifts-a-lot", "edge case"])
def test_unknown(word):
    assert parse_kind(word) is None


def test_kinds_sentence_names_all():
    sentence = kinds_sentence()
    for kind in KINDS:
        assert f"`{kind}`" in sentence
