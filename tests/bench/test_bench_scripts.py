"""The benchmark scripts still run and report what they should, on tiny sizes.

No figure is checked here (speed targets are met in the benchmarks, not in tests); what is
checked is that every request was answered, nothing was lost, and the report is complete.
Each script runs in this process as `python bench/NAME.py` would run it (tests/bench/scripts.py);
the servers a script starts as subprocesses stay processes.
"""

from __future__ import annotations

import re
import runpy
import shutil
import socket
import sys

import pytest

from tests.bench.scripts import run_script, script_process_state
from tests.conftest import REPO_ROOT


def test_ack_latency_compares_both_apps_at_each_load():
    # Few requests: the set-up's posts go out at Slack's pace (about one a second per channel).
    done = run_script("ack_latency.py", "--requests", "4", "--warmup", "1", "--loads", "closed,40")
    out = done.stdout
    assert done.returncode in (0, 1), done.stderr[-2000:]  # 1: a target missed
    assert "== closed loop, C=20 ==" in out and "== 40 req/s, C=20 ==" in out, (
        out + done.stderr[-3000:]
    )
    rows = re.findall(r"^(ai-signal|bare) (filings|clicks) +(\d+) +(\d+)", out, re.MULTILINE)
    assert len(rows) == 8, out  # two apps x two kinds x two loads
    assert all(int(requests) == 4 and int(errors) == 0 for *_, requests, errors in rows), out
    assert "server CPU per request ours/bare" in out
    assert re.search(r"^OVERALL: (PASS|FAIL)$", out, re.MULTILINE), out
    assert "Slack-like limit of 1/s per channel" in out
    assert "ephemeral error answers to clicks: 0" in out


def test_delivery_drain_loses_and_duplicates_nothing():
    done = run_script("delivery_drain.py", "--posts", "30", "--rate", "50", "--burst", "10")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "RESULT: PASS (zero lost, zero duplicated)" in done.stdout


def test_memory_reads_the_app_before_and_after_filings():
    # The app's pace (1 post a second per channel, bursts of 3) sets the time: 4 filings post
    # in about a second.
    done = run_script("memory.py", "--filings", "4", "--settle", "0.2", "--samples", "2")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert re.search(r"^idle after start-up +[\d.]+ MiB", done.stdout, re.MULTILINE)
    assert "failed requests: 0" in done.stdout and "all posted: True" in done.stdout


def test_digest_build_times_a_small_database():
    done = run_script("digest_build.py", "--sizes", "1000", "--sqlite-only")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert re.search(
        r"^sqlite +1,000 signals .* digest build +[\d.]+ ms", done.stdout, re.MULTILINE
    )


def test_claim_backlog_times_claim_rounds_behind_a_paused_channel():
    done = run_script("claim_backlog.py", "--sizes", "10", "200", "--rounds", "3", "--sqlite-only")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("claim round median") == 2, done.stdout


