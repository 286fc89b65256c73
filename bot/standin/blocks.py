"""Block Kit validation for the Slack stand-in: pure functions, no state, no I/O.

`validate_blocks` and `validate_view` check blocks and views against Slack's limits and answer the
problems the way Slack's `invalid_blocks` error lists them ("<what> [json-pointer:/blocks/...]").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

__all__ = ["MAX_BLOCKS", "Surface", "validate_blocks", "validate_view"]

Surface = Literal["message", "modal", "home"]

MAX_BLOCKS: dict[str, int] = {"message": 50, "modal": 100, "home": 100}
MESSAGE_TEXT_TRUNCATE_AT = 40_000
UPDATE_TEXT_MAX = 4_000

_BLOCK_TYPES = frozenset(
    {
        "actions",
        "call",
        "context",
        "context_actions",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "table",
        "video",
    }
)
_INPUT_ELEMENTS = frozenset(
    {
        "channels_select",
        "checkboxes",
        "conversations_select",
        "datepicker",
        "datetimepicker",
        "email_text_input",
        "external_select",
        "file_input",
        "multi_channels_select",
        "multi_conversations_select",
        "multi_external_select",
        "multi_static_select",
        "multi_users_select",
        "number_input",
        "plain_text_input",
        "radio_buttons",
        "rich_text_input",
        "static_select",
        "timepicker",
        "url_text_input",
        "users_select",
    }
)
_ELEMENT_TYPES = _INPUT_ELEMENTS | {"button", "image", "overflow", "workflow_button"}
_STATIC_SELECTS = frozenset({"static_select", "multi_static_select"})
_CHOICE_ELEMENTS = frozenset({"radio_buttons", "checkboxes"})


class _Problems:
    """Collects problems as '<message> [json-pointer:<path>]' strings."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, pointer: str, message: str) -> None:
        self.items.append(f"{message} [json-pointer:{pointer}]")


def _too_long(text: str, limit: int) -> str:
    return f"must be at most {limit} characters (got {len(text)})"


def _check_str(
    problems: _Problems, value: Any, pointer: str, limit: int, *, required: bool = False
) -> None:
    if value is None:
        if required:
            problems.add(pointer, "missing required field")
        return
    if not isinstance(value, str):
        problems.add(pointer, "must be a string")
    elif required and not value:
        problems.add(pointer, "must be more than 0 characters")
    elif len(value) > limit:
        problems.add(pointer, _too_long(value, limit))


def _check_text(
    problems: _Problems,
    obj: Any,
    pointer: str,
    limit: int,
    *,
    plain_only: bool = False,
    required: bool = True,
) -> None:
    """Check a composition text object ({"type": "plain_text"|"mrkdwn", "text": ...})."""
    if obj is None:
        if required:
            problems.add(pointer, "missing required field")
        return
    if not isinstance(obj, dict):
        problems.add(pointer, "must be a text object")
        return
    kind = obj.get("type")
    if plain_only and kind != "plain_text":
        problems.add(f"{pointer}/type", "must be plain_text")
    elif kind not in ("plain_text", "mrkdwn"):
        problems.add(f"{pointer}/type", "must be plain_text or mrkdwn")
    text = obj.get("text")
    if not isinstance(text, str):
        problems.add(f"{pointer}/text", "must be a string")
    elif not text:
        problems.add(f"{pointer}/text", "must be more than 0 characters")
    elif len(text) > limit:
        problems.add(f"{pointer}/text", _too_long(text, limit))


def _check_list(
    problems: _Problems, value: Any, pointer: str, *, minimum: int, maximum: int
) -> list[Any]:
    if not isinstance(value, list):
        problems.add(pointer, "must be an array")
        return []
    if len(value) < minimum:
        problems.add(pointer, f"must have at least {minimum} items (got {len(value)})")
    if len(value) > maximum:
        problems.add(pointer, f"must have at most {maximum} items (got {len(value)})")
    return value


