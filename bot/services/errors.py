"""Domain errors. Each carries a friendly sentence that the Slack layer shows as it is.

Messages never contain who asked: they are shown to the person who asked and nowhere else, and
they are safe to log.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Something the user can fix or should know; `str(error)` is the friendly sentence."""

    field: str | None = None  # the form field it concerns, for modal field errors


class UnknownKind(ServiceError):
    field = "kind"


class EmptyText(ServiceError):
    field = "text"


class TextTooLong(ServiceError):
    def __init__(self, message: str, *, field: str = "text") -> None:
        super().__init__(message)
        self.field = field


class NotFound(ServiceError):
    """A reference or code that matches nothing the asker may see (one generic answer)."""


class DatabaseBusy(ServiceError):
    """The database could not take the write in time; nothing was stored, the user may retry."""

    field = "text"
