"""Writing to the outbox: the Slack posts a change announces, queued in the change's own
transaction so that a post goes out if and only if the change was committed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, insert, select
from sqlalchemy.orm import Session

from models import OutboxItem, OutboxPurpose, OutboxState

# Built once: queued on the hot path of filing and lead actions.
_INSERT_OUTBOX = insert(OutboxItem.__table__)


def no_worker() -> None:
    """The `wake` of a service with no delivery worker to tell (a script, a test)."""


def outbox_item(
    *,
    signal_id: str,
    purpose: OutboxPurpose,
    channel: str,
    due_at: datetime,
    event_id: str | None = None,
) -> dict[str, Any]:
    """One pending Slack post, as a row for `queue_posts` (id, state and attempts come from the
    model's defaults)."""
    return {
        "signal_id": signal_id,
        "event_id": event_id,
        "purpose": purpose.value,
        "channel": channel,
        "due_at": due_at,
    }


def queue_posts(session: Session | Connection, *items: dict[str, Any]) -> None:
    """Add posts to the outbox inside the caller's transaction (one Core INSERT)."""
    session.execute(_INSERT_OUTBOX, list(items))


def pending_parent_update(signal_id: str) -> Select[tuple[str]]:
    """A parent update of the signal that is queued and not yet taken by a worker (served by
    the outbox's signal index: during an outage the outbox holds the whole backlog)."""
    return select(OutboxItem.id).where(
        OutboxItem.signal_id == signal_id,
        OutboxItem.purpose == OutboxPurpose.PARENT_UPDATE.value,
        OutboxItem.state == OutboxState.PENDING.value,
        OutboxItem.claimed_until.is_(None),
    )