def _check_option(problems: _Problems, option: Any, pointer: str, *, plain_only: bool) -> None:
    if not isinstance(option, dict):
        problems.add(pointer, "must be an option object")
        return
    _check_text(problems, option.get("text"), f"{pointer}/text", 75, plain_only=plain_only)
    _check_str(problems, option.get("value"), f"{pointer}/value", 150, required=True)
    _check_text(problems, option.get("description"), f"{pointer}/description", 75, required=False)
    _check_str(problems, option.get("url"), f"{pointer}/url", 3000)


def _check_confirm(problems: _Problems, confirm: Any, pointer: str) -> None:
    if not isinstance(confirm, dict):
        problems.add(pointer, "must be a confirmation dialog object")
        return
    _check_text(problems, confirm.get("title"), f"{pointer}/title", 100, plain_only=True)
    _check_text(problems, confirm.get("text"), f"{pointer}/text", 300)
    _check_text(problems, confirm.get("confirm"), f"{pointer}/confirm", 30, plain_only=True)
    _check_text(problems, confirm.get("deny"), f"{pointer}/deny", 30, plain_only=True)


def _check_image_element(problems: _Problems, element: dict[str, Any], pointer: str) -> None:
    if element.get("image_url") is None and element.get("slack_file") is None:
        problems.add(pointer, "must provide image_url or slack_file")
    _check_str(problems, element.get("image_url"), f"{pointer}/image_url", 3000)
    _check_str(problems, element.get("alt_text"), f"{pointer}/alt_text", 2000, required=True)


def _check_element(
    problems: _Problems, element: Any, pointer: str, action_ids: set[str] | None = None
) -> None:
    if not isinstance(element, dict):
        problems.add(pointer, "must be an element object")
        return
    kind = element.get("type")
    if kind not in _ELEMENT_TYPES:
        problems.add(f"{pointer}/type", f"unknown element type {kind!r}")
        return
    if kind == "image":
        _check_image_element(problems, element, pointer)
        return

    action_id = element.get("action_id")
    _check_str(problems, action_id, f"{pointer}/action_id", 255)
    if isinstance(action_id, str) and action_ids is not None:
        if action_id in action_ids:
            problems.add(f"{pointer}/action_id", f"duplicate action_id {action_id!r}")
        action_ids.add(action_id)
    if "placeholder" in element:
        _check_text(
            problems, element["placeholder"], f"{pointer}/placeholder", 150, plain_only=True
        )
    if "confirm" in element:
        _check_confirm(problems, element["confirm"], f"{pointer}/confirm")

    if kind in ("button", "workflow_button"):
        _check_text(problems, element.get("text"), f"{pointer}/text", 75, plain_only=True)
        _check_str(problems, element.get("value"), f"{pointer}/value", 2000)
        _check_str(problems, element.get("url"), f"{pointer}/url", 3000)
        style = element.get("style")
        if style is not None and style not in ("primary", "danger"):
            problems.add(f"{pointer}/style", "must be primary or danger")
    elif kind in _STATIC_SELECTS:
        options, groups = element.get("options"), element.get("option_groups")
        if (options is None) == (groups is None):
            problems.add(pointer, "must provide exactly one of options or option_groups")
        if options is not None:
            for i, opt in enumerate(
                _check_list(problems, options, f"{pointer}/options", minimum=1, maximum=100)
            ):
                _check_option(problems, opt, f"{pointer}/options/{i}", plain_only=True)
        if groups is not None:
            for g, group in enumerate(
                _check_list(problems, groups, f"{pointer}/option_groups", minimum=1, maximum=100)
            ):
                gp = f"{pointer}/option_groups/{g}"
                if not isinstance(group, dict):
                    problems.add(gp, "must be an option group object")
                    continue
                _check_text(problems, group.get("label"), f"{gp}/label", 75, plain_only=True)
                for i, opt in enumerate(
                    _check_list(
                        problems, group.get("options"), f"{gp}/options", minimum=1, maximum=100
                    )
                ):
                    _check_option(problems, opt, f"{gp}/options/{i}", plain_only=True)
    elif kind in _CHOICE_ELEMENTS:
        options = element.get("options")
        for i, opt in enumerate(
            _check_list(problems, options, f"{pointer}/options", minimum=1, maximum=10)
        ):
            _check_option(problems, opt, f"{pointer}/options/{i}", plain_only=False)
    elif kind == "overflow":
        options = element.get("options")
        for i, opt in enumerate(
            _check_list(problems, options, f"{pointer}/options", minimum=1, maximum=5)
        ):
            _check_option(problems, opt, f"{pointer}/options/{i}", plain_only=True)
    elif kind == "plain_text_input":
        for key in ("max_length", "min_length"):
            value = element.get(key)
            if value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool):
                problems.add(f"{pointer}/{key}", "must be an integer")
            elif not 0 <= value <= 3000:
                problems.add(f"{pointer}/{key}", f"must be between 0 and 3000 (got {value})")
        initial = element.get("initial_value")
        max_length = element.get("max_length")
        if isinstance(initial, str) and isinstance(max_length, int) and len(initial) > max_length:
            problems.add(f"{pointer}/initial_value", _too_long(initial, max_length))


