"""The filing modal's submission."""

from __future__ import annotations

from slack_bolt import Ack, App

from bot.services import Services
from bot.services.errors import ServiceError
from bot.services.signals import clean_fields
from handlers import ids
from handlers.blocks import intake as blocks


def register(app: App, services: Services) -> None:
    def handle_signal_modal_submission(ack: Ack, body: dict, view: dict) -> None:
        # Read everything first (Unreadable -> the error handler's answer, nothing stored).
        values = blocks.parse_signal_submission(view)
        anonymous = values.pop("anonymous")
        if anonymous is None:
            # No choice made: file nothing, and say what else needs fixing in the same answer.
            errors = blocks.build_field_errors(_field_problem(values), identity_missing=True)
            ack(response_action="errors", errors=errors)
            return
        view_id = blocks.required_text(view, "id", what="view.id")
        reporter_id = None if anonymous else blocks.user_id_of(body)
        try:
            filed = services.signals.file_signal(
                **values,
                anonymous=anonymous,
                reporter_id=reporter_id,
                request_key="view:" + view_id,
            )
        except ServiceError as error:
            ack(response_action="errors", errors=blocks.build_field_errors(error))
            return
        if filed.duplicate:
            ack(response_action="update", view=blocks.build_duplicate_view())
            return
        ack(response_action="update", view=blocks.build_receipt_view(filed))

    def handle_reveal_modal_submission(ack: Ack, body: dict, view: dict) -> None:
        try:
            result = services.triage.reveal(
                token=blocks.text_field(view, "private_metadata"), user_id=blocks.user_id_of(body)
            )
        except ServiceError as error:
            ack(
                response_action="update",
                view=blocks.build_reveal_done_view(ref=None, changed=False, problem=str(error)),
            )
            return
        view = blocks.build_reveal_done_view(ref=result.ref, changed=result.changed)
        ack(response_action="update", view=view)

    app.view_submission(ids.SIGNAL_MODAL)(handle_signal_modal_submission)
    app.view_submission(ids.REVEAL_MODAL)(handle_reveal_modal_submission)


def _field_problem(values: dict) -> ServiceError | None:
    try:
        clean_fields(**values)
    except ServiceError as error:
        return error
    return None
