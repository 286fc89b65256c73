"""Guessing follow-up codes is limited per person: one person's flood of wrong codes never
refuses another person's correct code."""

from __future__ import annotations

from bot.services import codes
from bot.services.signals import GENERIC_CODE_ANSWER
from bot.standin.sender import SlackUser
from tests.handlers.listeners.triage.helpers import command, file_anonymous

MALLORY = SlackUser(id="UMALLORY01", name="mallory.m")
CAROL = SlackUser(id="UCAROL0003", name="carol.c")
TOO_MANY = "Too many follow-up codes"
LIMIT = 20


def test_a_flood_of_wrong_codes_does_not_lock_out_anyone_else(running_app):
    ref, code = file_anonymous(running_app)  # filed by BOB
    answers = [
        command(running_app, f"status {codes.new_code()}", user=MALLORY) for _ in range(LIMIT)
    ]
    assert all(GENERIC_CODE_ANSWER in a for a in answers)
    # The flooder is slowed down, for status and reply alike...
    assert TOO_MANY in command(running_app, f"status {codes.new_code()}", user=MALLORY)
    assert TOO_MANY in command(running_app, f"reply {codes.new_code()} hi", user=MALLORY)
    assert TOO_MANY in command(running_app, f"status {code}", user=MALLORY)
    # ...while the reporter reads and answers with their code, and a third person's typo gets the
    # usual answer.
    status = command(running_app, f"status {code}", user=CAROL)
    assert ref in status and TOO_MANY not in status
    assert ref in command(running_app, f"reply {code} since March", user=CAROL)
    assert GENERIC_CODE_ANSWER in command(running_app, f"status {codes.new_code()}", user=CAROL)
