"""Reading what Slack sends: typed accessors that refuse, with `Unreadable`, what they cannot read.

A signed request can still carry a field of the wrong JSON type or miss one Slack always sends;
the listeners read every field through these before anything is stored, and the error handler
answers `Unreadable` with UNREADABLE_TEXT.
"""

from __future__ import annotations

from typing import Any

UNREADABLE_TEXT = "Sorry — I couldn't read that; nothing changed."


class Unreadable(ValueError):
    """A signed request whose content a listener cannot read (a field of the wrong JSON type, a
    view without its id, private_metadata that is not the app's). `what` names the field, never
    its content, so it can be logged."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def text_field(container: Any, key: str, *, what: str | None = None) -> str:
    """`container[key]` as text: missing or null -> "", a string as it is, anything else (a
    number, a list, an object) -> Unreadable."""
    if not isinstance(container, dict):
        raise Unreadable(what or key)
    value = container.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Unreadable(what or key)
    return value


def required_text(container: Any, key: str, *, what: str | None = None) -> str:
    """Like `text_field`, and empty counts as unreadable (ids Slack always sends)."""
    value = text_field(container, key, what=what)
    if not value:
        raise Unreadable(what or key)
    return value


def user_id_of(body: dict[str, Any]) -> str:
    """The id of whoever pressed or submitted (interactions carry `user.id`)."""
    return required_text(body.get("user"), "id", what="user.id")


def state_values(view: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """A view's state.values, checked: {block_id: {action_id: {...}}}; missing parts are empty.
    A part of another JSON type -> Unreadable."""
    if not isinstance(view, dict):
        raise Unreadable("view")
    state = view.get("state")
    if state is None:
        return {}
    if not isinstance(state, dict):
        raise Unreadable("view.state")
    values = state.get("values")
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise Unreadable("state.values")
    for actions in values.values():
        if not isinstance(actions, dict):
            raise Unreadable("state.values")
        if not all(value is None or isinstance(value, dict) for value in actions.values()):
            raise Unreadable("state.values")
    return values


def element_state(values: dict[str, dict[str, Any]], block: str, action: str) -> dict[str, Any]:
    return (values.get(block) or {}).get(action) or {}


def input_value(element: dict[str, Any]) -> str:
    """A plain_text_input's value ("" when empty)."""
    return text_field(element, "value", what="state.values value")


def selected_value(element: dict[str, Any]) -> str:
    """A select's or radio group's chosen option value ("" when none)."""
    option = element.get("selected_option")
    if option is None:
        return ""
    return text_field(option, "value", what="state.values selected_option")
