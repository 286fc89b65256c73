"""The canary harness bound to the running app, shared by the privacy scenarios."""

from __future__ import annotations

import pytest

from tests.conftest import RunningApp
from tests.privacy.canaries import Canaries


@pytest.fixture
def canaries(running_app: RunningApp) -> Canaries:
    return Canaries(
        events_url=running_app.sender.url,
        transport=running_app.sender.transport,
        standin=running_app.standin,
        read_log=running_app.log.getvalue,
        settle=running_app.settle,
    )
