-- wrk script: one request (method and path from the command line after `--`, with the bearer
-- token read from a file), then p50/p95/p99/max latency and throughput on one RESULT line. Usage: wrk ... -s request.lua URL -- METHOD TOKEN_FILE
local method, token = "GET", ""

init = function(args)
  method = args[1]
  token = io.open(args[2]):read("*l")
end

request = function()
  return wrk.format(method, nil, {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
  }, method == "POST" and "{}" or nil)
end

done = function(summary, latency, requests)
  io.write(string.format(
    "RESULT p50_ms=%.2f p95_ms=%.2f p99_ms=%.2f max_ms=%.2f rps=%.0f requests=%d errors=%d\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.requests / (summary.duration / 1e6), summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
