"""A request's unit of work that finishes after its deadline is rolled back, not committed."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from bot import db
from models import Secret


def test_work_done_after_the_deadline_is_rolled_back(database_url):
    db.upgrade(database_url)
    engine = db.create_db_engine(database_url)
    sessions = db.create_session_factory(engine)
    try:
        with pytest.raises(db.DeadlineExceeded):
            with db.unit_of_work(sessions, deadline_ms=100) as session:
                session.add(Secret(name="late", value="x"))
                time.sleep(0.2)  # the slow part of the unit of work
        with db.unit_of_work(sessions, deadline_ms=2000) as session:
            session.add(Secret(name="in-time", value="x"))
        with sessions() as session:
            names = session.scalars(select(Secret.name)).all()
            assert "late" not in names and "in-time" in names
            assert session.scalar(select(func.count()).select_from(Secret)) == len(names)
    finally:
        engine.dispose()
