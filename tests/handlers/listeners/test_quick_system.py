"""The one-line command names the system: `/ai-signal drift fraud-model: precision fell` or
`system:fraud-model`, named and `anon`; an ordinary sentence is never misread as a system."""

from __future__ import annotations

import json

import pytest

from bot.services.signals import MAX_SYSTEM, SENTENCE_OPENERS, FiledSignal, split_system
from handlers.blocks.intake import build_help_text, build_receipt_text, build_receipt_view
from tests.conftest import ALICE, TRIAGE, signal_rows
from tests.handlers.listeners.triage.helpers import CODE


def file(app, text: str) -> str:
    reply = app.sender.command(user=ALICE, text=text)
    assert reply.status == 200, reply.text
    body = reply.json()
    assert body["response_type"] == "ephemeral", body
    return body["text"]


def system_field(post: dict) -> str:
    return next(
        f["text"]
        for b in post["blocks"]
        if b["type"] == "section"
        for f in b.get("fields", ())
        if f["text"].startswith("*System*")
    )


def test_the_first_word_with_a_colon_names_the_system(running_app):
    assert "SIG-1" in file(running_app, "drift fraud-model: precision fell to 0.78")
    [row] = signal_rows(running_app)
    assert (row.system, row.text) == ("fraud-model", "precision fell to 0.78")
    running_app.settle()
    [post] = running_app.standin.messages(TRIAGE)
    assert system_field(post) == "*System*\nfraud-model"
    assert "System*\\n—" not in json.dumps(post)


def test_system_prefix_and_the_anonymous_form(running_app):
    file(running_app, "bias system:loan-model declines more applicants over 60")
    answer = file(running_app, "anon edge-case support-bot: loops on refund questions")
    assert CODE.search(answer)
    by_kind = {row.kind: row for row in signal_rows(running_app)}
    assert (by_kind["bias"].system, by_kind["bias"].text) == (
        "loan-model",
        "declines more applicants over 60",
    )
    anonymous = by_kind["edge-case"]
    assert anonymous.anonymous and anonymous.reporter_id is None
    assert (anonymous.system, anonymous.text) == ("support-bot", "loops on refund questions")


def test_ordinary_sentences_name_no_system(running_app):
    file(running_app, "drift precision fell: see dashboard")
    file(running_app, "drift fraud-model precision fell to 0.78")
    texts = {row.text: row.system for row in signal_rows(running_app)}
    assert texts == {
        "precision fell: see dashboard": None,
        "fraud-model precision fell to 0.78": None,
    }


def test_a_system_without_text_is_refused(running_app):
    assert "text is empty" in file(running_app, "drift fraud-model:")
    assert signal_rows(running_app) == []


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("fraud-model: precision fell", ("fraud-model", "precision fell")),
        ("System:fraud-model precision fell", ("fraud-model", "precision fell")),
        ("system:fraud-model: precision fell", ("fraud-model", "precision fell")),
        ("fraud-model:\nprecision\nfell", ("fraud-model", "precision\nfell")),
        ("Betrugsmodell-ü: fällt", ("Betrugsmodell-ü", "fällt")),
        ("precision fell: see dashboard", (None, "precision fell: see dashboard")),
        (":warning: precision fell", (None, ":warning: precision fell")),
        ("https://dash.example/x precision", (None, "https://dash.example/x precision")),
        ("@alice: look at this", (None, "@alice: look at this")),
        ("a:b: precision", (None, "a:b: precision")),
        (":", (None, ":")),
        ("", (None, "")),
        ("system: fraud-model precision fell", ("fraud-model", "precision fell")),
        ("System: fraud-model: precision fell", ("fraud-model", "precision fell")),
        ("system:", (None, "system:")),
        ("system: ", (None, "system:")),
        ("Note: the model drifts", (None, "Note: the model drifts")),
        ("Re: yesterday's alert", (None, "Re: yesterday's alert")),
        ("FYI: precision fell", (None, "FYI: precision fell")),
        ("TL;DR: it drifts", (None, "TL;DR: it drifts")),
        ("update: still failing", (None, "update: still failing")),
        ("system:note precision fell", ("note", "precision fell")),
        ("notes-model: precision fell", ("notes-model", "precision fell")),
        ("x" * MAX_SYSTEM + ": fell", ("x" * MAX_SYSTEM, "fell")),
        ("x" * (MAX_SYSTEM + 1) + ": fell", (None, "x" * (MAX_SYSTEM + 1) + ": fell")),
    ],
)
def test_split_system(typed, expected):
    assert split_system(typed) == expected


@pytest.mark.parametrize("opener", sorted(SENTENCE_OPENERS))
def test_a_sentence_opener_is_never_a_system(opener):
    for typed in (f"{opener}: precision fell", f"{opener.upper()}: precision fell"):
        assert split_system(typed) == (None, typed)


def test_the_receipt_shows_the_system_it_recognised(running_app):
    assert "System: *fraud-model*" in file(running_app, "drift fraud-model: precision fell")
    anonymous = file(running_app, "anon drift system: loan-model declines older applicants")
    assert "System: *loan-model*" in anonymous and CODE.search(anonymous)
    assert "System:" not in file(running_app, "drift Note: the model drifts at night")
    by_text = {row.text: row.system for row in signal_rows(running_app)}
    assert by_text["Note: the model drifts at night"] is None


def test_the_receipt_view_shows_the_system_escaped():
    filed = FiledSignal(ref="SIG-3", anonymous=False, code=None, system="<!here>-model")
    [section] = build_receipt_view(filed)["blocks"]
    assert "System: *&lt;!here&gt;-model*" in section["text"]["text"]
    anonymous = FiledSignal(ref="SIG-A2", anonymous=True, code="ABCD", system="fraud-model")
    assert "System: *fraud-model*" in build_receipt_text(anonymous)
    assert "System:" not in build_receipt_text(FiledSignal(ref="SIG-4", anonymous=False, code=None))


def test_help_documents_the_system():
    text = build_help_text()
    assert "fraud-model: precision fell" in text and "system:" in text
    assert "Note:" in text
    assert "reply SIG-12" in text
