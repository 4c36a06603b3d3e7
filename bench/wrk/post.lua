-- wrk script of bench/api.py: replays the simulated day that follows the loaded history, one transaction
-- per request, each thread from its own point of the day. Ids get a suffix of the thread and the round,
-- so that a second pass over the day posts new transactions, never replays.
-- Usage: wrk ... -s bench/wrk/post.lua http://127.0.0.1:PORT -- API_KEY REPLAY_FILE
-- REPLAY_FILE: one transaction per line, "transaction_id timestamp customer_id terminal_id amount".
local rows, position, round = {}, 0, 0
math.randomseed(os.time())
function setup(thread) thread:set("tid", math.random(1, 1e9)) end
function init(args)
  token = args[1]
  for line in io.lines(args[2]) do
    local id, ts, customer, terminal, amount = line:match("(%S+) (%S+) (%S+) (%S+) (%S+)")
    rows[#rows + 1] = {id, ts, customer, terminal, amount}
  end
  position = tid % #rows
end
function request()
  position = position + 1
  if position > #rows then position, round = 1, round + 1 end
  local row = rows[position]
  local body = string.format(
    '{"transaction_id":"%s-%d-%d","timestamp":"%s","customer_id":"%s","terminal_id":"%s","amount":"%s"}',
    row[1], tid, round, row[2], row[3], row[4], row[5])
  return wrk.format("POST", "/api/v1/transactions/",
    {["Content-Type"] = "application/json", ["Authorization"] = "Token " .. token}, body)
end
