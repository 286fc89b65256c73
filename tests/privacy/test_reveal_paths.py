"""Canary tests for the identity choice and `/ai-signal reveal`: a reporter who did not confirm
a reveal (a wrong code, a confirmation left unanswered or submitted by someone else, `anon`
opening the form) leaves no trace — in the database files, the DEBUG log or anything sent to
"Slack". Only the reporter's own confirmation puts their name to the signal."""

from __future__ import annotations

import json

from bot.services import codes
from bot.services.signals import GENERIC_CODE_ANSWER
from handlers import ids
from tests.conftest import ALICE
from tests.privacy.canaries import (
    CANARY_USER,
    CANARY_USER_ID,
    Canaries,
    assert_no_leaks,
    file_anonymous,
    modal_values,
    receipt,
    triage_post,
)
from tests.privacy.test_anonymous_paths import (
    assert_coarse_anonymous_row,
    assert_receipt_only_in_http_response,
    assert_reply_clean,
    signals,
)


def ask_to_reveal(canaries: Canaries, code: str) -> dict:
    """`/ai-signal reveal <code>` with a trigger Slack issued; the confirmation it opened."""
    before = len(canaries.standin.calls_to("views.open"))
    reply = canaries.command(f"reveal {code}", sender=canaries.modal_sender)
    assert reply.status == 200, reply.text
    assert_reply_clean(canaries, reply)
    [opened] = canaries.standin.wait_for("views.open", before + 1)[before:]
    assert opened.params["trigger_id"] in canaries.modal_triggers
    view = opened.response["view"]
    assert view["callback_id"] == ids.REVEAL_MODAL
    return view


def test_anon_alone_opens_the_anonymous_form(running_app, canaries, database_url):
    reply = canaries.command("anon", sender=canaries.modal_sender)
    assert reply.status == 200 and not reply.body
    [opened] = canaries.standin.wait_for("views.open")
    assert opened.params["trigger_id"] in canaries.modal_triggers
    view = opened.response["view"]
    [identity] = [b for b in view["blocks"] if b.get("block_id") == ids.IDENTITY_BLOCK]
    assert identity["element"]["initial_option"]["value"] == ids.IDENTITY_ANONYMOUS

    submitted = canaries.sender.view_submission(user=CANARY_USER, view=view, values=modal_values())
    ref, code = receipt(submitted.json())
    canaries.remember_code(code)
    assert "/ai-signal reveal" in json.dumps(submitted.json())  # the receipt mentions it
    triage_post(canaries, ref)
    (row,) = signals(database_url)
    assert_coarse_anonymous_row(row, code)
    assert_receipt_only_in_http_response(canaries)
    assert_reply_clean(canaries, submitted)
    assert_no_leaks(canaries.all_leaks(database_url))


def test_form_without_a_choice_keeps_nothing(running_app, canaries, database_url):
    reply = canaries.command("", sender=canaries.modal_sender)
    assert reply.status == 200
    view = canaries.standin.wait_for("views.open")[-1].response["view"]
    values = modal_values()
    values[ids.IDENTITY_BLOCK][ids.IDENTITY_INPUT]["selected_option"] = None
    refused = canaries.sender.view_submission(user=CANARY_USER, view=view, values=values)
    assert list(refused.json()["errors"]) == [ids.IDENTITY_BLOCK]
    assert signals(database_url) == []
    assert_reply_clean(canaries, refused)
    assert_receipt_only_in_http_response(canaries)
    assert_no_leaks(canaries.all_leaks(database_url))


def test_wrong_code_reveal_leaves_no_trace(running_app, canaries, database_url):
    ref, code, _ = file_anonymous(canaries, "anon bias loan-model rejects older applicants")
    triage_post(canaries, ref)
    answers = set()
    for wrong in (codes.new_code(), code[:-1] + ("A" if code[-1] != "A" else "B"), "NOPE"):
        canaries.remember_code(wrong)
        reply = canaries.command(f"reveal {wrong}")
        assert reply.status == 200 and reply.json()["response_type"] == "ephemeral"
        assert_reply_clean(canaries, reply)
        answers.add(reply.json()["text"])
    assert len(answers) == 1 and GENERIC_CODE_ANSWER in answers.pop()
    assert canaries.standin.calls_to("views.open") == []  # no confirmation was offered

    (row,) = signals(database_url)
    assert_coarse_anonymous_row(row, code)
    assert_receipt_only_in_http_response(canaries)
    assert_no_leaks(canaries.all_leaks(database_url))


def test_unconfirmed_reveal_leaves_no_trace(running_app, canaries, database_url):
    ref, code, _ = file_anonymous(canaries, "anon governance no model card for the scorer")
    triage_post(canaries, ref)

    # Offered, then closed ("Stay anonymous" sends Slack nothing to pass on).
    view = ask_to_reveal(canaries, code)
    text = json.dumps(view)
    assert ref in text and "cannot be undone" in text

    # The confirmation submitted by somebody else: refused, and nothing of either is kept.
    other = canaries.sender.view_submission(user=ALICE, view=view, values={})
    assert "Nothing changed" in other.text
    # A confirmation with a token that was tampered with, by the reporter.
    forged = {**view, "private_metadata": view["private_metadata"][:-6] + "000000"}
    tampered = canaries.sender.view_submission(user=CANARY_USER, view=forged, values={})
    assert "Nothing changed" in tampered.text
    assert_reply_clean(canaries, other, tampered)

    # The code still works: the signal is as anonymous as before.
    assert ref in canaries.command(f"status {code}").json()["text"]
    (row,) = signals(database_url)
    assert_coarse_anonymous_row(row, code)
    assert canaries.standin.calls_to("chat.update") == []
    assert_receipt_only_in_http_response(canaries)
    assert_no_leaks(canaries.all_leaks(database_url))


def test_a_confirmed_reveal_is_found_by_the_same_searches(running_app, canaries, database_url):
    """The control: once the reporter confirms, their id is where a named reporter's is."""
    ref, code, _ = file_anonymous(canaries, "anon drift pricing-model overshoots")
    triage_post(canaries, ref)
    view = ask_to_reveal(canaries, code)
    assert not canaries.all_leaks(database_url)
    done = canaries.sender.view_submission(user=CANARY_USER, view=view, values={})
    assert ref in done.text and "Nothing changed" not in done.text
    running_app.settle()
    assert any(CANARY_USER_ID in json.dumps(c.params) for c in canaries.standin.calls)
    leaks = canaries.database_leaks(database_url)
    assert any(leak.needle == CANARY_USER_ID for leak in leaks), leaks
    (row,) = signals(database_url)
    assert (row.anonymous, row.reporter_id, row.followup_hash) == (False, CANARY_USER_ID, None)
