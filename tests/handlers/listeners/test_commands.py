"""/ai-signal sub-commands, sent signed and form-encoded exactly as Slack does."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

from bot.services.signals import GENERIC_CODE_ANSWER
from bot.services.vocabulary import KINDS
from handlers import ids
from models import OutboxItem, Signal
from tests.conftest import ALICE, BOB, TRIAGE, count_rows, followup_code, signal_rows


def command(app, text: str, user=ALICE):
    reply = app.sender.command(user=user, text=text)
    assert reply.status == 200, reply.text
    return reply


def private_text(reply) -> str:
    body = reply.json()
    assert body["response_type"] == "ephemeral", body
    return body["text"]


def triage_posts(app) -> list[dict]:
    return app.standin.messages(TRIAGE)


def assert_nothing_filed_then_next_one_is_the_only_post(app) -> None:
    """Nothing was stored; and the next valid signal is the only post the channel ever gets."""
    assert count_rows(app, Signal) == 0
    assert count_rows(app, OutboxItem) == 0
    private_text(command(app, "other probe signal"))
    app.settle()
    app.standin.wait_for("chat.postMessage")
    assert len(app.standin.calls_to("chat.postMessage", include_errors=True)) == 1
    assert "probe signal" in json.dumps(triage_posts(app)[0])


def test_help_is_private(running_app):
    text = private_text(command(running_app, "help"))
    assert "/ai-signal" in text
    assert "anon" in text
    for kind in KINDS:
        assert kind in text
    assert running_app.standin.calls_to("chat.postMessage", include_errors=True) == []
    assert count_rows(running_app, Signal) == 0


def test_named_signal_filed_and_posted(running_app):
    text = private_text(command(running_app, "drift fraud-model precision fell to 0.78"))
    assert "SIG-1" in text
    [row] = signal_rows(running_app)
    assert row.ref == "SIG-1"
    assert row.kind == "drift"
    assert row.text == "fraud-model precision fell to 0.78"
    assert row.anonymous is False
    assert row.reporter_id == ALICE.id

    running_app.settle()
    call = running_app.standin.wait_for("chat.postMessage")[0]
    assert call.params["channel"] == TRIAGE
    [post] = triage_posts(running_app)
    dumped = json.dumps(post)
    assert "SIG-1" in dumped
    assert f"<@{ALICE.id}>" in dumped
    assert KINDS["drift"] in dumped
    assert "fraud-model precision fell to 0.78" in dumped
    assert "New" in dumped  # the status
    buttons = [e for b in post["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert ids.ACKNOWLEDGE_ACTION in [b["action_id"] for b in buttons]


def test_refs_count_up(running_app):
    assert "SIG-1" in private_text(command(running_app, "drift one"))
    assert "SIG-2" in private_text(command(running_app, "bias two", user=BOB))
    running_app.settle()
    running_app.standin.wait_for("chat.postMessage", 2)


def test_anonymous_signal(running_app):
    text = private_text(command(running_app, "anon bias loan-model rejects older applicants"))
    code = followup_code(text)
    assert "anonymous" in text.lower()
    [row] = signal_rows(running_app)
    assert row.anonymous is True
    assert row.reporter_id is None
    assert row.kind == "bias"
    assert row.text == "loan-model rejects older applicants"
    assert row.followup_hash and code not in row.followup_hash
    assert row.ref in text

    running_app.settle()
    running_app.standin.wait_for("chat.postMessage")
    [post] = triage_posts(running_app)
    dumped = json.dumps(post)
    assert "Anonymous" in dumped
    assert ALICE.id not in dumped and ALICE.name not in dumped
    assert code not in dumped
    assert "loan-model rejects older applicants" in dumped


def test_anonymous_word_variants(running_app):
    text = private_text(command(running_app, "anonymous drift scores drift upward"))
    followup_code(text)
    assert signal_rows(running_app)[0].anonymous is True


def test_kind_alias(running_app):
    private_text(command(running_app, "edge chatbot fails on empty input"))
    private_text(command(running_app, "anon fairness skewed outcomes"))
    rows = {r.text: r for r in signal_rows(running_app)}
    assert rows["chatbot fails on empty input"].kind == "edge-case"
    assert rows["skewed outcomes"].kind == "bias"
    running_app.settle()
    running_app.standin.wait_for("chat.postMessage", 2)
    assert KINDS["edge-case"] in json.dumps(triage_posts(running_app))


def test_unknown_kind_after_anon(running_app):
    text = private_text(command(running_app, "anon foo the model is odd"))
    assert text.startswith(":warning:")
    assert "foo" in text and "drift" in text  # says which kinds exist
    assert "Traceback" not in text
    assert_nothing_filed_then_next_one_is_the_only_post(running_app)


def test_kind_without_text(running_app):
    for typed in ("drift", "drift   ", "anon bias"):  # `anon` alone opens the form
        text = private_text(command(running_app, typed))
        assert text.startswith(":warning:"), (typed, text)
    assert_nothing_filed_then_next_one_is_the_only_post(running_app)


def test_text_too_long(running_app):
    text = private_text(command(running_app, "drift " + "x" * 3001))
    assert text.startswith(":warning:")
    assert "3,000" in text
    assert_nothing_filed_then_next_one_is_the_only_post(running_app)


def test_text_of_exactly_the_limit_is_filed(running_app):
    private_text(command(running_app, "drift " + "y" * 3000))
    running_app.settle()
    running_app.standin.wait_for("chat.postMessage")
    assert len(signal_rows(running_app)[0].text) == 3000


def test_no_text_opens_the_modal(running_app):
    fields = running_app.sender.command_fields(user=ALICE, text="", channel_id="CGENERAL01")
    reply = running_app.sender.post_form(fields)
    assert reply.status == 200
    call = running_app.standin.wait_for("views.open")[0]
    assert call.params["trigger_id"] == fields["trigger_id"]
    view = call.params["view"]
    assert view["callback_id"] == ids.SIGNAL_MODAL
    kind_block = next(b for b in view["blocks"] if b.get("block_id") == ids.KIND_BLOCK)
    assert [o["value"] for o in kind_block["element"]["options"]] == list(KINDS)
    assert count_rows(running_app, Signal) == 0


def test_other_text_opens_prefilled_modal(running_app):
    command(running_app, "fraud model &amp; &lt;scores&gt; look odd")
    view = running_app.standin.wait_for("views.open")[0].params["view"]
    text_block = next(b for b in view["blocks"] if b.get("block_id") == ids.TEXT_BLOCK)
    # Slack sent it entity-escaped; the form shows what the person typed.
    assert text_block["element"]["initial_value"] == "fraud model & <scores> look odd"
    assert count_rows(running_app, Signal) == 0


def _modal_failure_message(app) -> str:
    call = app.standin.wait_for("response_url")[0]
    assert call.params.get("response_type") == "ephemeral"
    text = call.params["text"]
    assert "/ai-signal" in text
    assert "Traceback" not in text and "Error" not in text
    assert "Traceback" not in app.log.getvalue()
    assert count_rows(app, Signal) == 0
    return text


def test_expired_trigger_answers_through_response_url(running_app):
    running_app.standin.trigger_ttl = 0.0  # every trigger has expired by the time it is used
    command(running_app, "")
    _modal_failure_message(running_app)
    [failed] = running_app.standin.calls_to("views.open", include_errors=True)
    assert failed.error == "expired_trigger_id"


def test_unknown_trigger_answers_through_response_url(running_app):
    fields = running_app.sender.command_fields(user=ALICE, text="", channel_id="CGENERAL01")
    fields["trigger_id"] = "12345.67890.never-issued"
    assert running_app.sender.post_form(fields).status == 200
    _modal_failure_message(running_app)


def test_status_of_own_named_signal(running_app):
    private_text(command(running_app, "drift fraud-model precision fell"))
    text = private_text(command(running_app, "status SIG-1"))
    assert "SIG-1" in text
    assert "fraud-model precision fell" in text
    assert "New" in text
    assert "fraud-model" in private_text(command(running_app, "status sig-1"))


def test_status_of_someone_elses_signal_is_not_found(running_app):
    private_text(command(running_app, "drift secret details of alice"))
    text = private_text(command(running_app, "status SIG-1", user=BOB))
    assert text.startswith(":warning:")
    assert "secret details" not in text
    assert "SIG-1" in text
    # An anonymous signal's ref does not work either, not even for its reporter.
    receipt = private_text(command(running_app, "anon bias hidden words"))
    anon_ref = next(r.ref for r in signal_rows(running_app) if r.anonymous)
    assert anon_ref in receipt
    text = private_text(command(running_app, f"status {anon_ref}"))
    assert "hidden words" not in text


def test_status_with_followup_code(running_app):
    code = followup_code(private_text(command(running_app, "anon data labels are stale")))
    [row] = signal_rows(running_app)
    for typed in (code, code.lower(), code.replace("-", "")):
        # Anyone holding the code may read it (the code is the only link back).
        text = private_text(command(running_app, f"status {typed}", user=BOB))
        assert row.ref in text, typed
        assert KINDS["data-quality"] in text
        assert GENERIC_CODE_ANSWER not in text
        assert ALICE.id not in text


def test_wrong_codes_get_one_generic_answer(running_app):
    code = followup_code(private_text(command(running_app, "anon data labels are stale")))
    wrong_one = ("A" if code[0] != "A" else "B") + code[1:]
    wrong_two = "ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ"
    answers = [private_text(command(running_app, f"status {c}")) for c in (wrong_one, wrong_two)]
    assert answers[0] == answers[1]
    assert GENERIC_CODE_ANSWER in answers[0]
    assert "stale" not in answers[0]
    assert private_text(command(running_app, "status nonsense")) == answers[0]


def test_status_without_argument_explains(running_app):
    text = private_text(command(running_app, "status"))
    assert "status SIG-" in text


def test_replayed_command_files_one_signal(running_app):
    fields = running_app.sender.command_fields(
        user=ALICE, text="drift replayed once", channel_id="CGENERAL01"
    )
    body = urlencode(fields).encode()
    first = running_app.sender.post(
        body, content_type="application/x-www-form-urlencoded", timestamp=1
    )
    assert first.status == 401  # sanity: the timestamp is checked
    ts = int(time.time())
    replies = [
        running_app.sender.post(
            body, content_type="application/x-www-form-urlencoded", timestamp=ts
        )
        for _ in range(2)
    ]
    assert [r.status for r in replies] == [200, 200]
    assert "SIG-1" in private_text(replies[0])
    assert "already" in private_text(replies[1])
    running_app.settle()
    running_app.standin.wait_for("chat.postMessage")
    assert count_rows(running_app, Signal) == 1
    assert count_rows(running_app, OutboxItem) == 1


def test_concurrent_commands_are_all_filed_with_distinct_refs(running_app):
    """The server handles requests in parallel; refs stay unique and every signal is posted."""
    from concurrent.futures import ThreadPoolExecutor

    def one(i: int) -> str:
        return private_text(command(running_app, f"drift parallel report {i}"))

    with ThreadPoolExecutor(12) as pool:
        receipts = list(pool.map(one, range(12)))
    refs = sorted(r.ref for r in signal_rows(running_app))
    assert refs == sorted(f"SIG-{n}" for n in range(1, 13))
    for ref in refs:
        assert sum(f"*{ref}*" in receipt for receipt in receipts) == 1
    running_app.settle()
    running_app.standin.wait_for("chat.postMessage", 12, timeout=10)
    headers = sorted(
        post["blocks"][0]["text"]["text"].split(" ")[0] for post in triage_posts(running_app)
    )
    assert headers == refs  # each signal posted once
