-- wrk script: POST /api/v1/plans with a rotating set of user tokens (one per line of the file
-- given after `--`), then print p50/p95/p99 latency and throughput on one RESULT line.
local tokens = {}
local counter = 0

init = function(args)
  for line in io.lines(args[1]) do
    table.insert(tokens, line)
  end
end

wrk.method = "POST"
wrk.body = '{"topic":"Load testing a plan service","skill_level":"beginner","weekly_hours":5,"learning_style":"practice"}'

request = function()
  counter = counter + 1
  local token = tokens[(counter % #tokens) + 1]
  return wrk.format(nil, nil, {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
  })
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT p50_ms=%.2f p95_ms=%.2f p99_ms=%.2f rps=%.0f requests=%d errors=%d\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.requests / (summary.duration / 1e6), summary.requests,
    e.status + e.connect + e.read + e.write + e.timeout))
end