def _check_block(
    problems: _Problems,
    block: Any,
    pointer: str,
    block_ids: set[str],
) -> None:
    if not isinstance(block, dict):
        problems.add(pointer, "must be a block object")
        return
    kind = block.get("type")
    if kind not in _BLOCK_TYPES:
        problems.add(f"{pointer}/type", f"unknown block type {kind!r}")
        return
    block_id = block.get("block_id")
    _check_str(problems, block_id, f"{pointer}/block_id", 255)
    if isinstance(block_id, str):
        if block_id in block_ids:
            problems.add(f"{pointer}/block_id", f"duplicate block_id {block_id!r}")
        block_ids.add(block_id)

    if kind == "section":
        text, fields = block.get("text"), block.get("fields")
        if text is None and fields is None:
            problems.add(pointer, "must provide either text or fields")
        _check_text(problems, text, f"{pointer}/text", 3000, required=False)
        if fields is not None:
            for i, item in enumerate(
                _check_list(problems, fields, f"{pointer}/fields", minimum=1, maximum=10)
            ):
                _check_text(problems, item, f"{pointer}/fields/{i}", 2000)
        if "accessory" in block:
            _check_element(problems, block["accessory"], f"{pointer}/accessory", set())
    elif kind == "header":
        _check_text(problems, block.get("text"), f"{pointer}/text", 150, plain_only=True)
    elif kind == "context":
        elements = block.get("elements")
        for i, element in enumerate(
            _check_list(problems, elements, f"{pointer}/elements", minimum=1, maximum=10)
        ):
            ep = f"{pointer}/elements/{i}"
            if isinstance(element, dict) and element.get("type") == "image":
                _check_image_element(problems, element, ep)
            else:
                _check_text(problems, element, ep, 3000)
    elif kind == "actions":
        action_ids: set[str] = set()
        elements = block.get("elements")
        for i, element in enumerate(
            _check_list(problems, elements, f"{pointer}/elements", minimum=1, maximum=25)
        ):
            _check_element(problems, element, f"{pointer}/elements/{i}", action_ids)
    elif kind == "input":
        _check_text(problems, block.get("label"), f"{pointer}/label", 2000, plain_only=True)
        _check_text(
            problems, block.get("hint"), f"{pointer}/hint", 2000, plain_only=True, required=False
        )
        element = block.get("element")
        if element is None:
            problems.add(f"{pointer}/element", "missing required field")
        elif isinstance(element, dict) and element.get("type") not in _INPUT_ELEMENTS:
            problems.add(
                f"{pointer}/element/type",
                f"element type {element.get('type')!r} is not allowed in an input block",
            )
        else:
            _check_element(problems, element, f"{pointer}/element", set())
    elif kind == "image":
        _check_image_element(problems, block, pointer)
        _check_text(
            problems, block.get("title"), f"{pointer}/title", 2000, plain_only=True, required=False
        )
    elif kind == "markdown":
        _check_str(problems, block.get("text"), f"{pointer}/text", 12000, required=True)
    elif kind == "rich_text":
        if not isinstance(block.get("elements"), list):
            problems.add(f"{pointer}/elements", "must be an array")
    elif kind == "video":
        _check_text(problems, block.get("title"), f"{pointer}/title", 200, plain_only=True)
        _check_str(problems, block.get("video_url"), f"{pointer}/video_url", 3000, required=True)
        _check_str(problems, block.get("alt_text"), f"{pointer}/alt_text", 2000, required=True)


