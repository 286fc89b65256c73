"""The kinds live in `bot.services.vocabulary`; this name is kept so that code written against
the old module (a branch not merged yet) still imports. Delete it once nothing imports it."""

from __future__ import annotations

from bot.services.vocabulary import KIND_DESCRIPTIONS, KINDS, kinds_sentence, parse_kind

__all__ = ["KINDS", "KIND_DESCRIPTIONS", "kinds_sentence", "parse_kind"]
