-- wrk script: POST /api/v1/plans with a rotating set of user tokens (one per line of the file
-- given after `--`), then print p50/p95/p99 latency and throughput on one RESULT line.
-- An optional second argument sends an `Idempotency-Key` (issue #23): `fresh`, a new key on every
-- request (each one creates); `replay`, one key per user (the user's first request creates, the
-- rest are replays of its answer). Without it, no key.
local tokens = {}
local counter = 0
local mode = nil
local threads = 0

setup = function(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end

init = function(args)
  for line in io.lines(args[1]) do
    table.insert(tokens, line)
  end
  mode = args[2]
end

wrk.method = "POST"
wrk.body = '{"topic":"Load testing a plan service","skill_level":"beginner","weekly_hours":5,"learning_style":"practice"}'

request = function()
  counter = counter + 1
  -- Threads start half the users apart, so no two requests in flight share a user (and a key).
  local user = ((counter + thread_id * 500) % #tokens) + 1
  local headers = {
    ["Authorization"] = "Bearer " .. tokens[user],
    ["Content-Type"] = "application/json",
  }
  if mode == "fresh" then
    headers["Idempotency-Key"] = string.format("fresh-%d-%d-%d", thread_id, counter, os.time())
  elseif mode == "replay" then
    headers["Idempotency-Key"] = "replay-" .. user
  end
  return wrk.format(nil, nil, headers)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT p50_ms=%.2f p95_ms=%.2f p99_ms=%.2f rps=%.0f requests=%d errors=%d\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.requests / (summary.duration / 1e6), summary.requests,
    e.status + e.connect + e.read + e.write + e.timeout))
end
