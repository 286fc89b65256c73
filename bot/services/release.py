"""The delayed release of anonymous posts: the time a post appears in the triage channel must
not tell when its reporter acted."""

from __future__ import annotations

import random
from datetime import datetime, timedelta


class ReleaseSchedule:
    """When an anonymous post goes out: after a random delay in `anon_delay` (seconds), on a
    whole minute. Shared by filing and anonymous replies."""

    def __init__(self, anon_delay: tuple[int, int], *, rng: random.Random | None = None) -> None:
        self._anon_delay = anon_delay
        self._rng = rng or random.SystemRandom()

    def time(self, now: datetime) -> datetime:
        """When an anonymous post filed `now` goes out: a random delay, rounded up to a minute."""
        low, high = self._anon_delay
        if high <= 0:
            return now
        delay = self._rng.uniform(low, high)
        release = now + timedelta(seconds=delay)
        # Release on whole minutes, so signals filed close together go out as one batch.
        if release.second or release.microsecond:
            release = release.replace(second=0, microsecond=0) + timedelta(minutes=1)
        return release
