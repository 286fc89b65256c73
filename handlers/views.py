"""The filing modal's submission."""

from __future__ import annotations

from slack_bolt import Ack, App

from bot.services import Services
from bot.services.errors import ServiceError
from handlers import blocks, ids


def register(app: App, services: Services) -> None:
    def handle_signal_modal_submission(ack: Ack, body: dict, view: dict) -> None:
        # Read everything first (Unreadable -> the error handler's answer, nothing stored).
        values = blocks.parse_signal_submission(view)
        anonymous = values.pop("anonymous")
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
        services.wake_delivery()

    app.view_submission(ids.SIGNAL_MODAL)(handle_signal_modal_submission)
