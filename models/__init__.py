"""SQLAlchemy models. Importing this package registers every table on `Base.metadata`."""

from models.app_state import Counter, Secret, SeenRequest
from models.base import Base
from models.digest import DigestRun, DigestRunState
from models.event import EventAction, SignalEvent
from models.outbox import ChannelBudget, OutboxItem, OutboxPurpose, OutboxState
from models.review import (
    ROLLUP_TABLES,
    review_assumptions,
    review_filed,
    review_resolved,
    review_wait_minutes,
    review_waits,
)
from models.signal import Signal, SignalStatus, resolved_rows
from models.system import System, SystemAlias

__all__ = [
    "Base",
    "ChannelBudget",
    "Counter",
    "DigestRun",
    "DigestRunState",
    "EventAction",
    "OutboxItem",
    "OutboxPurpose",
    "OutboxState",
    "ROLLUP_TABLES",
    "Secret",
    "SeenRequest",
    "SignalEvent",
    "Signal",
    "SignalStatus",
    "System",
    "SystemAlias",
    "review_assumptions",
    "review_filed",
    "review_resolved",
    "review_wait_minutes",
    "review_waits",
    "resolved_rows",
]
