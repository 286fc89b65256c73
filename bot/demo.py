"""`ai-signal demo`: the whole product on this machine, no Slack workspace needed.

Runs the real app (HTTP mode, waitress, a free local port, SQLite in a temporary folder) against
the Slack Web API stand-in that ships in bot/standin, and plays a short week: a lead puts an AI
system on record (with another name a later signal uses), members file
signals (named, anonymous, by quick command and through the modal), a lead acknowledges, asks the
anonymous reporter a question, the reporter answers with their code, reminders go out, the lead
resolves with a lesson and the review's leadership questions (a member opens the system's card),
the lessons library is searched, a signal raised again is marked a duplicate of the first, a
named reporter answers by reference, and the weekly digest goes out.
Prints what Slack would have shown.

The app runs on the story's clock: each scene moves it on to its day and hour, and the anonymous
delay is the real one, waited for by moving the clock past it (and said in the transcript).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from apscheduler.triggers.cron import CronTrigger

from bot.config import Settings
from bot.http import HttpServer, runtime_wsgi_app
from bot.jobs import digest as digest_job
from bot.jobs.reminders import send_reminders
from bot.runtime import Runtime, build_runtime
from bot.standin import SlackStandIn, render_blocks, render_view
from bot.standin.sender import SlackSender, SlackUser
from handlers import ids

TRIAGE = "CDEMOTRIAGE"
DIGEST = "CDEMODIGEST"
SIGNING_SECRET = "demo-signing-secret"
BOT_TOKEN = "xoxb-demo"

MAYA = SlackUser(id="UDEMOMAYA1", name="maya")
OMAR = SlackUser(id="UDEMOOMAR1", name="omar")
PRIYA = SlackUser(id="UDEMOPRIYA", name="priya")
LEAD = SlackUser(id="UDEMOLEAD1", name="dana.lead")
NAMES = {u.id: u.name for u in (MAYA, OMAR, PRIYA, LEAD)}


# The anonymous delay the demo really applies (seconds): as in production, a random delay, so the
# demo's clock moves on past it instead of pretending there is none.
ANON_DELAY = (300, 1800)


class DemoClock:
    """The story's time: real time shifted onto the demo week, moved on from scene to scene."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def jump_to(self, moment: datetime) -> None:
        """Move on to `moment` (never back: what was recorded stays in the past)."""
        self.offset = max(self.offset, moment - datetime.now(UTC))

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


