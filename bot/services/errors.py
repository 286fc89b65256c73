"""Domain errors. Each carries a friendly sentence that the Slack layer shows as it is.

Messages never contain who asked: they are shown to the person who asked and nowhere else, and
they are safe to log.
"""

from __future__ import annotations

from dataclasses import dataclass


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


@dataclass(frozen=True, kw_only=True)
class SendFailure:
    """Slack refused a Web API call: its HTTP status, its error code, and what to do about it.
    The Slack layer decides `permanent` and `retry_after`; senders act on them."""

    status: int
    code: str | None
    retry_after: float | None = None  # seconds; set only when Slack asked to slow down
    permanent: bool = False  # retrying will not help until someone fixes the cause

    @property
    def rate_limited(self) -> bool:
        return self.retry_after is not None

    @property
    def label(self) -> str:
        """Safe to log and store: the status and Slack's code, never the request."""
        return "ratelimited" if self.rate_limited else f"{self.status} {self.code}"


class SendRefused(Exception):
    """Raised by an outgoing sender when Slack answered with an error (not a lost connection)."""

    def __init__(self, failure: SendFailure) -> None:
        super().__init__(failure.label)
        self.failure = failure
