"""Helpers for the lead-triage scenarios: file a signal, press the triage post's buttons, fill
and submit the lead modals as Slack does, and read what reached the Slack stand-in."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from bot.standin import Call, validate_blocks, validate_view
from bot.standin.sender import Reply, SlackUser
from handlers import ids
from models import OutboxItem, OutboxState, Signal, SignalEvent
from tests.conftest import ALICE, BOB, TRIAGE, RunningApp

OTHER_LEAD = SlackUser(id="ULEAD00002", name="second.lead")
NOT_A_LEAD = SlackUser(id="UMEMBER003", name="member.m")
ONLY_LEADS = "Only leads can do that"
CODE = re.compile(r"`([A-Z2-7]{4}(?:-[A-Z2-7]{4}){5,})`")


# -- commands ---------------------------------------------------------------------------------


def command(app: RunningApp, text: str, user: SlackUser = ALICE, **kw: Any) -> str:
    """Run `/ai-signal <text>`; return the private answer's text."""
    reply = app.sender.command(user=user, text=text, **kw)
    assert reply.status == 200, reply.text
    body = reply.json()
    assert body["response_type"] == "ephemeral", body
    return body["text"]


def file_named(app: RunningApp, text: str = "drift fraud-model precision fell", user=ALICE) -> str:
    answer = command(app, text, user=user)
    match = re.search(r"\bSIG-\d+\b", answer)
    assert match, answer
    return match.group(0)


def file_anonymous(app: RunningApp, text: str = "bias loan-model rejects older applicants"):
    """(ref, follow-up code) of a new anonymous signal."""
    answer = command(app, f"anon {text}", user=BOB)
    code = CODE.search(answer)
    ref = re.search(r"\bSIG-[A-Z0-9]+\b", answer)
    assert code and ref, answer
    return ref.group(0), code.group(1)


# -- the database -----------------------------------------------------------------------------


def signal(app: RunningApp, ref: str) -> Signal:
    with app.runtime.sessions() as session:
        row = session.scalar(select(Signal).where(Signal.ref == ref))
        assert row is not None, ref
        return row


def events(app: RunningApp, ref: str | None = None) -> list[SignalEvent]:
    with app.runtime.sessions() as session:
        query = select(SignalEvent).order_by(SignalEvent.created_at)
        if ref is not None:
            query = query.join(Signal, Signal.id == SignalEvent.signal_id).where(Signal.ref == ref)
        return list(session.scalars(query))


def actions(app: RunningApp, ref: str | None = None) -> list[str]:
    return [e.action for e in events(app, ref)]


def outbox(app: RunningApp) -> list[OutboxItem]:
    with app.runtime.sessions() as session:
        return list(session.scalars(select(OutboxItem)))


def settle(app: RunningApp) -> None:
    """Every listener finished and everything due delivered (`RunningApp.settle`), and Slack
    refused nothing for good."""
    app.settle()
    failed = [(i.purpose, i.last_error) for i in outbox(app) if i.state == OutboxState.FAILED.value]
    assert not failed, failed


def posted(app: RunningApp, ref: str) -> Signal:
    """Deliver the triage post of `ref` (and whatever else is due); return its row."""
    settle(app)
    row = signal(app, ref)
    assert row.triage_ts, f"{ref} was not posted"
    return row


# -- the triage post --------------------------------------------------------------------------


def parent(app: RunningApp, ref: str) -> dict[str, Any]:
    ts = signal(app, ref).triage_ts
    [message] = [m for m in app.standin.messages(TRIAGE) if m["ts"] == ts]
    return message


def thread(app: RunningApp, ref: str) -> list[str]:
    """The texts of the replies under the triage post of `ref`, in post order."""
    return [m["text"] for m in app.standin.thread(TRIAGE, signal(app, ref).triage_ts)]


