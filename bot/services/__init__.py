"""Business logic with no Slack in it. `Services` bundles what the Slack layer calls.

The modules stand side by side: `records` (what services hand out), `vocabulary` (kinds,
patterns, statuses, coarse times), `outbox` (queueing posts), `replay` (handling a request
once), `keyed` (the one HMAC), `codes` (follow-up codes), `transactions` (deadline-bound
requests), `release` (the delay of anonymous posts), `redaction` (no user ids in digests and
exports), `errors`; and the services that use them: `signals`, `triage`, `systems`
(AI systems on record), `lessons` (the lessons library), `queue` (the leads' queue), `delivery`,
`digest`, `export`, `review` (the review-board report; `report_render` and `charts` draw it). A
service that queues a post wakes the delivery worker itself, after its commit.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.services.delivery import DeliveryService
from bot.services.lessons import LessonsService
from bot.services.queue import QueueService
from bot.services.review import ReviewService
from bot.services.signals import SignalService
from bot.services.systems import SystemService
from bot.services.triage import TriageService


@dataclass(frozen=True, kw_only=True)
class Services:
    signals: SignalService
    delivery: DeliveryService
    triage: TriageService
    systems: SystemService
    lessons: LessonsService
    queue: QueueService
    review: ReviewService
