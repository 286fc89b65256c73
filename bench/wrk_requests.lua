-- wrk script for bench/wrk_load.py: cycle through pre-signed Slack requests, each sent once.
--
--   wrk -t T -c C -d D -s bench/wrk_requests.lua http://127.0.0.1:PORT/slack/events -- FILE T ONCE
--       [UNTIL_SENT]
--
-- FILE has one request a line: "<timestamp>\t<signature>\t<form-encoded body>". Thread i of T
-- takes lines i, i+T, i+2T, ... With ONCE=1 it sends each of them once (a repeated trigger_id or
-- click would take another path through the app) and stops sending when they are all out: the
-- run then reports exhausted_threads > 0 and its rate is too low (wrk still waits out -d). With
-- ONCE=0 it starts again from its first line (for servers that keep no state). With UNTIL_SENT=1
-- (which implies ONCE=1) a thread that has stopped also prints a line "SENT <thread>" at once,
-- so that the caller can stop wrk (SIGINT) when every thread has, instead of waiting out -d.
-- done() prints one WRK line to parse.

local next_id = 0
local threads = {}

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local requests = {}
local once = true
local until_sent = false
local reported = false
local sent = 0
local answered = 0
exhausted = 0 -- global: done() reads it with thread:get

function init(args)
  local path = args[1]
  local count = tonumber(args[2])
  until_sent = args[4] == "1"
  once = args[3] ~= "0" or until_sent
  local line_no = 0
  for line in io.lines(path) do
    if line_no % count == tid then
      local ts, sig, body = line:match("^([^\t]+)\t([^\t]+)\t(.*)$")
      table.insert(requests, wrk.format("POST", nil, {
        ["Content-Type"] = "application/x-www-form-urlencoded",
        ["X-Slack-Request-Timestamp"] = ts,
        ["X-Slack-Signature"] = sig,
      }, body))
    end
    line_no = line_no + 1
  end
end

function request()
  sent = sent + 1
  if not once and sent > #requests then
    sent = 1
  end
  if sent > #requests then
    -- Every line is out; a connection still asks: repeat nothing, ask for the health page.
    exhausted = 1
    return wrk.format("GET", "/healthz")
  end
  return requests[sent]
end

function response(status, headers, body)
  answered = answered + 1
  if once and answered >= #requests then
    exhausted = 1
    if until_sent and not reported then
      reported = true -- the loop may answer a few more before it stops
      io.write(string.format("SENT %d\n", tid))
      io.flush()
    end
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local stopped = 0
  for _, thread in ipairs(threads) do
    stopped = stopped + (thread:get("exhausted") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    "WRK requests=%d duration_us=%d p50_us=%d p99_us=%d status_errors=%d " ..
    "socket_errors=%d exhausted_threads=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout, stopped))
end
