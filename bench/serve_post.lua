-- serve_post.lua: wrk script for bench/bench_serve.sh. POSTs the JSON body in the file named
-- by $BODY to $PREDICT_PATH and, when done, prints one parseable line:
--   RESULT requests=N seconds=S rps=R p50_ms=A p99_ms=B non2xx=C socket_errors=D
local f = assert(io.open(os.getenv("BODY"), "rb"))
local body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.path = os.getenv("PREDICT_PATH") or "/v1/models/model:predict"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d seconds=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.status, e.connect + e.read + e.write + e.timeout))
end