class Demo:
    def __init__(self, *, out: TextIO, workdir: Path) -> None:
        self.out = out
        self.workdir = workdir
        self.standin = SlackStandIn(bot_token=BOT_TOKEN)
        self.standin.add_channel(TRIAGE, name="ai-triage")
        self.standin.add_channel(DIGEST, name="ai-signals")
        for user in (MAYA, OMAR, PRIYA, LEAD):
            self.standin.add_user(user.id, name=user.name)
        self.runtime: Runtime | None = None
        self.server: HttpServer | None = None
        self.sender: SlackSender | None = None
        self.clock = DemoClock()

    # -- set-up ------------------------------------------------------------------------------

    def start(self) -> None:
        self.standin.start()
        env = {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": self.standin.url,
            "DATABASE_URL": f"sqlite:///{self.workdir / 'ai_signal.db'}",
            "AI_SIGNAL_TRIAGE_CHANNEL": TRIAGE,
            "AI_SIGNAL_DIGEST_CHANNEL": DIGEST,
            "AI_SIGNAL_LEADS": LEAD.id,
            "AI_SIGNAL_ANON_DELAY": f"{ANON_DELAY[0]}-{ANON_DELAY[1]}",
        }
        settings = Settings.from_env(env, http=True)
        self.runtime = build_runtime(settings, clock=self.clock, poll_interval=0.05)
        self.runtime.warm_up()
        self.runtime.worker.start()
        wsgi = runtime_wsgi_app(self.runtime, signing_secret=SIGNING_SECRET)
        self.server = HttpServer(wsgi, host="127.0.0.1", port=0).start()
        # The story week: Monday to Friday of the week whose digest the schedule posts next
        # (the following Monday), in the configured timezone.
        trigger = CronTrigger.from_crontab(settings.digest_schedule, timezone=settings.tzinfo)
        fires = trigger.get_next_fire_time(None, self.clock())
        self.week_start = fires.replace(hour=0, minute=0, second=0, microsecond=0)
        self.sender = SlackSender(
            url=f"http://127.0.0.1:{self.server.port}/slack/events",
            signing_secret=SIGNING_SECRET,
            trigger_ids=self.standin.issue_trigger_id,
            response_urls=self.standin.new_response_url,
        )
        self.say(
            f"ai-signal demo — the real app on http://127.0.0.1:{self.server.port}/slack/events, "
            f"SQLite in {self.workdir}, Slack played by a local stand-in.\n"
            f"#ai-triage is the leads' triage channel, #ai-signals gets the weekly digest; "
            f"{LEAD.name} is a lead.\n"
        )

    def stop(self) -> None:
        if self.server:
            self.server.stop()
        if self.runtime:
            self.runtime.stop()
        self.standin.stop()

    # -- printing ----------------------------------------------------------------------------

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def step(self, title: str) -> None:
        self.say(f"\n── {title} " + "─" * max(0, 72 - len(title)))

    def private(self, who: SlackUser, text: str) -> None:
        self.say(self._indent(f"[only {who.name} sees] {text}"))

    @staticmethod
    def _indent(text: str, prefix: str = "  ") -> str:
        return "\n".join(prefix + line for line in text.splitlines())

    def _named(self, text: str) -> str:
        for user_id, name in NAMES.items():
            text = text.replace(user_id, name)
        return text

    def show_new_slack_calls(self, since: int) -> int:
        calls = self.standin.calls
        for call in calls[since:]:
            if call.ok and call.method == "files.completeUploadExternal":
                where = {TRIAGE: "#ai-triage", DIGEST: "#ai-signals"}.get(
                    call.params.get("channel_id"), "a channel"
                )
                titles = ", ".join(
                    str(f.get("title")) for f in call.response.get("files") or [] if f
                )
                self.say(self._indent(f"[{where} · file shared: {titles}]"))
                continue
            if not call.ok or call.method not in (
                "chat.postMessage",
                "chat.update",
                "chat.postEphemeral",
            ):
                continue
            channel = {TRIAGE: "#ai-triage", DIGEST: "#ai-signals"}.get(
                call.params.get("channel"), ""
            )
            where = channel or f"DM to {NAMES.get(call.params.get('channel', ''), 'someone')}"
            if call.method == "chat.update":
                head = f"{where} · parent post updated"
            elif call.params.get("thread_ts"):
                head = f"{where} · thread reply"
            elif call.method == "chat.postEphemeral":
                head = f"{where} · only {NAMES.get(call.params.get('user', ''), 'them')} sees"
            else:
                head = where
            body = render_blocks(call.params.get("blocks")) or str(call.params.get("text", ""))
            self.say(self._indent(f"[{head}]\n{self._named(body)}"))
        return len(calls)

    # -- helpers that act like Slack ---------------------------------------------------------

    def wait_quiet(self, seconds: float = 0.3) -> None:
        """Let the delivery worker drain: wait until the outbox holds nothing due (an anonymous
        post inside its delay is not due yet)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if not self.runtime.services.delivery.health()["due"]:
                break
            time.sleep(0.05)
        time.sleep(seconds)

    def command(self, who: SlackUser, text: str) -> str:
        self.say(f"{who.name} types: /ai-signal {text}".rstrip())
        reply = self.sender.command(user=who, text=text)
        answer = (reply.json() or {}).get("text", "") if reply.body else ""
        if answer:
            self.private(who, answer)
        return answer

    def triage_post(self, ref: str) -> dict[str, Any]:
        for message in self.standin.messages(TRIAGE):
            if not message.get("thread_ts") and ref in str(message.get("blocks")):
                return message
        raise RuntimeError(f"{ref} was not posted")

    def press(self, who: SlackUser, action_id: str, ref: str) -> None:
        message = self.triage_post(ref)
        self.sender.block_action(
            user=who,
            action_id=action_id,
            value=ref,
            block_id=ids.TRIAGE_ACTIONS_BLOCK,
            channel_id=TRIAGE,
            message=message,
            container={"type": "message", "message_ts": message["ts"], "channel_id": TRIAGE},
        )

    def last_view(self) -> dict[str, Any]:
        return self.standin.wait_for("views.open", timeout=5)[-1].params["view"]

    # -- the story ---------------------------------------------------------------------------

    def run(self) -> None:
        seen = 0
        self.step(f"{self.at(0, 9, 0)}: {LEAD.name} puts an AI system on record")
        self.register_system()
        seen = self.show_new_slack_calls(seen)

        self.step(f"{self.at(0, 9, 40)}: Maya files a named signal with one line")
        answer = self.command(
            MAYA, "drift fraud-model: precision fell from 0.91 to 0.78 since the holiday data"
        )
        named_ref = answer.split("*")[1]
        self.wait_quiet()
        seen = self.show_new_slack_calls(seen)

        self.step(f"{self.at(1, 10, 15)}: Omar raises a concern anonymously")
        answer = self.command(
            OMAR, "anon bias credit-model: declines far more applicants over 60 <!channel>"
        )
        anon_ref = answer.split("*")[1]
        code = answer.split("`")[1]
        self.wait_quiet()
        seen = self.show_new_slack_calls(seen)
        self.pass_the_delay("the anonymous post is released after its random delay")
        seen = self.show_new_slack_calls(seen)

        self.step(f"{self.at(2, 9, 0)}: Priya uses the form")
        opened = len(self.standin.calls_to("views.open"))
        self.command(PRIYA, "")
        self.standin.wait_for("views.open", count=opened + 1)
        view = self.last_view()
        self.say(self._indent("[modal opens for priya]\n" + render_view(view)))
        values = {
            ids.KIND_BLOCK: {
                ids.KIND_INPUT: {
                    "type": "static_select",
                    "selected_option": {"value": "data-quality"},
                }
            },
            ids.SYSTEM_BLOCK: {
                ids.SYSTEM_INPUT: {"type": "plain_text_input", "value": "support-chatbot"}
            },
            ids.TEXT_BLOCK: {
                ids.TEXT_INPUT: {
                    "type": "plain_text_input",
                    "value": "Training tickets still include the old return policy, so answers are wrong.",
                }
            },
            ids.IMPACT_BLOCK: {
                ids.IMPACT_INPUT: {
                    "type": "plain_text_input",
                    "value": "Customers get wrong refund information.",
                }
            },
            ids.IDENTITY_BLOCK: {
                ids.IDENTITY_INPUT: {
                    "type": "radio_buttons",
                    "selected_option": {"value": ids.IDENTITY_NAMED},
                }
            },
        }
        reply = self.sender.view_submission(user=PRIYA, view=view, values=values)
        receipt = (reply.json() or {}).get("view") or {}
        self.private(PRIYA, render_view(receipt))
        self.wait_quiet()
        seen = self.show_new_slack_calls(seen)

        self.step(
            f"{self.at(2, 11, 30)}: {LEAD.name} acknowledges {anon_ref} and asks the reporter "
            "a question"
        )
        self.press(LEAD, ids.ACKNOWLEDGE_ACTION, anon_ref)
        self.wait_quiet()
        self.ask(anon_ref, "Which months of applications did you compare?")
        self.wait_quiet()
        seen = self.show_new_slack_calls(seen)

        self.step(
            f"{self.at(3, 8, 30)}: the anonymous reporter checks in with their code and answers"
        )
        self.command(OMAR, f"status {code}")
        self.command(OMAR, f"reply {code} September against March, same branch mix")
        self.wait_quiet()
        seen = self.show_new_slack_calls(seen)
        self.pass_the_delay("the anonymous answer reaches the thread after its random delay")
        seen = self.show_new_slack_calls(seen)

        self.step(
            f"{self.at(4, 9, 30)}: the reminder job nudges the leads about signals waiting "
            f"over {self.runtime.settings.ack_reminder_hours:g} h"
        )
        send_reminders(
            self.runtime.services.triage,
            every=timedelta(hours=self.runtime.settings.ack_reminder_hours),
        )
        self.wait_quiet()
        seen = self.show_new_slack_calls(seen)

        self.step(f"{self.at(4, 14, 0)}: {LEAD.name} resolves {anon_ref} with a blameless review")
        opened = len(self.standin.calls_to("views.open"))
        self.press(LEAD, ids.RESOLVE_ACTION, anon_ref)
        self.standin.wait_for("views.open", count=opened + 1)
        self.sender.view_submission(
            user=LEAD,
            view=self.last_view(),
            values={
                ids.DONE_BLOCK: {
                    ids.DONE_INPUT: {
                        "type": "plain_text_input",
                        "value": "Removed age-correlated features, re-validated per age band.",
                    }
                },
                ids.ASSUMPTION_BLOCK: {
                    ids.ASSUMPTION_INPUT: {
                        "type": "plain_text_input",
                        "value": "That the training sample matched today's applicants.",
                    }
                },
                ids.PATTERN_BLOCK: {
                    ids.PATTERN_INPUT: {
                        "type": "static_select",
                        "selected_option": {"value": "data-optimism"},
                    }
                },
                ids.LESSON_BLOCK: {
                    ids.LESSON_INPUT: {
                        "type": "plain_text_input",
                        "value": "Check fairness per age band before every release.",
                    }
                },
                **self.review_answers(),
            },
        )
        self.wait_quiet()
        seen = self.show_new_slack_calls(seen)
        self.command(OMAR, f"status {code}")
        self.command(MAYA, "lessons age")
        self.open_card(MAYA, "loan-scoring")

        self.command(MAYA, "lessons fairness pattern:data-optimism since:2000-01-01")

        self.step(
            f"{self.at(4, 14, 30)}: Priya raises the fraud-model fall again; its post shows what "
            "was seen before"
        )
        answer = self.command(PRIYA, "drift fraud-model: precision keeps falling on new cards")
        again_ref = answer.split("*")[1]
        self.wait_quiet()
        seen = self.show_new_slack_calls(seen)

        self.step(
            f"{self.at(4, 15, 0)}: {LEAD.name} acknowledges {named_ref}; Maya answers the "
            "lead's question"
        )
        self.press(LEAD, ids.ACKNOWLEDGE_ACTION, named_ref)
        self.wait_quiet()
        self.ask(named_ref, "Which dashboard shows the fall?")
        self.wait_quiet()
        seen = self.show_new_slack_calls(seen)
        self.command(MAYA, f"reply {named_ref} The fraud-ops weekly dashboard, precision panel")
        self.wait_quiet()
        seen = self.show_new_slack_calls(seen)

        self.step(
            f"{self.at(4, 16, 0)}: {LEAD.name} marks {again_ref} a duplicate of {named_ref}: "
            "Priya is thanked and follows its outcome"
        )
        self.mark_duplicate(again_ref, named_ref)

        self.step(f"{self.at(4, 16, 30)}: Maya files one more, then takes it back")
        answer = self.command(
            MAYA, "edge-case fraud-model: sent too soon, I want to check it first"
        )
        extra_ref = answer.split("*")[1]
        self.wait_quiet()
        seen = self.show_new_slack_calls(seen)
        self.command(MAYA, f"withdraw {extra_ref}")
        self.wait_quiet()
        seen = self.show_new_slack_calls(seen)

        self.clock.jump_to(next_digest_time(self.runtime.settings, self.clock()))
        self.step(f"{self.now_words()}: the weekly digest")
        result = digest_job.send_digest(self.runtime.digest)
        self.say(f"  digest {result.status.value} to #ai-signals")
        self.wait_quiet()
        seen = self.show_new_slack_calls(seen)

        self.step("The review board's report of the week: `ai-signal review`")
        self.review_report()

        self.step("What was stored")
        self.summary()

    # -- systems on record -------------------------------------------------------------------

    def register_system(self) -> None:
        """The lead registers loan-scoring (also called credit-model) with its record."""
        opened = len(self.standin.calls_to("views.open"))
        self.command(LEAD, "system loan-scoring")
        self.standin.wait_for("views.open", count=opened + 1)
        view = self.standin.calls_to("views.open")[opened].response["view"]
        self.say(self._indent(f"[modal opens for {LEAD.name}]\n" + render_view(view)))
        record = {
            ids.SYSTEM_NAME_BLOCK: "loan-scoring",
            ids.SYSTEM_ALIASES_BLOCK: "credit-model, loan model",
            ids.SYSTEM_DECISION_BLOCK: "Approve, refer or decline a consumer loan application",
            ids.SYSTEM_SUCCESS_BLOCK: "Default rate under 3% at today's approval rate",
            ids.SYSTEM_SOURCES_BLOCK: "Application forms, credit bureau files 2019-2024",
            ids.SYSTEM_CONSTRAINTS_BLOCK: "Bureau files lag two months",
            ids.SYSTEM_ETHICS_BLOCK: "Age and postcode must not drive decisions",
            ids.SYSTEM_DOC_BLOCK: "https://wiki.example.com/loan-scoring/model-card",
        }
        values = {
            block: {self._input_of(view, block): {"type": "plain_text_input", "value": value}}
            for block, value in record.items()
        }
        values[ids.SYSTEM_STAGE_BLOCK] = {
            ids.SYSTEM_STAGE_INPUT: {
                "type": "static_select",
                "selected_option": {"value": "production"},
            }
        }
        reply = self.sender.view_submission(user=LEAD, view=view, values=values)
        card = (reply.json() or {}).get("view") or {}
        self.say(self._indent(f"[the card {LEAD.name} sees now]\n" + render_view(card)))

    @staticmethod
    def _input_of(view: dict[str, Any], block_id: str) -> str:
        return next(
            b["element"]["action_id"] for b in view["blocks"] if b.get("block_id") == block_id
        )

    def review_answers(self) -> dict[str, Any]:
        """The leadership questions of the review; the first two as prefilled from the record."""
        view = self.last_view()
        prefilled = {
            b["block_id"]: b["element"].get("initial_value")
            for b in view["blocks"]
            if b.get("block_id") in (ids.REVIEW_DECISION_BLOCK, ids.REVIEW_SUCCESS_BLOCK)
        }
        answers = {
            ids.REVIEW_DECISION_BLOCK: prefilled.get(ids.REVIEW_DECISION_BLOCK),
            ids.REVIEW_SUCCESS_BLOCK: "Default rate only; approval rates per age band were "
            "never part of success",
            ids.REVIEW_CONSTRAINT_BLOCK: "The 2019-2024 sample under-represents applicants over 60",
            ids.REVIEW_MISSED_BLOCK: "A branch manager's note in March about older applicants",
        }
        return {
            block: {self._input_of(view, block): {"type": "plain_text_input", "value": value}}
            for block, value in answers.items()
        }

    def open_card(self, who: SlackUser, name: str) -> None:
        opened = len(self.standin.calls_to("views.open"))
        self.command(who, f"system {name}")
        self.standin.wait_for("views.open", count=opened + 1)
        card = self.standin.calls_to("views.open")[opened].params["view"]
        self.say(self._indent(f"[the card opens for {who.name}]\n" + render_view(card)))

    def review_report(self) -> None:
        """Run `ai-signal review` as an operator would (its own process, the demo's database)
        and say where the HTML report is: outside the demo's working folder, so it stays."""
        first = self.week_start.date().isoformat()
        last = self.clock().date().isoformat()
        folder = Path(tempfile.mkdtemp(prefix="ai-signal-review-"))
        path = folder / f"ai-signal-review-{first}.html"
        command = ["review", "--from", first, "--to", last, "--format", "html"]
        self.say(f"  $ ai-signal {' '.join(command)} --output {path}")
        done = subprocess.run(
            [sys.executable, "-m", "bot", *command, "--output", str(path)],
            env={**os.environ, "DATABASE_URL": self.runtime.settings.database_url},
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"ai-signal review failed: {done.stderr.strip()[-500:]}")
        self.say(f"  {done.stdout.strip()}")
        self.say(f"  Review report (open it in a browser, no network needed): {path}")

    # -- the story's clock -------------------------------------------------------------------

    def at(self, day: int, hour: int, minute: int = 0) -> str:
        """Move the clock to `day` of the story week (0 = its Monday) at hour:minute; say when."""
        self.clock.jump_to(self.week_start + timedelta(days=day, hours=hour, minutes=minute))
        return self.now_words()

    def now_words(self) -> str:
        return f"{self.clock().astimezone(self.runtime.settings.tzinfo):%A %H:%M}"

    def pass_the_delay(self, why: str) -> None:
        """Move the clock past the longest anonymous delay (releases fall on whole minutes)."""
        delay = timedelta(seconds=ANON_DELAY[1]) + timedelta(minutes=2)
        self.clock.advance(delay)
        self.say(
            f"  (the demo's clock moves on {int(delay.total_seconds() // 60)} min, to "
            f"{self.now_words()}: {why})"
        )
        self.wait_quiet()

    def ask(self, ref: str, question: str) -> None:
        opened = len(self.standin.calls_to("views.open"))
        self.press(LEAD, ids.ASK_ACTION, ref)
        self.standin.wait_for("views.open", count=opened + 1)
        self.sender.view_submission(
            user=LEAD,
            view=self.last_view(),
            values={
                ids.QUESTION_BLOCK: {
                    ids.QUESTION_INPUT: {"type": "plain_text_input", "value": question}
                }
            },
        )

    def mark_duplicate(self, ref: str, primary: str) -> None:
        opened = len(self.standin.calls_to("views.open"))
        self.press(LEAD, ids.DUPLICATE_ACTION, ref)
        self.standin.wait_for("views.open", count=opened + 1)
        self.sender.view_submission(
            user=LEAD,
            view=self.last_view(),
            values={
                ids.PRIMARY_BLOCK: {
                    ids.PRIMARY_INPUT: {"type": "plain_text_input", "value": primary}
                }
            },
        )

    def summary(self) -> None:
        from sqlalchemy import func, select

        from models import OutboxItem, Signal, SignalEvent

        with self.runtime.sessions() as session:
            signals = session.scalars(select(Signal).order_by(Signal.ref)).all()
            events = session.scalar(select(func.count()).select_from(SignalEvent))
            outbox = dict(
                session.execute(
                    select(OutboxItem.state, func.count()).group_by(OutboxItem.state)
                ).all()
            )
            for s in signals:
                reporter = (
                    "anonymous (no reporter stored)"
                    if s.anonymous
                    else NAMES.get(s.reporter_id or "", "?")
                )
                self.say(f"  {s.ref:<11} {s.kind:<13} {s.status:<13} {reporter}")
        self.say(f"  {events} history events; outbox: {outbox}")
        self.say(f"  Slack Web API calls made: {len(self.standin.calls)}")


def next_digest_time(settings: Settings, now: datetime) -> datetime:
    """A minute after the schedule next fires: the digest then covers the story's week."""
    trigger = CronTrigger.from_crontab(settings.digest_schedule, timezone=settings.tzinfo)
    return trigger.get_next_fire_time(None, now) + timedelta(minutes=1)


def run_demo(*, keep: str | None = None, out: TextIO = sys.stdout) -> int:
    logging.basicConfig(level=logging.WARNING, format="  (log) %(levelname)s %(name)s: %(message)s")
    workdir = Path(keep).resolve() if keep else Path(tempfile.mkdtemp(prefix="ai-signal-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    demo = Demo(out=out, workdir=workdir)
    started = time.monotonic()
    try:
        demo.start()
        demo.run()
    finally:
        demo.stop()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    demo.say(
        f"\nDemo finished in {time.monotonic() - started:.1f} s."
        + (f" Database kept in {workdir}." if keep else "")
    )
    return 0
