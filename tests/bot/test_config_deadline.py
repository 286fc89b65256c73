"""AI_SIGNAL_DB_DEADLINE_MS: how long a request may wait for the database."""

from __future__ import annotations

import pytest

from bot.config import ConfigError
from tests.bot.test_config import config_error, settings


def test_default_deadline_is_two_seconds():
    assert settings().db_deadline_ms == 2000
    assert settings(AI_SIGNAL_DB_DEADLINE_MS="1500").db_deadline_ms == 1500


@pytest.mark.parametrize("value", ["0", "99", "3000", "2s", "-5"])
def test_deadline_must_leave_room_for_slacks_three_seconds(value):
    error = config_error(AI_SIGNAL_DB_DEADLINE_MS=value)
    assert isinstance(error, ConfigError) and error.variable == "AI_SIGNAL_DB_DEADLINE_MS"