def buttons(message: dict[str, Any]) -> list[str]:
    return [
        element["action_id"]
        for block in message["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def field_text(message: dict[str, Any]) -> str:
    return "\n".join(
        f["text"] for b in message["blocks"] if b["type"] == "section" for f in b.get("fields", ())
    )


def updates_of(app: RunningApp, ref: str) -> list[Call]:
    ts = signal(app, ref).triage_ts
    return [c for c in app.standin.calls_to("chat.update") if c.params.get("ts") == ts]


def press(app: RunningApp, user: SlackUser, action_id: str, ref: str) -> Reply:
    """Press a button of the triage post, with the payload Slack sends for a channel message."""
    row = signal(app, ref)
    message = (
        parent(app, ref) if row.triage_ts else {"ts": "1700000000.000001", "text": "", "blocks": []}
    )
    reply = app.sender.block_action(
        user=user,
        action_id=action_id,
        value=ref,
        block_id=ids.TRIAGE_ACTIONS_BLOCK,
        channel_id=TRIAGE,
        message={"type": "message", "ts": message["ts"], "text": message["text"]},
        container={
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": TRIAGE,
            "is_ephemeral": False,
        },
    )
    assert reply.status == 200, reply.text
    return reply


def acknowledge(app: RunningApp, user: SlackUser, ref: str) -> None:
    """Press Acknowledge; it is recorded once the listener has run (Bolt acks first)."""
    press(app, user, ids.ACKNOWLEDGE_ACTION, ref)
    app.finish_listeners()
    assert "acknowledged" in actions(app, ref), actions(app, ref)


def ephemerals_to(app: RunningApp, user: SlackUser) -> list[str]:
    return [e["text"] for e in app.standin.ephemerals() if e["user"] == user.id]


def dms_to(app: RunningApp, user: SlackUser) -> list[str]:
    return [m["text"] for m in app.standin.messages(app.standin.dm_channel_id(user.id))]


# -- modals -----------------------------------------------------------------------------------


def open_modal(app: RunningApp, user: SlackUser, action_id: str, ref: str) -> dict[str, Any]:
    """Press a button that opens a lead modal; return the view Slack stored (with its id)."""
    before = len(app.standin.calls_to("views.open"))
    press(app, user, action_id, ref)
    calls = app.standin.wait_for("views.open", before + 1)
    return calls[before].response["view"]


def state_values(view: dict[str, Any], answers: dict[str, Any]) -> dict[str, Any]:
    """Slack's view.state.values for `view`: every input block, answered from `answers`
    ({block_id: value}); unanswered inputs are sent empty, as Slack does."""
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        element = block["element"]
        kind = element["type"]
        answer = answers.get(block["block_id"])
        state: dict[str, Any] = {"type": kind}
        if kind == "plain_text_input":
            state["value"] = answer
        elif kind in ("static_select", "radio_buttons"):
            state["selected_option"] = None
            for option in element["options"]:
                if option["value"] == answer:
                    state["selected_option"] = option
            if answer is not None and state["selected_option"] is None:
                state["selected_option"] = {
                    "text": {"type": "plain_text", "text": answer},
                    "value": answer,
                }
        elif kind == "users_select":
            state["selected_user"] = answer
        elif kind == "external_select":
            # Slack sends back the option the app offered (its text and value).
            state["selected_option"] = (
                None
                if answer is None
                else {"text": {"type": "plain_text", "text": answer[:75]}, "value": answer}
            )
        elif kind == "datepicker":
            state["selected_date"] = answer
        else:
            raise AssertionError(f"no state for {kind}")
        values[block["block_id"]] = {element["action_id"]: state}
    return values


def submit(
    app: RunningApp,
    user: SlackUser,
    view: dict[str, Any],
    answers: dict[str, Any],
    *,
    view_id: str | None = None,
) -> dict[str, Any] | None:
    """Submit a modal; return the app's answer (None for an empty 200: the modal closes)."""
    reply = app.sender.view_submission(
        user=user, view=view, values=state_values(view, answers), view_id=view_id or view["id"]
    )
    assert reply.status == 200, reply.text
    return reply.json()


# -- checks -----------------------------------------------------------------------------------


def assert_slack_happy(app: RunningApp, *, allowed: Iterable[str] = ()) -> None:
    """Slack refused nothing the app sent (unless the test provoked it), every block and view
    the app sent is valid, and the app logged no traceback."""
    allowed = set(allowed)
    refused = [(c.method, c.error or c.status) for c in app.standin.calls if not c.ok]
    refused = [r for r in refused if r[1] not in allowed]
    assert not refused, refused
    for call in app.standin.calls:
        if "blocks" in call.params and call.params["blocks"]:
            assert not validate_blocks(call.params["blocks"]), call.method
        if call.method == "views.publish":
            assert not validate_view(call.params["view"], allowed_types=("home",))
        elif call.method == "views.open":
            assert not validate_view(call.params["view"], allowed_types=("modal",))
    log = app.log.getvalue()
    assert "Traceback" not in log, log[log.index("Traceback") - 500 :][:3000]


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


# -- where an identity could leak -------------------------------------------------------------


def table_counts(app: RunningApp) -> dict[str, int]:
    from sqlalchemy import func, inspect, table

    with app.runtime.engine.connect() as connection:
        names = inspect(connection).get_table_names()
        return {
            name: connection.scalar(select(func.count()).select_from(table(name))) for name in names
        }


def database_text(app: RunningApp) -> str:
    """Every row of every table as text, plus the raw SQLite files (free pages and WAL too)."""
    from pathlib import Path

    from sqlalchemy import inspect, text

    engine = app.runtime.engine
    lines: list[str] = []
    with engine.connect() as connection:
        for name in sorted(inspect(connection).get_table_names()):
            rows = connection.execute(text(f'SELECT * FROM "{name}"'))
            lines += [f"{name}: {tuple(row)}" for row in rows]
    if engine.dialect.name == "sqlite":
        main = Path(engine.url.database or "")
        for path in (main, Path(f"{main}-wal")):
            if path.exists():
                lines.append(path.read_bytes().decode("latin-1"))
    return "\n".join(lines)


def calls_text(app: RunningApp) -> str:
    return "\n".join(
        f"{c.method} {c.path} {dumps(c.params)} {c.raw_body.decode('utf-8', 'replace')} "
        f"{dumps(dict(c.headers))}"
        for c in app.standin.calls
    )


def leaks(haystacks: dict[str, str], needles: Iterable[str]) -> list[str]:
    """Which needle was found where (case-blind; also URL- and JSON-encoded forms)."""
    from urllib.parse import quote, quote_plus

    found = []
    for where, haystack in haystacks.items():
        lowered = haystack.lower()
        for needle in needles:
            forms = {needle, quote(needle, safe=""), quote_plus(needle), json.dumps(needle)[1:-1]}
            for form in forms:
                at = lowered.find(form.lower())
                if at != -1:
                    found.append(
                        f"{needle!r} in {where}: …{haystack[max(0, at - 80) : at + 80]!r}…"
                    )
                    break
    return found
