"""Lost nothing, posted nothing twice: the real app (`ai-signal run --http`, a process of its own)
is killed with SIGKILL at random moments of a delivery burst, restarted, killed again …; then it
drains. Every acked filing is in the triage channel exactly once, and every recorded lead action
and reporter answer is in its signal's thread exactly once, in the order it happened. With Slack
healthy, and with Slack answering slowly after it has stored a post (a kill then lands between
"Slack has it" and "the outbox knows it"). On SQLite, and on PostgreSQL with three instances.

A kill lands just after one of the posts of the burst reached Slack (a random one of those still
to come, but not one of the last few), a random part of a post's time later; each run counts how many
kills found delivery under way and how many posts were then found in Slack instead of being sent
again, and the tests check that these moments did come. The app processes are forked from a
zygote (tests/bot/jobs/delivery/zygote.py) that has imported the app once: a start costs 0.1 s of
CPU instead of a second.

The randomness is seeded: a failure names its seed and replays. bench/crash_delivery.py runs the
same with many more kills.
"""

from __future__ import annotations

import atexit
import os
import random
import re
import signal
import subprocess
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Engine

from bot.standin import SlackStandIn
from bot.standin.sender import SlackSender, SlackUser
from handlers import ids
from models import OutboxItem, OutboxPurpose, Signal, SignalEvent
from tests.bot.jobs.delivery.zygote import Child, Zygote
from tests.conftest import (
    ALICE,
    BOT_TOKEN,
    DIGEST,
    LEAD,
    REPO_ROOT,
    SIGNING_SECRET,
    TRIAGE,
    migrated_postgres,
)

ROOT = REPO_ROOT
BOB = SlackUser(id="UBOB000002", name="bob.k")
LEASE = "2"  # seconds: how long a killed instance's claims keep their items from the others
# Posts a second per channel: the stand-in has no limit here, and at Slack's 1/s the drain of a
# run's ~50 posts would take most of the test's time. The kills wait for posts, not for time, so
# they land while a burst is being delivered at any pace.
POSTS_PER_SECOND = "10"
KILL_JITTER = 0.15  # s: at most how long after a post reached Slack a kill lands
# A kill waits for a post that is not one of the last TAIL still to come: the pace lets three
# posts to a channel go at once (and one may be on its way already), so with fewer left the
# delivery could be over before the kill.
TAIL = 4
SLOW_ANSWER = 0.25  # s: Slack slow to answer a post it has stored; longer than KILL_JITTER
POSTS = (OutboxPurpose.TRIAGE_POST.value, OutboxPurpose.THREAD_REPLY.value)
_REF = re.compile(r"\bSIG-[A-Z0-9]+\b")  # named SIG-12, anonymous SIG-K7Q2XM
_CODE = re.compile(r"`([A-Z2-7]{4}(?:-[A-Z2-7]{4}){5,})`")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Instance:
    process: Child
    sender: SlackSender
    port: int


_zygote: Zygote | None = None


