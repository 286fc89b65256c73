"""Text hygiene: user text can never ping anyone or forge a link."""

from __future__ import annotations

import random
import re

import pytest

from handlers.formatting import command_text_to_plain, escape, fit, plain

ENTITY = re.compile(r"&(?:amp|lt|gt);")


@pytest.mark.parametrize(
    "slack_text, plain_text",
    [
        ("<!here> look", "@here look"),
        ("<!channel>", "@channel"),
        ("<!everyone>", "@everyone"),
        ("<!here|here>", "here"),
        ("<!subteam^S1|@team> please", "@team please"),
        ("<!subteam^S1>", "@group"),
        ("<@U1|bob> said", "@bob said"),
        ("<@U123ABC>", "@U123ABC"),
        ("<#C123|general>", "#general"),
        ("<#C123>", "#C123"),
        ("<http://evil|Click>", "Click (http://evil)"),
        ("<https://example.com>", "https://example.com"),
        ("<mailto:a@example.com|mail me>", "mail me (mailto:a@example.com)"),
        ("<!date^1700000000^{date}|Nov 14>", "Nov 14"),
        # Slack escapes what the person typed: these come back exactly as typed.
        ("a &lt; b &amp;&amp; c &gt; d", "a < b && c > d"),
        ("&amp;lt;", "&lt;"),
        ("&amp;amp;", "&amp;"),
        ("&lt;!channel&gt;", "<!channel>"),
        ("<http://x.test/?a=1&amp;b=2|x>", "x (http://x.test/?a=1&b=2)"),
        ("", ""),
    ],
)
def test_command_text_to_plain(slack_text, plain_text):
    assert command_text_to_plain(slack_text) == plain_text


@pytest.mark.parametrize(
    "slack_text",
    [
        "<!here> <!channel> <!everyone> <!subteam^S1|@team> <@U1|bob> <http://evil|Click>",
        "&lt;!channel&gt; &lt;@U1&gt; &lt;http://evil|x&gt;",
        "&amp;lt;!here&amp;gt;",
    ],
)
def test_plain_then_escape_is_inert(slack_text):
    out = escape(command_text_to_plain(slack_text))
    assert "<" not in out and ">" not in out
    assert "<!" not in out and "<@" not in out


def test_escape_exactly_three_characters():
    assert escape("a & b < c > d") == "a &amp; b &lt; c &gt; d"
    assert escape("&amp;") == "&amp;amp;"  # escaped again: shown as typed
    assert escape("\"quotes\" and 'single' * _ ~ `") == "\"quotes\" and 'single' * _ ~ `"
    assert escape("<!channel>") == "&lt;!channel&gt;"


@pytest.mark.parametrize("typed", ["&lt;", "a & b", "<b>", "&amp;lt;", "5 > 3 & 2 < 4"])
def test_round_trip_slack_escaping(typed):
    """Slack escapes what was typed; we recover it, and escaping again shows it unchanged."""
    slack_sent = typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert command_text_to_plain(slack_sent) == typed
    assert escape(command_text_to_plain(slack_sent)) == slack_sent


def _check_fit(text: str, limit: int) -> None:
    out = fit(text, limit)
    assert len(out) <= limit, (limit, len(out))
    if len(text) <= limit:
        assert out == text
        return
    assert out.endswith(("…", "characters)_"))  # a visible note
    kept = out[: out.index("…")]
    assert text.startswith(kept)
    # No half entity at the cut: everything kept that starts with & is a whole entity.
    for match in re.finditer("&", kept):
        assert ENTITY.match(kept, match.start()), kept[match.start() :]


@pytest.mark.parametrize(
    "limit", [1, 2, 10, 20, 33, 34, 40, 60, 100, 150, 200, 500, 1980, 2000, 3000]
)
@pytest.mark.parametrize("raw", ["&" * 3000, "<" * 3000, ">" * 1000, "a&b<c>" * 600, "x" * 5000])
def test_fit_within_limit_and_never_mid_entity(raw, limit):
    _check_fit(escape(raw), limit)


def test_fit_random_cut_points():
    rng = random.Random(42)
    for _ in range(300):
        raw = "".join(rng.choice("ab &<>\n") for _ in range(rng.randint(0, 800)))
        _check_fit(escape(raw), rng.randint(1, 900))


def test_fit_short_text_unchanged():
    assert fit("hello &amp; bye", 3000) == "hello &amp; bye"
    assert fit("x" * 3000, 3000) == "x" * 3000


def test_plain_limits_and_flattens():
    assert plain("a\nb\t c", 10) == "a b c"
    out = plain("y" * 200, 150)
    assert len(out) == 150 and out.endswith("…")
