-- wrk script for bench/wrk/run.sh: a new transaction per request (unique id per thread and counter).
-- A new transaction per request: unique id per thread and counter, timestamped a minute ago.
local counter = 0
local thread_id = 0
local ts = os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() - 60)
math.randomseed(os.time())
function setup(thread) thread:set("tid", math.random(1, 1e9)) end
function request()
  counter = counter + 1
  local body = string.format('{"transaction_id":"wrk-%d-%d","timestamp":"%s","customer_id":"C%05d","terminal_id":"T%05d","amount":"42.00"}',
    tid, counter, ts, math.random(0, 2999), math.random(0, 5999))
  return wrk.format("POST", "/api/v1/transactions/", {["Content-Type"]="application/json", ["Authorization"]="Token " .. token}, body)
end
function init(args) token = args[1] end
function done(summary, latency, requests)
  io.write(string.format("p50 %.2f ms  p99 %.2f ms  non2xx %d\n", latency:percentile(50)/1000, latency:percentile(99)/1000, summary.errors.status))
end