def shared_zygote() -> Zygote:
    """One zygote per test process, for every cluster: it holds nothing of a run."""
    global _zygote
    if _zygote is None:
        _zygote = Zygote({"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)})
        atexit.register(_zygote.close)
    return _zygote


@dataclass
class Cluster:
    slack: SlackStandIn
    database_url: str
    workdir: Path
    size: int
    instances: list[Instance] = field(default_factory=list)
    started: int = 0  # processes started so far
    filed: list[str] = field(default_factory=list)  # acked refs
    codes: dict[str, str] = field(default_factory=dict)  # anonymous ref -> follow-up code

    def env(self, port: int) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(ROOT),
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": self.slack.url,
            "DATABASE_URL": self.database_url,
            "AI_SIGNAL_TRIAGE_CHANNEL": TRIAGE,
            "AI_SIGNAL_DIGEST_CHANNEL": DIGEST,
            "AI_SIGNAL_LEADS": LEAD.id,
            "AI_SIGNAL_ANON_DELAY": "0",
            "AI_SIGNAL_OUTBOX_LEASE_SECONDS": LEASE,
            "AI_SIGNAL_CHANNEL_POSTS_PER_SECOND": POSTS_PER_SECOND,
            "LOG_LEVEL": "INFO",  # `found` reads the worker's log
            "PORT": str(port),
        }

    def start(self) -> None:
        for _ in range(self.size - len(self.instances)):
            port = free_port()
            self.started += 1
            process = shared_zygote().start(
                ["run", "--http", "--host", "127.0.0.1"],
                env=self.env(port),
                cwd=self.workdir,
                log=self.workdir / f"app-{self.started}.log",
            )
            sender = SlackSender(
                url=f"http://127.0.0.1:{port}/slack/events",
                signing_secret=SIGNING_SECRET,
                trigger_ids=self.slack.issue_trigger_id,
                response_urls=self.slack.new_response_url,
            )
            self.instances.append(Instance(process=process, sender=sender, port=port))
        for instance in self.instances:
            wait_healthy(instance)

    def found(self) -> int:
        """Posts an instance found already in Slack, from an attempt killed before it learnt the
        answer, and did not send again (the worker logs each)."""
        return sum(
            log.read_text().count("was already in Slack from an earlier attempt")
            for log in self.workdir.glob("app-*.log")
        )

    def kill(self, instance: Instance) -> None:
        instance.process.send_signal(signal.SIGKILL)
        instance.process.wait(timeout=10)
        self.instances.remove(instance)

    def stop(self) -> None:
        for instance in self.instances:
            instance.process.send_signal(signal.SIGTERM)
        for instance in list(self.instances):
            try:
                instance.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                instance.process.kill()
                instance.process.wait()
            self.instances.remove(instance)


def wait_healthy(instance: Instance, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert instance.process.poll() is None, "the app exited at start"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{instance.port}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.02)
    raise AssertionError("the app did not become healthy")


def command(instance: Instance, user: SlackUser, text: str) -> str | None:
    """The private answer's text, or None when the instance died before answering."""
    try:
        reply = instance.sender.command(user=user, text=text)
    except OSError:
        return None
    if reply.status != 200:
        return None
    return reply.json().get("text", "")


def press_acknowledge(cluster: Cluster, instance: Instance, ref: str) -> None:
    posted = [m for m in cluster.slack.messages(TRIAGE) if m["thread_ts"] is None]
    ts = next((m["ts"] for m in posted if ref in (m["text"] or "")), "1700000000.000001")
    try:
        instance.sender.block_action(
            user=LEAD,
            action_id=ids.ACKNOWLEDGE_ACTION,
            value=ref,
            block_id=ids.TRIAGE_ACTIONS_BLOCK,
            channel_id=TRIAGE,
            message={"type": "message", "ts": ts, "text": ""},
            container={"type": "message", "message_ts": ts, "channel_id": TRIAGE},
        )
    except OSError:
        pass


def burst(cluster: Cluster, rng: random.Random, filings: int) -> None:
    """Filings (named and anonymous), acknowledgements and anonymous answers, spread over the
    live instances, as fast as they are acked."""
    for n in range(filings):
        instance = rng.choice(cluster.instances)
        anonymous = rng.random() < 0.4
        text = f"{'anon ' if anonymous else ''}drift scoring-model-{n} fell {rng.randint(1, 99)}%"
        answer = command(instance, BOB if anonymous else ALICE, text)
        if answer and (match := _REF.search(answer)):
            cluster.filed.append(match.group(0))
            if anonymous and (code := _CODE.search(answer)):
                cluster.codes[match.group(0)] = code.group(1)
        if cluster.filed and rng.random() < 0.5:
            press_acknowledge(cluster, rng.choice(cluster.instances), rng.choice(cluster.filed))
        if cluster.codes and rng.random() < 0.3:
            ref = rng.choice(sorted(cluster.codes))
            command(rng.choice(cluster.instances), BOB, f"reply {cluster.codes[ref]} more: {n}")


def undelivered(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(
            select(func.count()).select_from(OutboxItem).where(OutboxItem.state != "sent")
        )


def posts_to_come(engine: Engine) -> int:
    """Posts to the triage channel the outbox has still to make (or to find made)."""
    with engine.connect() as connection:
        return connection.scalar(
            select(func.count())
            .select_from(OutboxItem)
            .where(
                OutboxItem.state != "sent",
                OutboxItem.channel == TRIAGE,
                OutboxItem.purpose.in_(POSTS),
            )
        )


def triage_posts(slack: SlackStandIn) -> int:
    """Posts to the triage channel (signals and their threads) Slack has stored, answered or not."""
    return sum(
        1
        for c in slack.calls
        if c.method == "chat.postMessage" and c.params.get("channel") == TRIAGE
    )


def await_kill_moment(cluster: Cluster, engine: Engine, rng: random.Random) -> None:
    """A random moment of the delivery under way: just after one of the posts to the triage
    channel still to come reached Slack, but not one of the last TAIL (with Slack answering
    slowly: while the poster waits for the answer), and a random part of a post's time more."""
    due = posts_to_come(engine)
    if due > TAIL:
        reached = triage_posts(cluster.slack) + rng.randint(1, due - TAIL)
        cluster.slack.wait_until(
            lambda: triage_posts(cluster.slack) >= reached or not posts_to_come(engine),
            timeout=60,
            what="the delivery to get that far",
        )
    time.sleep(rng.uniform(0.0, KILL_JITTER))


def drain(engine: Engine, slack: SlackStandIn, timeout: float = 90.0) -> None:
    try:
        slack.wait_until(lambda: not undelivered(engine), timeout=timeout, what="the drain")
    except AssertionError:
        with engine.connect() as connection:
            left = Counter(
                (row.state, row.purpose, (row.last_error or "")[:60])
                for row in connection.execute(select(OutboxItem).where(OutboxItem.state != "sent"))
            )
        raise AssertionError(
            f"the outbox did not drain in {timeout:g}s: {sum(left.values())} not sent {left}"
        ) from None


def check_exactly_once(cluster: Cluster, engine: Engine) -> dict[str, int]:
    messages = cluster.slack.messages(TRIAGE)
    tags = Counter((m.get("metadata") or {}).get("event_payload", {}).get("item") for m in messages)
    twice = {item: n for item, n in tags.items() if n > 1}
    assert not twice, f"posted more than once: {twice}"
    with engine.connect() as connection:
        items = connection.execute(select(OutboxItem)).all()
        signals = {row.id: row for row in connection.execute(select(Signal)).all()}
        events = {row.id: row for row in connection.execute(select(SignalEvent)).all()}
    by_item = {m["metadata"]["event_payload"]["item"]: m for m in messages if m.get("metadata")}
    # Every acked filing: its triage post, once.
    refs = {s.ref: s for s in signals.values()}
    assert set(cluster.filed) <= set(refs), "an acked filing was not stored"
    posts = {i.signal_id: i for i in items if i.purpose == OutboxPurpose.TRIAGE_POST.value}
    for ref in cluster.filed:
        item = posts[refs[ref].id]
        assert item.id in by_item, f"{ref}: its triage post is missing"
        assert by_item[item.id]["ts"] == refs[ref].triage_ts
    # Every recorded lead action / reporter answer: one reply in its thread, in event order.
    replies = [i for i in items if i.purpose == OutboxPurpose.THREAD_REPLY.value]
    by_id = {i.id: i for i in replies}
    for signal_id in {i.signal_id for i in replies}:
        mine = sorted(
            (i for i in replies if i.signal_id == signal_id),
            key=lambda i: (events[i.event_id].created_at, events[i.event_id].id),
        )
        thread = [m for m in messages if m["thread_ts"] == signals[signal_id].triage_ts]
        in_thread = [m["metadata"]["event_payload"]["item"] for m in thread]
        assert sorted(in_thread) == sorted(i.id for i in mine), "a reply is missing or extra"
        expected = [i.id for i in mine]
        assert in_thread == expected or _same_time_swaps(in_thread, mine, events), (
            "thread out of order: "
            + repr(
                [
                    (
                        events[by_id[i].event_id].action,
                        str(events[by_id[i].event_id].created_at),
                        str(by_id[i].due_at),
                        by_id[i].attempts,
                    )
                    for i in in_thread
                ]
            )
        )
    lookups = [
        c
        for c in cluster.slack.calls
        if c.method in ("conversations.history", "conversations.replies")
    ]
    return {
        "filings": len(cluster.filed),
        "anonymous filings": len(cluster.codes),
        "replies": len(replies),
        "reporter answers": sum(
            events[i.event_id].action == "replied" for i in replies if i.event_id in events
        ),
        "messages": len(messages),
        "history lookups": len(lookups),
    }


def _same_time_swaps(in_thread: list[str], mine: list, events: dict) -> bool:
    """Events recorded within the same clock tick have no order to keep."""
    when = {i.id: events[i.event_id].created_at for i in mine}
    return [when[i] for i in in_thread] == sorted(when[i] for i in in_thread)


def crash_run(
    cluster: Cluster, *, seed: int, kills: int, filings: int, drain_timeout: float = 90.0
) -> dict[str, int]:
    rng = random.Random(seed)
    engine = create_engine(cluster.database_url)
    try:
        cluster.start()
        mid_delivery = 0
        for _ in range(kills):
            # A burst, killed somewhere in its delivery, which may still be coming in.
            before_kill = rng.randint(1, filings)
            burst(cluster, rng, before_kill)
            for _ in range(filings):  # a short burst may be out already: something to cut into
                if posts_to_come(engine) > TAIL:
                    break
                burst(cluster, rng, 1)
            await_kill_moment(cluster, engine, rng)
            mid_delivery += undelivered(engine) > 0
            cluster.kill(rng.choice(cluster.instances))
            cluster.start()
            burst(cluster, rng, filings - before_kill)
        drain(engine, cluster.slack, timeout=drain_timeout)
        cluster.stop()
        figures = check_exactly_once(cluster, engine)
        return {**figures, "kills mid-delivery": mid_delivery, "found in Slack": cluster.found()}
    finally:
        cluster.stop()
        engine.dispose()


@pytest.fixture
def slack():
    stand_in = SlackStandIn(bot_token=BOT_TOKEN)
    stand_in.add_channel(TRIAGE, name="ai-triage", is_member=True)
    stand_in.add_channel(DIGEST, name="ai-digest", is_member=True)
    for user in (ALICE, BOB, LEAD):
        stand_in.add_user(user.id, name=user.name)
    stand_in.start()
    yield stand_in
    stand_in.stop()


@pytest.mark.parametrize("slow", [False, True], ids=["slack-healthy", "slack-slow-answers"])
def test_kill_9_during_delivery_loses_nothing_and_posts_nothing_twice_sqlite(slack, tmp_path, slow):
    if slow:
        slack.set_answer_delay(SLOW_ANSWER)
    cluster = Cluster(
        slack=slack, database_url=f"sqlite:///{tmp_path / 'ai_signal.db'}", workdir=tmp_path, size=1
    )
    kills = 3 if slow else 4
    figures = crash_run(cluster, seed=20261201 + slow, kills=kills, filings=6)
    print(figures)
    assert figures["filings"] >= kills * 2, figures
    assert figures["anonymous filings"] >= 1 and figures["reporter answers"] >= 1, figures
    # (one may come a moment after the last post went out)
    assert figures["kills mid-delivery"] >= kills - 1, figures
    if slow:  # kills landed between "Slack stored it" and "the outbox knows": found, not resent
        assert figures["history lookups"] >= 1 and figures["found in Slack"] >= 1, figures


@pytest.mark.parametrize("slow", [False, True], ids=["slack-healthy", "slack-slow-answers"])
def test_kill_9_of_one_of_three_instances_postgresql(slack, tmp_path, slow):
    if slow:
        slack.set_answer_delay(SLOW_ANSWER)
    url = migrated_postgres()
    cluster = Cluster(slack=slack, database_url=url, workdir=tmp_path, size=3)
    figures = crash_run(cluster, seed=20261211 + slow, kills=3, filings=6)
    print(figures)
    assert figures["filings"] >= 6, figures
    assert figures["anonymous filings"] >= 1 and figures["reporter answers"] >= 1, figures
    assert figures["kills mid-delivery"] >= 2, figures
