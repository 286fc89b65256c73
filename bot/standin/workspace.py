"""The Slack stand-in's workspace state and its Web API methods.

`Workspace` holds what a Slack workspace holds for this app (channels, users and user groups,
messages and ephemerals, views, issued trigger ids and response URLs) and the faults a test can
queue (failures, dropped or late answers, rate limits, a slow or down Slack). Its `_methods` table
maps each Web API method the app uses to the function that answers it against that state; the HTTP
server in `bot.standin.server` parses requests, checks the token and calls them under `_lock`.
"""

from __future__ import annotations

import copy
import itertools
import math
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.standin.blocks import (
    MESSAGE_TEXT_TRUNCATE_AT,
    UPDATE_TEXT_MAX,
    Surface,
    validate_blocks,
    validate_view,
)
from bot.standin.files import (
    FILES_SCOPE,
    StoredFile,
    new_upload_token,
    parse_files,
    parse_length,
)

__all__ = ["APP_ID", "BOT_ID", "BOT_USER_ID", "TEAM_ID", "Call", "Workspace"]

BOT_USER_ID = "UBOTSTANDIN"
BOT_ID = "BSTANDIN"
TEAM_ID = "TSTANDIN"
TEAM_NAME = "Stand-in"
TEAM_URL = "https://standin.slack.test/"
APP_ID = "ASTANDIN"


@dataclass(frozen=True)
class Call:
    """One request the stand-in received and what it answered.

    `params` merges query string and body (form, multipart or JSON); form fields holding a JSON
    array/object string (blocks, attachments, view, metadata, ...) are decoded. `headers` has
    lower-cased keys and case-insensitive lookups. `path` is the request path.
    """

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    raw_body: bytes
    status: int
    response: dict[str, Any]
    at: float
    path: str = ""

    @property
    def ok(self) -> bool:
        """True when answered with HTTP 200 and `"ok": true`."""
        return self.status == 200 and self.response.get("ok") is True

    @property
    def error(self) -> str | None:
        """The error code answered, if any."""
        error = self.response.get("error")
        return error if isinstance(error, str) else None


# --------------------------------------------------------------------------------------------
# Answers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Reply:
    body: dict[str, Any]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    # set on an accepted call whose answer comes late or never (see SlackStandIn.drop_answer_next)
    fault: _AnswerFault | None = None
    text: str | None = None  # a plain-text answer instead of JSON (the file upload URL's)


@dataclass(frozen=True)
class _AnswerFault:
    delay: float
    drop: bool


@dataclass(frozen=True)
class _Failure:
    error: str
    status: int
    retry_after: int


def _ok(**fields: Any) -> _Reply:
    return _Reply({"ok": True, **fields})


def _err(
    error: str, *, status: int = 200, messages: list[str] | None = None, **extra: Any
) -> _Reply:
    body: dict[str, Any] = {"ok": False, "error": error, **extra}
    if messages:
        body["response_metadata"] = {"messages": [f"[ERROR] {m}" for m in messages]}
    return _Reply(body, status)


def _missing(name: str) -> _Reply:
    return _err("invalid_arguments", messages=[f"missing required field: {name}"])


def _check_rate_limit(rate_limit: tuple[float, float] | None) -> None:
    if rate_limit is not None:
        rate, burst = rate_limit
        if rate <= 0 or burst < 1:
            raise ValueError("channel_rate_limit needs rate > 0 and burst >= 1")


