-- One fake BTC deposit per bound BTC address (the items file) through the dummy API:
--   POST /dummy/scanner/deposit with a form body, or GET with the same query string when
--   the bench's probe found POST unusable (BENCH_METHOD). Each deposit has its own txid.
-- The thread stops once every deposit of its share is answered (cap = its share). Until
-- then a connection with nothing left to send waits a second (delay) and sends a request
-- to a path that answers 404 at once; those answers are ignored.
local method = os.getenv("BENCH_METHOD") or "POST"
local value = os.getenv("BENCH_VALUE") or "100000"
local run = os.getenv("BENCH_RUN") or "0000000000000000" -- 16 hex digits
local form = { ["Content-Type"] = "application/x-www-form-urlencoded" }

function delay()
  if item(sent + 1) == nil then return 1000 end
  return 0
end

-- A transaction id (64 hex digits, as the dummy API requires) unique to run, thread and n.
function txid(n)
  return run .. string.format("%08x%08x", tid, n) .. string.rep("0", 32)
end

function request()
  local n = sent + 1
  if item(n) == nil then
    return wrk.format("GET", "/bench-no-such-path")
  end
  if not real_request() then n = 1 end
  local params = "coin=BTC&addr=" .. item(n) .. "&value=" .. value
    .. "&tx=" .. txid(n) .. "&n=0"
  if method == "GET" then
    return wrk.format("GET", "/dummy/scanner/deposit?" .. params)
  end
  return wrk.format("POST", "/dummy/scanner/deposit", form, params)
end

function ignore(status)
  return status == 404
end
