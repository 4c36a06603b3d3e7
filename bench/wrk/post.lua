-- wrk script of bench/api.py: POST a new transaction per request, timestamped now: a unique id (a random
-- number per thread and a counter), a random customer and terminal of the simulated history, a random amount.
-- Usage: wrk ... -s bench/wrk/post.lua http://127.0.0.1:PORT -- API_KEY
local counter = 0
math.randomseed(os.time())
function setup(thread) thread:set("tid", math.random(1, 1e9)) end
function init(args)
  token = args[1]
  math.randomseed(tid)
end
function request()
  counter = counter + 1
  local body = string.format(
    '{"transaction_id":"wrk-%d-%d","timestamp":"%s","customer_id":"C%05d","terminal_id":"T%05d","amount":"%d.%02d"}',
    tid, counter, os.date("!%Y-%m-%dT%H:%M:%SZ"), math.random(0, 2999), math.random(0, 5999),
    math.random(1, 300), math.random(0, 99))
  return wrk.format("POST", "/api/v1/transactions/",
    {["Content-Type"] = "application/json", ["Authorization"] = "Token " .. token}, body)
end
