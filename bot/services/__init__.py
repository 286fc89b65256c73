"""Business logic with no Slack in it. `Services` bundles what the Slack layer calls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bot.services.delivery import DeliveryService
from bot.services.signals import SignalService
from bot.services.triage import TriageService


def _nothing() -> None:
    return None


@dataclass(frozen=True, kw_only=True)
class Services:
    signals: SignalService
    delivery: DeliveryService
    triage: TriageService
    # Called after something was queued for Slack, so the delivery worker looks at once.
    wake_delivery: Callable[[], None] = field(default=_nothing)
