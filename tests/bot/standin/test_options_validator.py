"""The stand-in's check of an app's answer to a block_suggestion request, as Slack checks it:
options or option groups (not both), at most 100, plain_text texts of 75, values of 150."""

from __future__ import annotations

import pytest

from bot.standin import validate_options


def option(text: str = "fraud-model", value: str = "fraud-model") -> dict:
    return {"text": {"type": "plain_text", "text": text}, "value": value}


def test_a_good_answer_passes():
    assert validate_options({"options": [option(), option("x" * 75, "v" * 150)]}) == []
    assert validate_options({"options": []}) == []  # "no match" is a fine answer
    groups = {
        "option_groups": [{"label": {"type": "plain_text", "text": "A"}, "options": [option()]}]
    }
    assert validate_options(groups) == []


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ([], "must be an object"),
        ({}, "exactly one of options or option_groups"),
        ({"options": [], "option_groups": []}, "exactly one of options or option_groups"),
        ({"options": [option()] * 101}, "at most 100 items"),
        ({"options": [option("x" * 76)]}, "at most 75 characters"),
        ({"options": [option(value="v" * 151)]}, "at most 150 characters"),
        ({"options": [option(value="")]}, "more than 0 characters"),
        ({"options": [{"text": {"type": "mrkdwn", "text": "x"}, "value": "x"}]}, "plain_text"),
        ({"option_groups": ["x"]}, "option group object"),
    ],
)
def test_what_slack_refuses_is_named(answer, problem):
    problems = validate_options(answer)
    assert any(problem in p for p in problems), problems
