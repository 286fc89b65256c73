"""render_blocks: Block Kit as readable plain text."""

from __future__ import annotations

from bot.standin import render_blocks, render_view
from bot.standin.render import DIVIDER, render_mrkdwn


def plain(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def test_empty() -> None:
    assert render_blocks([]) == ""
    assert render_blocks(None) == ""


def test_header_section_divider() -> None:
    text = render_blocks(
        [
            {"type": "header", "text": plain("New report")},
            {"type": "section", "text": mrkdwn("*Severity:* high")},
            {"type": "divider"},
        ]
    )
    assert text.splitlines() == ["NEW REPORT", "==========", "*Severity:* high", DIVIDER]


def test_section_fields_and_accessory() -> None:
    block = {
        "type": "section",
        "text": mrkdwn("Report #7"),
        "fields": [mrkdwn("*Model*\nGPT"), mrkdwn("*Area*\nHR")],
        "accessory": {
            "type": "button",
            "text": plain("Open"),
            "action_id": "open",
        },
    }
    assert render_blocks([block]).splitlines() == [
        "Report #7  [Open]",
        "  *Model*",
        "  GPT",
        "  *Area*",
        "  HR",
    ]


def test_context_joined_with_dots() -> None:
    block = {
        "type": "context",
        "elements": [
            mrkdwn("Anonymous"),
            {"type": "image", "image_url": "https://x/i.png", "alt_text": "shield"},
            plain("2 min ago"),
        ],
    }
    assert render_blocks([block]) == "Anonymous · [image: shield] · 2 min ago"


def test_actions_as_buttons() -> None:
    block = {
        "type": "actions",
        "elements": [
            {"type": "button", "text": plain("Acknowledge"), "action_id": "a", "style": "primary"},
            {"type": "button", "text": plain("Dismiss"), "action_id": "b"},
            {
                "type": "static_select",
                "action_id": "c",
                "placeholder": plain("Assign to"),
                "options": [{"text": plain("Ana"), "value": "ana"}],
            },
        ],
    }
    assert render_blocks([block]) == "[Acknowledge](primary) [Dismiss] [Assign to v]"


def test_input_blocks() -> None:
    blocks = [
        {
            "type": "input",
            "label": plain("What happened?"),
            "element": {
                "type": "plain_text_input",
                "action_id": "what",
                "multiline": True,
                "placeholder": plain("Describe it"),
            },
            "hint": plain("No names needed"),
        },
        {
            "type": "input",
            "optional": True,
            "label": plain("Severity"),
            "element": {
                "type": "radio_buttons",
                "action_id": "sev",
                "initial_option": {"text": plain("Low"), "value": "low"},
                "options": [
                    {"text": plain("Low"), "value": "low"},
                    {"text": plain("High"), "value": "high"},
                ],
            },
        },
        {
            "type": "input",
            "label": plain("Title"),
            "element": {"type": "plain_text_input", "action_id": "t", "initial_value": "Bias"},
        },
    ]
    assert render_blocks(blocks).splitlines() == [
        "What happened?: <Describe it (multiline)>",
        "  (No names needed)",
        "Severity (optional): <(o) Low ( ) High>",
        "Title: <Bias>",
    ]


def test_image_block() -> None:
    block = {"type": "image", "image_url": "https://x/y.png", "alt_text": "chart"}
    assert render_blocks([block]) == "[image: chart]"


def test_rich_text() -> None:
    block = {
        "type": "rich_text",
        "elements": [
            {
                "type": "rich_text_section",
                "elements": [
                    {"type": "text", "text": "Hi "},
                    {"type": "user", "user_id": "U1"},
                    {"type": "text", "text": " see ", "style": {"bold": False}},
                    {"type": "link", "url": "https://x.test", "text": "docs"},
                    {"type": "emoji", "name": "eyes"},
                ],
            },
            {
                "type": "rich_text_list",
                "style": "ordered",
                "elements": [
                    {"type": "rich_text_section", "elements": [{"type": "text", "text": "one"}]},
                    {"type": "rich_text_section", "elements": [{"type": "text", "text": "two"}]},
                ],
            },
            {"type": "rich_text_quote", "elements": [{"type": "text", "text": "quoted"}]},
            {
                "type": "rich_text_preformatted",
                "elements": [{"type": "text", "text": "code"}],
            },
        ],
    }
    assert render_blocks([block]).splitlines() == [
        "Hi @U1 see docs (https://x.test):eyes:",
        "1. one",
        "2. two",
        "> quoted",
        "```",
        "code",
        "```",
    ]


def test_mrkdwn_markup_is_made_readable() -> None:
    raw = (
        "<@U1> &amp; <!here> in <#C1|ai-triage>: <https://x.test|link> "
        "<!subteam^S1|@oncall> &lt;b&gt;"
    )
    assert render_mrkdwn(raw) == "@U1 & @here in #ai-triage: link (https://x.test) @oncall <b>"
    # plain_text is shown verbatim
    assert render_blocks([{"type": "section", "text": plain("<@U1>")}]) == "<@U1>"


def test_unknown_and_malformed_blocks_do_not_crash() -> None:
    assert render_blocks([{"type": "table"}, "junk", {"type": "section"}]) == "[table]"


def test_render_view() -> None:
    view = {
        "type": "modal",
        "title": plain("Report"),
        "submit": plain("Send"),
        "close": plain("Cancel"),
        "blocks": [{"type": "section", "text": mrkdwn("Tell us")}],
    }
    assert render_view(view).splitlines() == [
        "| Report |",
        "==========",
        "Tell us",
        "[Cancel] [Send]",
    ]