def _validate_blocks(blocks: Any, surface: str, base: str) -> list[str]:
    if surface not in MAX_BLOCKS:
        raise ValueError(f"surface must be one of {sorted(MAX_BLOCKS)}, not {surface!r}")
    problems = _Problems()
    if not isinstance(blocks, list):
        problems.add(base, "must be an array of blocks")
        return problems.items
    limit = MAX_BLOCKS[surface]
    if len(blocks) > limit:
        problems.add(base, f"a {surface} must have at most {limit} blocks (got {len(blocks)})")
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        _check_block(problems, block, f"{base}/{i}", block_ids)
    return problems.items


def validate_blocks(blocks: Any, *, surface: Surface = "message") -> list[str]:
    """Check Block Kit `blocks` against Slack's limits for a surface.

    Returns problems ("<what> [json-pointer:/blocks/...]"); empty when the blocks are fine.
    """
    return _validate_blocks(blocks, surface, "/blocks")


def validate_view(view: Any, *, allowed_types: Iterable[str] = ("modal", "home")) -> list[str]:
    """Check a modal or Home tab view object. Returns problems; empty when the view is fine."""
    problems = _Problems()
    if not isinstance(view, dict):
        problems.add("/view", "must be a view object")
        return problems.items
    allowed = tuple(allowed_types)
    kind = view.get("type")
    if kind not in allowed:
        problems.add("/view/type", f"must be one of {', '.join(allowed)} (got {kind!r})")
        return problems.items
    if kind == "modal":
        _check_text(problems, view.get("title"), "/view/title", 24, plain_only=True)
        _check_text(
            problems, view.get("submit"), "/view/submit", 24, plain_only=True, required=False
        )
        _check_text(problems, view.get("close"), "/view/close", 24, plain_only=True, required=False)
        blocks = view.get("blocks")
        has_input = isinstance(blocks, list) and any(
            isinstance(b, dict) and b.get("type") == "input" for b in blocks
        )
        if has_input and view.get("submit") is None:
            problems.add("/view/submit", "is required when the view has input blocks")
    _check_str(problems, view.get("private_metadata"), "/view/private_metadata", 3000)
    _check_str(problems, view.get("callback_id"), "/view/callback_id", 255)
    _check_str(problems, view.get("external_id"), "/view/external_id", 255)
    problems.items.extend(_validate_blocks(view.get("blocks"), kind, "/view/blocks"))
    return problems.items


def validate_options(answer: Any) -> list[str]:
    """Check an app's answer to a block_suggestion request (`{"options": [...]}` or
    `{"option_groups": [...]}`): up to 100 options, plain_text texts of 75, values of 150."""
    problems = _Problems()
    if not isinstance(answer, dict):
        problems.add("", "must be an object")
        return problems.items
    options, groups = answer.get("options"), answer.get("option_groups")
    if (options is None) == (groups is None):
        problems.add("", "must provide exactly one of options or option_groups")
    if options is not None:
        for i, opt in enumerate(_check_list(problems, options, "/options", minimum=0, maximum=100)):
            _check_option(problems, opt, f"/options/{i}", plain_only=True)
    if groups is not None:
        for g, group in enumerate(
            _check_list(problems, groups, "/option_groups", minimum=0, maximum=100)
        ):
            if not isinstance(group, dict):
                problems.add(f"/option_groups/{g}", "must be an option group object")
                continue
            _check_text(
                problems, group.get("label"), f"/option_groups/{g}/label", 75, plain_only=True
            )
            for i, opt in enumerate(
                _check_list(
                    problems,
                    group.get("options"),
                    f"/option_groups/{g}/options",
                    minimum=1,
                    maximum=100,
                )
            ):
                _check_option(problems, opt, f"/option_groups/{g}/options/{i}", plain_only=True)
    return problems.items
