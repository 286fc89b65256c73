"""Text hygiene for Slack: what users typed can never ping people or forge links.

Signals are stored as the plain text the person meant. Slash-command text arrives with Slack's
entity escaping and may carry live tokens (`<@U1|ann>`, `<!here>`, `<!subteam^S1>`, `<http://x|y>`):
`command_text_to_plain` turns those into inert words. `escape` is applied to every piece of user
text that goes into a message, so nothing becomes a mention or a link again.

User text must not pass for the app's own words either (a bold "*Reporter*" line with someone
else's name in a triage post): longer text is shown as a block quote, and text that sits inside
the app's own lines goes through `inline`, which keeps it on one line with its mrkdwn markers
made inert.
"""

from __future__ import annotations

import html
import re

_TOKEN = re.compile(r"<([^<>]*)>")
# A mrkdwn marker (*bold*, _italic_, ~strike~, `code`) that is not inside a word, where Slack
# would read it as formatting; inside a word (fraud_model_v2, 2*3) it is left as typed.
_MARKER = re.compile(r"(?<![^\W_])[*_~`]|[*_~`](?![^\W_])")
# Look-alikes that Slack shows as typed and never reads as formatting.
_INERT_MARKERS = {"*": "\u2217", "_": "\u02cd", "~": "\u223c", "`": "\u02cb"}
_CUT_NOTE = "… _(cut: {more:,} more characters)_"


def _token_to_plain(match: re.Match[str]) -> str:
    body = match.group(1)
    target, _, label = body.partition("|")
    if target.startswith("@"):  # user mention
        return "@" + (label or target[1:])
    if target.startswith("#"):  # channel link
        return "#" + (label or target[1:])
    if target.startswith("!subteam^"):
        return "@" + (label.lstrip("@") or "group")
    if target.startswith("!"):  # !here, !channel, !everyone, !date^…
        special = target[1:].split("^", 1)[0]
        return label or ("@" + special)
    if label:  # a link with a label: show both, so nothing hides where it goes
        return f"{label} ({target})"
    return target


def command_text_to_plain(text: str) -> str:
    """Slash-command text -> what the person typed, with every live token made inert."""
    return html.unescape(_TOKEN.sub(_token_to_plain, text or ""))


def escape(text: str) -> str:
    """Escape raw user text for mrkdwn / plain_text fields (exactly & < >)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def inline(text: str) -> str:
    """Raw user text placed inside one of the app's own mrkdwn lines: escaped, on one line, and
    with formatting markers at word edges replaced by look-alikes, so it can neither start a new
    line nor render bold or italic words that look like the app's labels."""
    one_line = " ".join(escape(text).split())
    return _MARKER.sub(lambda m: _INERT_MARKERS[m.group(0)], one_line)


def fit(text: str, limit: int) -> str:
    """Cut already-escaped text to `limit` characters with a visible note, never mid-entity."""
    if len(text) <= limit:
        return text
    keep = limit - len(_CUT_NOTE.format(more=len(text))) - 1
    if keep < 1:  # no room for the note (a small limit): a hard cut marked with "…"
        return _cut_whole_entities(text[: max(limit - 1, 0)]) + "…"[:limit]
    cut = _cut_whole_entities(text[:keep])
    return cut + _CUT_NOTE.format(more=len(text) - len(cut))


def _cut_whole_entities(cut: str) -> str:
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]  # do not leave half of "&amp;"
    return cut


def plain(text: str, limit: int) -> str:
    """For plain_text fields (headers, buttons, options): no markup, hard length limit."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
