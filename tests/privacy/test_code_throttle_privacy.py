"""Canary test: a flood of wrong follow-up codes by one person leaves no trace of that person.

The throttle knows a requester only by a keyed hash of their user id, in memory. Neither the id
nor that hash may reach the database, the log (DEBUG included) or anything sent to Slack.
"""

from __future__ import annotations

from bot.services import codes
from tests.privacy.canaries import (
    CANARY_USER_ID,
    assert_no_leaks,
    database_leaks,
    file_anonymous,
    find_in,
    triage_post,
)


def test_a_flood_of_wrong_codes_leaves_no_trace(running_app, canaries, database_url):
    ref, code, _ = file_anonymous(canaries)
    triage_post(canaries, ref)
    answers = []
    for n in range(25):
        wrong = canaries.remember_code(codes.new_code())
        verb = "status" if n % 2 else "reply"
        reply = canaries.command(f"{verb} {wrong}" + (" more detail" if verb == "reply" else ""))
        assert reply.status == 200
        answers.append(reply.json()["text"])
    assert "Too many follow-up codes" in answers[-1]
    assert "Too many follow-up codes" in canaries.command(f"status {code}").json()["text"]

    assert_no_leaks(canaries.all_leaks(database_url))
    # Nor the throttle's own key for the canary, in any form.
    key = running_app.runtime.services.triage._throttle.key(CANARY_USER_ID)
    key_forms = [key.hex(), key.hex().upper()]
    assert_no_leaks(
        database_leaks(database_url, key_forms)
        + find_in(running_app.log.getvalue(), key_forms, "log")
        + canaries.outbound_leaks()
    )
    assert not [c for c in running_app.standin.calls if key.hex() in str(c.params)]
