"""The filing modal's submission, and the reveal confirmation's.

A service's refusal (`ServiceError`) is answered by the error handler: the filing form shows it
under the field it concerns, the reveal confirmation is replaced by a "nothing changed" notice.
"""

from __future__ import annotations

from slack_bolt import Ack, App

from bot.services import Services
from bot.services.errors import ServiceError
from bot.services.signals import clean_fields
from handlers import ids
from handlers.blocks.intake import (
    build_duplicate_view,
    build_field_errors,
    build_receipt_view,
    build_reveal_done_view,
    parse_signal_submission,
)
from handlers.edge import required_text, text_field, user_id_of


def register(app: App, services: Services) -> None:
    def handle_signal_modal_submission(ack: Ack, body: dict, view: dict) -> None:
        # Read everything first (Unreadable -> the error handler's answer, nothing stored).
        values = parse_signal_submission(view)
        anonymous = values.pop("anonymous")
        if anonymous is None:
            # No choice made: file nothing, and say what else needs fixing in the same answer.
            errors = build_field_errors(_field_problem(values), identity_missing=True)
            ack(response_action="errors", errors=errors)
            return
        view_id = required_text(view, "id", what="view.id")
        reporter_id = None if anonymous else user_id_of(body)
        filed = services.signals.file_signal(
            **values, anonymous=anonymous, reporter_id=reporter_id, request_key="view:" + view_id
        )
        if filed.duplicate:
            ack(response_action="update", view=build_duplicate_view())
            return
        ack(response_action="update", view=build_receipt_view(filed))

    def handle_reveal_modal_submission(ack: Ack, body: dict, view: dict) -> None:
        result = services.triage.reveal(
            token=text_field(view, "private_metadata"), user_id=user_id_of(body)
        )
        ack(
            response_action="update",
            view=build_reveal_done_view(ref=result.ref, changed=result.changed),
        )

    app.view_submission(ids.SIGNAL_MODAL)(handle_signal_modal_submission)
    app.view_submission(ids.REVEAL_MODAL)(handle_reveal_modal_submission)


def _field_problem(values: dict) -> ServiceError | None:
    """The first field problem of a form that cannot be filed yet, to show with the rest."""
    try:
        clean_fields(**values)
    except ServiceError as error:
        return error
    return None