class Workspace:
    """Channels, users, messages, views, issued ids and queued faults, and the Web API methods
    answering against them. Callers hold `_lock`; `_changed` is notified when a call is recorded."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-standin",
        trigger_ttl: float = 3.0,
        channel_rate_limit: tuple[float, float] | None = None,
        scopes: Iterable[str] | None = None,
    ) -> None:
        _check_rate_limit(channel_rate_limit)
        self.bot_token = bot_token
        # None: the token has every scope; otherwise methods that need one answer missing_scope
        self.scopes = None if scopes is None else frozenset(scopes)
        self.trigger_ttl = trigger_ttl
        self.channel_rate_limit = channel_rate_limit
        self.socket_mode_url: str | None = None
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        # directory (kept by reset)
        self._channels: dict[str, dict[str, Any]] = {}
        self._usergroups: dict[str, list[str]] = {}
        self._users: dict[str, dict[str, Any]] = {}
        # state (cleared by reset)
        self._calls: list[Call] = []
        self._recorded = 0  # calls recorded since the start (reset keeps counting)
        self._messages: dict[str, list[dict[str, Any]]] = {}
        self._ephemerals: list[dict[str, Any]] = []
        self._failures: dict[str, deque[_Failure]] = {}
        self._buckets: dict[str, tuple[float, float]] = {}
        self._views: dict[str, dict[str, Any]] = {}
        self._home_view_ids: dict[str, str] = {}
        self._down = False
        self._slow: dict[str, float] = {}
        # after a post is stored: answer late (or never) — the outcome the client cannot see
        self._answer_faults: dict[str, deque[_AnswerFault]] = {}
        self._answer_delay: dict[str, float] = {}
        # issued identifiers
        self._triggers: dict[str, float] = {}
        self._used_triggers: set[str] = set()
        self._response_urls: set[str] = set()
        self._ts_micros = 0
        self._ids = itertools.count(1)
        # files.getUploadURLExternal -> upload URL -> files.completeUploadExternal
        self.upload_url_base: str | None = None  # set by the HTTP server when it starts
        self._files: dict[str, StoredFile] = {}
        self._methods: dict[str, Callable[[dict[str, Any]], _Reply]] = {
            "auth.test": self._auth_test,
            "apps.connections.open": self._apps_connections_open,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "conversations.info": self._conversations_info,
            "conversations.join": self._conversations_join,
            "conversations.open": self._conversations_open,
            "usergroups.users.list": self._usergroups_users_list,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
        }

    # ---- directory ---------------------------------------------------------------------------

    def add_channel(
        self,
        channel_id: str,
        *,
        name: str | None = None,
        is_private: bool = False,
        is_member: bool = True,
        num_members: int = 50,
    ) -> None:
        """Register a channel (replaces one with the same id)."""
        with self._lock:
            self._channels[channel_id] = {
                "id": channel_id,
                "name": name if name is not None else channel_id.lower(),
                "is_private": is_private,
                "is_member": is_member,
                "is_im": False,
                "num_members": num_members,
            }

    def add_usergroup(self, usergroup_id: str, *, users: Iterable[str]) -> None:
        """Register a user group (answers usergroups.users.list)."""
        with self._lock:
            self._usergroups[usergroup_id] = list(users)

    def add_user(self, user_id: str, *, name: str | None = None) -> None:
        """Register a user: chat.postMessage/postEphemeral to a user id posts in their DM."""
        with self._lock:
            self._users[user_id] = {"id": user_id, "name": name or user_id.lower()}

    def dm_channel_id(self, user_id: str) -> str:
        """The id of the bot's DM channel with a user ("D" + the id without its first letter)."""
        return f"D{user_id[1:]}"

    # ---- test controls ---------------------------------------------------------------------

    def reset(self) -> None:
        """Forget calls, messages, views, queued failures, rate buckets, set_slow and set_down.

        Channels (with their membership), users and user groups are kept.
        """
        with self._lock:
            self._calls.clear()
            self._messages.clear()
            self._ephemerals.clear()
            self._failures.clear()
            self._buckets.clear()
            self._views.clear()
            self._home_view_ids.clear()
            self._down = False
            self._slow.clear()
            self._answer_faults.clear()
            self._answer_delay.clear()
            self._files.clear()
            self._changed.notify_all()

    def issue_trigger_id(self) -> str:
        """A fresh trigger id: views.open/views.push accept it once within `trigger_ttl` s."""
        with self._lock:
            trigger_id = f"{next(self._ids)}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"
            self._triggers[trigger_id] = time.monotonic()
            return trigger_id

    def fail_next(
        self,
        method: str,
        *,
        error: str | None = None,
        status: int = 200,
        retry_after: int = 1,
        times: int = 1,
    ) -> None:
        """Make the next `times` calls of `method` fail (before auth or any other check).

        status 429 answers HTTP 429 with a Retry-After header; another non-200 status answers
        that status; 200 answers {"ok": false, "error": error}. `error` defaults to "ratelimited"
        for 429 and "internal_error" otherwise. `method` may also be "response_url", or "upload"
        (a POST of a file's bytes to its upload URL).
        """
        if error is None:
            error = "ratelimited" if status == 429 else "internal_error"
        with self._lock:
            queue = self._failures.setdefault(method, deque())
            queue.extend(_Failure(error, status, retry_after) for _ in range(times))

    def drop_answer_next(
        self, method: str = "chat.postMessage", *, delay: float = 0.0, times: int = 1
    ) -> None:
        """Accept the next `times` successful calls of `method` (the post is stored), then wait
        `delay` seconds and close the connection without an answer: the client cannot tell
        whether Slack has the message."""
        with self._lock:
            queue = self._answer_faults.setdefault(method, deque())
            queue.extend(_AnswerFault(delay=delay, drop=True) for _ in range(times))

    def delay_answer_next(
        self, method: str = "chat.postMessage", *, delay: float, times: int = 1
    ) -> None:
        """Accept the next `times` successful calls of `method`, then answer `delay` s late (a
        client that times out first never learns that the post went through)."""
        with self._lock:
            queue = self._answer_faults.setdefault(method, deque())
            queue.extend(_AnswerFault(delay=delay, drop=False) for _ in range(times))

    def set_answer_delay(self, delay: float, method: str = "chat.postMessage") -> None:
        """Answer every successful call of `method` `delay` s after storing it (0 switches it
        off): Slack slow to answer after accepting a post."""
        with self._lock:
            if delay > 0:
                self._answer_delay[method] = delay
            else:
                self._answer_delay.pop(method, None)

    def set_channel_rate_limit(self, rate_limit: tuple[float, float] | None) -> None:
        """Switch the per-channel chat.postMessage limit (messages/s, burst) on, change it, or
        switch it off (None); every channel starts again with a full burst."""
        _check_rate_limit(rate_limit)
        with self._lock:
            self.channel_rate_limit = rate_limit
            self._buckets.clear()

    def set_slow(self, method: str, seconds: float | None) -> None:
        """While set, every call of `method` is answered `seconds` late (a slow Slack); None or
        0 answers it at once again. Other calls are not held up."""
        with self._lock:
            if seconds:
                self._slow[method] = seconds
            else:
                self._slow.pop(method, None)

    def set_down(self, down: bool = True) -> None:
        """While down, every Web API call answers HTTP 503."""
        with self._lock:
            self._down = down

    # ---- inspection ----------------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        """A snapshot of every recorded call, in arrival order."""
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str, *, include_errors: bool = False) -> list[Call]:
        """Calls of `method`; only those answered ok unless include_errors."""
        with self._lock:
            return [c for c in self._calls if c.method == method and (include_errors or c.ok)]

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Block until at least `count` ok calls of `method` exist; return them all.

        Raises AssertionError (listing what was seen) after `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [c for c in self._calls if c.method == method and c.ok]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"waited {timeout:g}s for {count} ok {method} call(s), got {len(found)}; "
                        f"calls seen: {self._describe_calls()}"
                    )
                self._changed.wait(remaining)

    def wait_for_calls(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """`wait_for` by a name that says what it waits for."""
        return self.wait_for(method, count, timeout)

    def wait_until(
        self,
        predicate: Callable[[], Any],
        *,
        timeout: float = 8.0,
        what: str = "",
        recheck: float = 0.05,
    ) -> Any:
        """Block until `predicate()` is truthy and return its value; AssertionError after
        `timeout` seconds.

        The predicate is checked again as soon as the stand-in records a call, and at least every
        `recheck` seconds for what follows a call (the app storing Slack's answer). It runs
        outside the stand-in's lock, so it may read the stand-in and the app's database freely.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                seen = self._recorded
            value = predicate()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                with self._lock:
                    calls = self._describe_calls()
                raise AssertionError(
                    f"waited {timeout:g}s for {what or predicate}; calls seen: {calls}"
                )
            with self._changed:
                if self._recorded == seen:
                    self._changed.wait(min(remaining, recheck))

    def _describe_calls(self) -> str:
        if not self._calls:
            return "none"
        counts: Counter[str] = Counter()
        for call in self._calls:
            counts[call.method if call.ok else f"{call.method} -> {call.error or call.status}"] += 1
        return ", ".join(f"{name} x{n}" for name, n in counts.items())

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Messages posted in a channel (id, #name, or a user id for their DM), in post order.

        Each is {"ts", "channel", "text", "blocks", "thread_ts", "metadata", "updated"} (a copy).
        """
        with self._lock:
            resolved = self._resolve_channel(channel)
            channel_id = resolved["id"] if resolved else channel
            return copy.deepcopy(self._messages.get(channel_id, []))

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """Replies posted with thread_ts == ts, in post order."""
        return [m for m in self.messages(channel) if m["thread_ts"] == ts]

    def ephemerals(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Ephemeral messages: {"message_ts", "channel", "user", "text", "blocks", "thread_ts"}."""
        with self._lock:
            resolved = self._resolve_channel(channel) if channel else None
            channel_id = resolved["id"] if resolved else channel
            found = [e for e in self._ephemerals if channel is None or e["channel"] == channel_id]
            return copy.deepcopy(found)

    def files(self) -> list[StoredFile]:
        """Every file an upload was started for, in the order the upload URLs were issued."""
        with self._lock:
            return list(self._files.values())

    def view(self, view_id: str) -> dict[str, Any] | None:
        """The current state of a view opened, pushed, updated or published here."""
        with self._lock:
            view = self._views.get(view_id)
            return copy.deepcopy(view) if view is not None else None

    def _with_answer_fault(self, method: str, reply: _Reply) -> _Reply:
        queue = self._answer_faults.get(method)
        if queue:
            return _Reply(reply.body, reply.status, reply.headers, fault=queue.popleft())
        delay = self._answer_delay.get(method)
        if delay:
            return _Reply(reply.body, reply.status, reply.headers, _AnswerFault(delay, False))
        return reply

    def _queued_failure(self, method: str) -> _Reply | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue.popleft()
        if failure.status == 429:
            retry = str(max(0, int(failure.retry_after)))
            return _Reply({"ok": False, "error": failure.error}, 429, {"Retry-After": retry})
        return _Reply({"ok": False, "error": failure.error}, failure.status)

    # ---- helpers -------------------------------------------------------------------------------

    def _next_ts(self) -> str:
        """Unix time in microseconds like Slack's ts, strictly increasing (so `oldest` and
        `latest` bounds in conversations.history work as they do on Slack)."""
        self._ts_micros = max(int(time.time() * 1_000_000), self._ts_micros + 100)
        seconds, micros = divmod(self._ts_micros, 1_000_000)
        return f"{seconds}.{micros:06d}"

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):010d}"

    def _resolve_channel(self, value: Any) -> dict[str, Any] | None:
        if not isinstance(value, str) or not value:
            return None
        if value in self._channels:
            return self._channels[value]
        if value in self._users:
            return self._dm(value)
        for user_id in self._users:
            if self.dm_channel_id(user_id) == value:
                return self._dm(user_id)
        name = value.removeprefix("#")
        for channel in self._channels.values():
            if channel["name"] == name:
                return channel
        return None

    def _dm(self, user_id: str) -> dict[str, Any]:
        return {
            "id": self.dm_channel_id(user_id),
            "name": user_id,
            "is_private": True,
            "is_member": True,
            "is_im": True,
            "user": user_id,
        }

    def _find_message(self, channel_id: str, ts: Any) -> dict[str, Any] | None:
        for message in self._messages.get(channel_id, []):
            if message["ts"] == ts:
                return message
        return None

    def _rate_limited(self, channel_id: str) -> _Reply | None:
        if self.channel_rate_limit is None:
            return None
        rate, burst = self.channel_rate_limit
        now = time.monotonic()
        tokens, last = self._buckets.get(channel_id, (float(burst), now))
        tokens = min(float(burst), tokens + (now - last) * rate)
        if tokens >= 1.0:
            self._buckets[channel_id] = (tokens - 1.0, now)
            return None
        self._buckets[channel_id] = (tokens, now)
        retry_after = max(1, math.ceil((1.0 - tokens) / rate))
        return _Reply({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": str(retry_after)})

    @staticmethod
    def _blocks_param(params: dict[str, Any], surface: Surface) -> tuple[Any, _Reply | None]:
        """Return (blocks or None, error reply or None)."""
        blocks = params.get("blocks")
        if blocks is None or blocks == "":
            return None, None
        if not isinstance(blocks, list):
            return None, _err("invalid_blocks_format")
        problems = validate_blocks(blocks, surface=surface)
        if problems:
            return None, _err("invalid_blocks", messages=problems, errors=problems)
        return blocks, None

    @staticmethod
    def _metadata_param(params: dict[str, Any]) -> tuple[Any, _Reply | None]:
        metadata = params.get("metadata")
        if metadata is None or metadata == "":
            return None, None
        if (
            not isinstance(metadata, dict)
            or not isinstance(metadata.get("event_type"), str)
            or not isinstance(metadata.get("event_payload"), dict)
        ):
            return None, _err("invalid_metadata_format")
        return metadata, None

    def _message_payload(self, message: dict[str, Any]) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": TEAM_ID,
            "ts": message["ts"],
            "text": message["text"],
        }
        if message["blocks"] is not None:
            payload["blocks"] = message["blocks"]
        if message["thread_ts"] is not None:
            payload["thread_ts"] = message["thread_ts"]
        if message["metadata"] is not None:
            payload["metadata"] = message["metadata"]
        if message.get("files"):
            payload["files"] = message["files"]
        if message["updated"]:
            payload["edited"] = {"user": BOT_USER_ID, "ts": message["ts"]}
        return payload

    # ---- Web API methods ---------------------------------------------------------------------

    def _auth_test(self, params: dict[str, Any]) -> _Reply:
        return _ok(
            url=TEAM_URL,
            team=TEAM_NAME,
            user="standin-bot",
            team_id=TEAM_ID,
            user_id=BOT_USER_ID,
            bot_id=BOT_ID,
            is_enterprise_install=False,
        )

    def _apps_connections_open(self, params: dict[str, Any]) -> _Reply:
        if self.socket_mode_url is None:
            return _err("socket_mode_not_enabled")
        return _ok(url=self.socket_mode_url)

    def _chat_post_message(self, params: dict[str, Any]) -> _Reply:
        channel = self._resolve_channel(params.get("channel"))
        if channel is None:
            return _err("channel_not_found")
        if not channel["is_member"]:
            return _err("not_in_channel")
        limited = self._rate_limited(channel["id"])
        if limited is not None:
            return limited
        blocks, problem = self._blocks_param(params, "message")
        if problem is not None:
            return problem
        metadata, problem = self._metadata_param(params)
        if problem is not None:
            return problem
        text = "" if params.get("text") is None else str(params["text"])
        if not text and not blocks and not params.get("attachments"):
            return _err("no_text")
        thread_ts = params.get("thread_ts")
        thread_ts = str(thread_ts) if thread_ts not in (None, "") else None
        if thread_ts is not None and self._find_message(channel["id"], thread_ts) is None:
            return _err("thread_not_found")
        message = {
            "ts": self._next_ts(),
            "channel": channel["id"],
            "text": text[:MESSAGE_TEXT_TRUNCATE_AT],
            "blocks": blocks,
            "thread_ts": thread_ts,
            "metadata": metadata,
            "updated": 0,
        }
        self._messages.setdefault(channel["id"], []).append(message)
        return _ok(channel=channel["id"], ts=message["ts"], message=self._message_payload(message))

    def _chat_update(self, params: dict[str, Any]) -> _Reply:
        channel = self._resolve_channel(params.get("channel"))
        if channel is None:
            return _err("channel_not_found")
        ts = params.get("ts")
        if ts in (None, ""):
            return _missing("ts")
        message = self._find_message(channel["id"], str(ts))
        if message is None:
            return _err("message_not_found")
        text = params.get("text")
        text = None if text is None else str(text)
        if text is not None and len(text) > UPDATE_TEXT_MAX:
            return _err("msg_too_long")
        blocks, problem = self._blocks_param(params, "message")
        if problem is not None:
            return problem
        metadata, problem = self._metadata_param(params)
        if problem is not None:
            return problem
        if not text and blocks is None and not params.get("attachments"):
            return _err("no_text")
        if text is not None:
            message["text"] = text
        if "blocks" in params:
            message["blocks"] = blocks
        if metadata is not None:
            message["metadata"] = metadata
        message["updated"] += 1
        return _ok(
            channel=channel["id"],
            ts=message["ts"],
            text=message["text"],
            message=self._message_payload(message),
        )

    def _chat_post_ephemeral(self, params: dict[str, Any]) -> _Reply:
        channel = self._resolve_channel(params.get("channel"))
        if channel is None:
            return _err("channel_not_found")
        if not channel["is_member"]:
            return _err("not_in_channel")
        user = params.get("user")
        if not isinstance(user, str) or not user:
            return _err("user_not_in_channel")
        blocks, problem = self._blocks_param(params, "message")
        if problem is not None:
            return problem
        text = "" if params.get("text") is None else str(params["text"])
        if not text and not blocks and not params.get("attachments"):
            return _err("no_text")
        thread_ts = params.get("thread_ts")
        message_ts = self._next_ts()
        self._ephemerals.append(
            {
                "message_ts": message_ts,
                "channel": channel["id"],
                "user": user,
                "text": text[:MESSAGE_TEXT_TRUNCATE_AT],
                "blocks": blocks,
                "thread_ts": str(thread_ts) if thread_ts not in (None, "") else None,
            }
        )
        return _ok(message_ts=message_ts)

    def _chat_get_permalink(self, params: dict[str, Any]) -> _Reply:
        channel = self._resolve_channel(params.get("channel"))
        if channel is None:
            return _err("channel_not_found")
        message = self._find_message(channel["id"], params.get("message_ts"))
        if message is None:
            return _err("message_not_found")
        permalink = f"{TEAM_URL}archives/{channel['id']}/p{message['ts'].replace('.', '')}"
        if message["thread_ts"] is not None:
            permalink += f"?thread_ts={message['thread_ts']}&cid={channel['id']}"
        return _ok(channel=channel["id"], permalink=permalink)

    def _conversation(self, channel: dict[str, Any]) -> dict[str, Any]:
        info = {
            "id": channel["id"],
            "name": channel["name"],
            "is_private": channel["is_private"],
            "is_member": channel["is_member"],
            "is_channel": not channel["is_private"],
            "is_group": channel["is_private"] and not channel["is_im"],
            "is_im": channel["is_im"],
            "is_archived": False,
        }
        if channel["is_im"]:
            info["user"] = channel["user"]
        return info

    def _missing_scope(self, channel: dict[str, Any]) -> _Reply | None:
        if self.scopes is None:
            return None
        needed = (
            "im:history"
            if channel["is_im"]
            else "groups:history"
            if channel["is_private"]
            else "channels:history"
        )
        if needed in self.scopes:
            return None
        return _err("missing_scope", needed=needed, provided=",".join(sorted(self.scopes)))

    @staticmethod
    def _bounds(params: dict[str, Any]) -> tuple[float, float, bool] | _Reply:
        try:
            oldest = float(params.get("oldest") or 0)
            latest = float(params.get("latest") or "inf")
        except (TypeError, ValueError):
            return _err("invalid_ts_oldest")
        inclusive = str(params.get("inclusive", "")).lower() in ("1", "true")
        return oldest, latest, inclusive

    @staticmethod
    def _limit(params: dict[str, Any]) -> int:
        try:
            return min(max(int(params.get("limit") or 100), 1), 999)
        except (TypeError, ValueError):
            return 100

    def _history_payload(self, message: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        payload = self._message_payload(message)
        # Like Slack: message metadata only when asked for with include_all_metadata.
        if str(params.get("include_all_metadata", "")).lower() not in ("1", "true"):
            payload.pop("metadata", None)
        return payload

    @staticmethod
    def _page(
        messages: list[dict[str, Any]], params: dict[str, Any], limit: int
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        try:
            start = int(str(params.get("cursor") or "0").removeprefix("next:"))
        except ValueError:
            start = 0
        page = messages[start : start + limit]
        more = start + limit < len(messages)
        meta = {"next_cursor": f"next:{start + limit}" if more else ""}
        return page, {"has_more": more, "response_metadata": meta}

    def _in_bounds(self, ts: str, bounds: tuple[float, float, bool]) -> bool:
        oldest, latest, inclusive = bounds
        value = float(ts)
        if inclusive:
            return oldest <= value <= latest
        return oldest < value < latest

    def _conversations_history(self, params: dict[str, Any]) -> _Reply:
        """Top-level messages, newest first, paged with a cursor (thread replies are not in a
        channel's history, as on Slack)."""
        channel = self._resolve_channel(params.get("channel"))
        if channel is None:
            return _err("channel_not_found")
        problem = self._missing_scope(channel)
        if problem is not None:
            return problem
        if not channel["is_member"] and channel["is_private"]:
            return _err("channel_not_found")
        bounds = self._bounds(params)
        if isinstance(bounds, _Reply):
            return bounds
        found = [
            m
            for m in reversed(self._messages.get(channel["id"], []))
            if m["thread_ts"] is None and self._in_bounds(m["ts"], bounds)
        ]
        page, more = self._page(found, params, self._limit(params))
        return _ok(messages=[self._history_payload(m, params) for m in page], **more)

    def _conversations_replies(self, params: dict[str, Any]) -> _Reply:
        """A thread: its parent first, then the replies oldest first (bounds apply to replies)."""
        channel = self._resolve_channel(params.get("channel"))
        if channel is None:
            return _err("channel_not_found")
        problem = self._missing_scope(channel)
        if problem is not None:
            return problem
        ts = params.get("ts")
        if ts in (None, ""):
            return _missing("ts")
        parent = self._find_message(channel["id"], str(ts))
        if parent is None or parent["thread_ts"] is not None:
            return _err("thread_not_found")
        bounds = self._bounds(params)
        if isinstance(bounds, _Reply):
            return bounds
        replies = [
            m
            for m in self._messages.get(channel["id"], [])
            if m["thread_ts"] == parent["ts"] and self._in_bounds(m["ts"], bounds)
        ]
        page, more = self._page([parent, *replies], params, self._limit(params))
        return _ok(messages=[self._history_payload(m, params) for m in page], **more)

    def _conversations_info(self, params: dict[str, Any]) -> _Reply:
        channel = self._resolve_channel(params.get("channel"))
        if channel is None:
            return _err("channel_not_found")
        info = self._conversation(channel)
        if str(params.get("include_num_members", "")).lower() in ("1", "true"):
            info["num_members"] = channel.get("num_members", 0)
        return _ok(channel=info)

    def _conversations_join(self, params: dict[str, Any]) -> _Reply:
        channel = self._resolve_channel(params.get("channel"))
        if channel is None:
            return _err("channel_not_found")
        if channel["is_private"]:
            return _err("method_not_supported_for_channel_type")
        channel["is_member"] = True
        return _ok(channel=self._conversation(channel))

    def _conversations_open(self, params: dict[str, Any]) -> _Reply:
        users = params.get("users")
        if not isinstance(users, str) or not users:
            return _err("users_list_not_supplied")
        ids = [u.strip() for u in users.split(",") if u.strip()]
        if len(ids) != 1:
            return _err("not_supported", messages=["the stand-in only opens 1:1 DMs"])
        if ids[0] not in self._users:
            return _err("user_not_found")
        return _ok(channel=self._conversation(self._dm(ids[0])))

    def _usergroups_users_list(self, params: dict[str, Any]) -> _Reply:
        users = self._usergroups.get(str(params.get("usergroup") or ""))
        if users is None:
            return _err("no_such_subteam")
        return _ok(users=list(users))

    # ---- views -------------------------------------------------------------------------------

    def _check_trigger(self, trigger_id: Any) -> _Reply | None:
        if not isinstance(trigger_id, str) or not trigger_id:
            return _missing("trigger_id")
        issued_at = self._triggers.get(trigger_id)
        if issued_at is None:
            return _err("invalid_trigger_id")
        if trigger_id in self._used_triggers or time.monotonic() - issued_at > self.trigger_ttl:
            return _err("expired_trigger_id")
        return None

    @staticmethod
    def _check_view(view: Any, allowed: tuple[str, ...]) -> _Reply | None:
        if view is None or view == "":
            return _missing("view")
        problems = validate_view(view, allowed_types=allowed)
        if problems:
            return _err("invalid_arguments", messages=problems, errors=problems)
        return None

    def _store_view(
        self,
        view: dict[str, Any],
        *,
        view_id: str | None = None,
        root_view_id: str | None = None,
        previous_view_id: str | None = None,
    ) -> dict[str, Any]:
        view_id = view_id or self._new_id("V")
        stored = {
            **view,
            "id": view_id,
            "team_id": TEAM_ID,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
            "hash": f"h{int(time.time())}.{secrets.token_hex(4)}",
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "external_id": view.get("external_id", ""),
            "state": {"values": {}},
            "root_view_id": root_view_id or view_id,
            "previous_view_id": previous_view_id,
        }
        self._views[view_id] = stored
        return stored

    def _external_id_taken(self, view: dict[str, Any], except_id: str | None = None) -> bool:
        external_id = view.get("external_id")
        return bool(external_id) and any(
            v["external_id"] == external_id and v["id"] != except_id for v in self._views.values()
        )

    def _views_open(self, params: dict[str, Any]) -> _Reply:
        trigger_id = params.get("trigger_id")
        view = params.get("view")
        problem = self._check_trigger(trigger_id) or self._check_view(view, ("modal",))
        if problem is not None:
            return problem
        if self._external_id_taken(view):
            return _err("duplicate_external_id")
        self._used_triggers.add(trigger_id)
        return _ok(view=self._store_view(view))

    def _views_push(self, params: dict[str, Any]) -> _Reply:
        # The stand-in keeps no view stack: a pushed view is stored like an opened one.
        return self._views_open(params)

    def _views_update(self, params: dict[str, Any]) -> _Reply:
        view_id, external_id = params.get("view_id"), params.get("external_id")
        if not view_id and not external_id:
            return _missing("view_id")
        current = None
        if view_id:
            current = self._views.get(str(view_id))
        else:
            current = next(
                (v for v in self._views.values() if v["external_id"] == external_id), None
            )
        if current is None:
            return _err("not_found")
        view = params.get("view")
        problem = self._check_view(view, (current["type"],))
        if problem is not None:
            return problem
        expected_hash = params.get("hash")
        if expected_hash and expected_hash != current["hash"]:
            return _err("hash_conflict")
        if self._external_id_taken(view, except_id=current["id"]):
            return _err("duplicate_external_id")
        if not view.get("external_id") and current["external_id"]:
            view = {**view, "external_id": current["external_id"]}  # kept across updates
        stored = self._store_view(
            view,
            view_id=current["id"],
            root_view_id=current["root_view_id"],
            previous_view_id=current["previous_view_id"],
        )
        return _ok(view=stored)

    def _views_publish(self, params: dict[str, Any]) -> _Reply:
        user_id = params.get("user_id")
        if not isinstance(user_id, str) or not user_id:
            return _missing("user_id")
        view = params.get("view")
        problem = self._check_view(view, ("home",))
        if problem is not None:
            return problem
        current_id = self._home_view_ids.get(user_id)
        expected_hash = params.get("hash")
        if expected_hash and current_id and expected_hash != self._views[current_id]["hash"]:
            return _err("hash_conflict")
        stored = self._store_view(view, view_id=current_id)
        self._home_view_ids[user_id] = stored["id"]
        return _ok(view=stored)

    # ---- files (the external upload flow; see bot.standin.files) -------------------------------

    def _files_scope(self) -> _Reply | None:
        if self.scopes is None or FILES_SCOPE in self.scopes:
            return None
        return _err("missing_scope", needed=FILES_SCOPE, provided=",".join(sorted(self.scopes)))

    def _files_get_upload_url_external(self, params: dict[str, Any]) -> _Reply:
        refused = self._files_scope()
        if refused is not None:
            return refused
        filename = params.get("filename")
        if not isinstance(filename, str) or not filename.strip():
            return _missing("filename")
        if params.get("length") in (None, ""):
            return _missing("length")
        length = parse_length(params.get("length"))
        if length is None:
            return _err("invalid_arguments", messages=["length must be a positive integer"])
        if self.upload_url_base is None:
            return _err("standin_not_serving", status=500)
        alt_txt = params.get("alt_txt")
        stored = StoredFile(
            id=self._new_id("F"),
            filename=filename,
            length=length,
            alt_txt=alt_txt if isinstance(alt_txt, str) else None,
            token=new_upload_token(),
        )
        self._files[stored.id] = stored
        return _ok(upload_url=f"{self.upload_url_base}/{stored.token}", file_id=stored.id)

    def upload_bytes(self, token: str, data: bytes) -> _Reply:
        """A POST to an upload URL (called by the HTTP server under the lock)."""
        failure = self._queued_failure("upload")
        if failure is not None:
            return failure
        stored = next((f for f in self._files.values() if f.token == token), None)
        if stored is None or stored.completed:
            return _Reply({}, status=404, text="Not Found")
        if len(data) != stored.length:
            return _Reply({}, status=400, text=f"size mismatch: expected {stored.length} bytes")
        stored.data = data
        return _Reply({}, text=f"OK - {len(data)}")

    def _files_complete_upload_external(self, params: dict[str, Any]) -> _Reply:
        refused = self._files_scope()
        if refused is not None:
            return refused
        if params.get("files") in (None, ""):
            return _missing("files")
        items = parse_files(params.get("files"))
        if items is None:
            return _err("invalid_arguments", messages=["files must be a JSON list of {id, title}"])
        stored = [self._files.get(item["id"]) for item in items]
        if any(f is None or f.completed or f.data is None for f in stored):
            return _err("file_not_found")
        channel = None
        if params.get("channel_id") not in (None, ""):
            channel = self._resolve_channel(params.get("channel_id"))
            if channel is None:
                return _err("channel_not_found")
            if not channel["is_member"]:
                return _err("not_in_channel")
        thread_ts = params.get("thread_ts")
        thread_ts = str(thread_ts) if thread_ts not in (None, "") else None
        if thread_ts is not None and (
            channel is None or self._find_message(channel["id"], thread_ts) is None
        ):
            return _err("thread_not_found")
        files = []
        for item, found in zip(items, stored, strict=True):
            assert found is not None
            found.completed = True
            found.title = item.get("title") or found.filename
            files.append({"id": found.id, "name": found.filename, "title": found.title})
        if channel is not None:
            self._share_files(channel["id"], files, params.get("initial_comment"), thread_ts)
        return _ok(files=files)

    def _share_files(
        self, channel_id: str, files: list[dict[str, Any]], comment: Any, thread_ts: str | None
    ) -> None:
        message = {
            "ts": self._next_ts(),
            "channel": channel_id,
            "text": str(comment or "")[:MESSAGE_TEXT_TRUNCATE_AT],
            "blocks": None,
            "thread_ts": thread_ts,
            "metadata": None,
            "updated": 0,
            "files": files,
        }
        self._messages.setdefault(channel_id, []).append(message)
        for item in files:
            self._files[item["id"]].channel = channel_id
            self._files[item["id"]].shares.append(message["ts"])

    # ---- response_url --------------------------------------------------------------------------

    def _response_url(self, token: str, params: dict[str, Any]) -> _Reply:
        failure = self._queued_failure("response_url")
        if failure is not None:
            return failure
        if token not in self._response_urls:
            return _err("no_active_hooks", status=404)
        blocks = params.get("blocks")
        if blocks is not None:
            problems = validate_blocks(blocks, surface="message")
            if problems:
                return _err("invalid_blocks", status=400, messages=problems, errors=problems)
        return _ok()