def test_crash_delivery_kills_and_checks():
    done = run_script("crash_delivery.py", "--kills", "1", "--filings", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "RESULT: PASS" in done.stdout and "duplicated            0" in done.stdout


def test_lessons_search_times_search_and_seen_before():
    done = run_script("lessons_search.py", "--sizes", "300", "--queries", "4", "--sqlite-only")
    assert done.returncode in (0, 1), (
        done.stdout[-2000:] + done.stderr[-2000:]
    )  # 1: a target missed
    out = done.stdout
    assert re.search(r"^sqlite +300 +search page 1 +median +[\d.]+ ms +p95", out, re.MULTILINE), out
    assert re.search(r"^sqlite +300 +seen before +median +[\d.]+ ms", out, re.MULTILINE), out
    assert re.search(r"^targets: .*: (PASS|FAIL)$", out, re.MULTILINE), out


@pytest.mark.skipif(
    shutil.which("wrk") is None, reason="wrk is not installed (apt-get install -y wrk)"
)
def test_wrk_load_measures_three_servers_under_wrk():
    # Each run ends once its 20 requests were all sent (--duration only bounds it).
    done = run_script(
        "wrk_load.py",
        *("--until-sent", "--duration", "5", "--connections", "1,20", "--warmup", "5"),
        *("--pool-ours", "20", "--pool-bare", "20"),
    )
    out = done.stdout
    assert done.returncode in (0, 1), out[-2000:] + done.stderr[-2000:]  # 1: a target missed
    rows = re.findall(
        r"^(ai-signal|bare Bolt|bare HTTP) +(filings|clicks) +(\d+) +(\d+) .* (\d+) +(\d+)",
        out,
        re.MULTILINE,
    )
    assert len(rows) == 12, out  # three servers x two kinds x two connection levels
    assert all(int(requests) >= 20 and int(errors) == 0 for *_, requests, errors in rows), out
    assert out.count("CPU per request at 20 connections") == 2, out
    assert "non-2xx answers and socket errors: 0" in out


def test_wrk_verdict_says_so_when_bare_bolt_used_no_measurable_cpu(capsys):
    """A short run may see no CPU tick (10 ms) of bare Bolt's: the verdict says to run longer
    instead of dividing by zero."""
    script = REPO_ROOT / "bench" / "wrk_load.py"
    with script_process_state(script, []):  # its folder on sys.path, for _common
        wrk_load = runpy.run_path(str(script))
    figures = [
        wrk_load["Figures"](server, "filings", 20, 20, 0.1, 5.0, 9.0, cpu, 0, False)
        for server, cpu in (("ai-signal", 0.04), ("bare Bolt", 0.0))
    ]
    assert wrk_load["verdict"](figures) is False
    out = capsys.readouterr().out
    assert "filings: bare Bolt used no measurable CPU in this run: run longer" in out, out


def test_a_server_whose_port_was_taken_starts_on_another(tmp_path):
    """free_port()'s port may be taken before the server binds it: the server is started again
    on a fresh port instead of failing the benchmark."""
    script = REPO_ROOT / "bench" / "wrk_load.py"
    with script_process_state(script, []):
        common = runpy.run_path(str(REPO_ROOT / "bench" / "_common.py"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = common["ServerProcess"](
            [
                sys.executable,
                str(REPO_ROOT / "bench" / "bare_bolt_app.py"),
                "--plain",
                "--port",
                str(port),
            ],
            env={
                "PYTHONPATH": str(REPO_ROOT),
                "SLACK_SIGNING_SECRET": "s",
                "SLACK_BOT_TOKEN": "xoxb-1",
            },
            cwd=str(tmp_path),
            port=port,
            name="plain",
        )
        try:
            server.wait_ready(timeout=60)
            assert server.port != port
            assert server.process.poll() is None
        finally:
            server.terminate()


@pytest.mark.parametrize("kind", ["filings", "clicks", "help", "bare"])
def test_request_cpu_answers_every_request_in_process(kind):
    done = run_script("request_cpu.py", "--kind", kind, "--requests", "30", "--warmup", "10")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    figures = re.search(r"^(\w+): (\d+) requests, [\d.]+ ms CPU per request", done.stdout, re.M)
    assert figures is not None and figures.groups() == (kind, "30"), done.stdout
    assert "answers {'200 OK': 30}" in done.stdout


def test_queue_reads_times_every_lead_read_on_a_small_database():
    # 3% open: some 50 open signals, five queue pages, for the paging reads (the default 1%
    # would need 5,000 signals, seeded through the roll-up triggers).
    args = ("--sizes", "1000", "--open-share", "0.03", "--runs", "2", "--sqlite-only")
    done = run_script("queue_reads.py", *args)
    assert done.returncode in (0, 1), done.stdout[-2000:] + done.stderr[-2000:]  # 1: a miss
    out = done.stdout
    assert re.search(r"^sqlite · 1,000 signals \(3% open\) · seeded in", out, re.MULTILINE), out
    rows = re.findall(
        r"^(home overview|queue: |status |signal detail).* +[\d.]+ +[\d.]+ +(yes|NO)$",
        out,
        re.MULTILINE,
    )
    assert len(rows) == 21, out
    assert re.search(r"^OVERALL: (PASS|FAIL)", out, re.MULTILINE), out


def test_review_report_keeps_its_database_and_reuses_it(tmp_path):
    args = ("--sizes", "400", "--sqlite-only", "--runs", "1", "--warmup", "0")
    args += ("--keep", str(tmp_path))
    first = run_script("review_report.py", *args)
    again = run_script("review_report.py", *args)
    assert first.returncode == 0 and again.returncode == 0, first.stderr[-2000:] + again.stderr
    assert re.search(r"^sqlite +400 signals +seeded in", first.stdout, re.MULTILINE)
    assert re.search(r"^sqlite +400 signals +kept, migrated in", again.stdout, re.MULTILINE)
    assert "(400 in the quarter" in again.stdout
    assert (tmp_path / "review-400.db").exists()


def test_review_report_times_a_small_quarter():
    done = run_script(
        "review_report.py", "--sizes", "500", "--sqlite-only", "--runs", "1", "--warmup", "0"
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert re.search(
        r"^sqlite +500 signals .* report +[\d.]+ ms +with HTML +[\d.]+ ms +\(500 in the "
        r"quarter",
        done.stdout,
        re.MULTILINE,
    ), done.stdout
