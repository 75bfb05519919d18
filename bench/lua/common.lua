-- Shared part of every bench script (bench/wrk.py prepends it to the endpoint's script).
--
-- wrk arguments (after --): cap, threads, items-file.
--   cap         responses a thread stops after (0 = run for the whole -d duration)
--   threads     the -t value, so a thread can take its own share of the items
--   items-file  one item a line (SKY or BTC addresses), "" when the script needs none
-- Each thread counts 2xx and other responses and notes the CLOCK_MONOTONIC time of its
-- start and of its last response, so the rate stays exact when a thread stops early
-- (wrk's own duration is always the full -d). done() prints one "BENCH-JSON {...}" line.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local clock_buffer = ffi.new("bench_timespec")

function monotonic()
  ffi.C.clock_gettime(1, clock_buffer) -- CLOCK_MONOTONIC, as Python's time.monotonic()
  return tonumber(clock_buffer.tv_sec) + tonumber(clock_buffer.tv_nsec) * 1e-9
end

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  cap = tonumber(args[1]) or 0
  nthreads = tonumber(args[2]) or 1
  items = {}
  if args[3] and args[3] ~= "" then
    for line in io.lines(args[3]) do
      if line ~= "" then table.insert(items, line) end
    end
  end
  sent, ok, bad, checked_bad = 0, 0, 0, 0
  first_bad = ""
  verifying = tid == 0
  started = monotonic()
  finished = started
end

-- Call first in request(): false for the one call wrk makes on thread 0 before the run,
-- only to check that the request parses (script_verify_request); that request is never
-- sent, so it must not count nor use up an item. True (and `sent` counted) otherwise.
function real_request()
  if verifying then
    verifying = false
    return false
  end
  sent = sent + 1
  return true
end

-- The item this thread sends as its n-th request (1-based), taking every nthreads-th one,
-- or nil when its share is used up.
function item(n)
  return items[(n - 1) * nthreads + tid + 1]
end

function response(status, headers, body)
  if ignore ~= nil and ignore(status) then return end
  finished = monotonic()
  if status >= 200 and status < 300 then
    ok = ok + 1
    if check ~= nil and not check(body) then checked_bad = checked_bad + 1 end
  else
    bad = bad + 1
    if first_bad == "" then first_bad = status .. " " .. string.sub(body or "", 1, 160) end
  end
  if cap > 0 and ok + bad >= cap then wrk.thread:stop() end
end

local function json_string(text)
  return '"' .. string.gsub(text, '[%c"\\]', function(c)
    return string.format("\\u%04x", string.byte(c))
  end) .. '"'
end

function done(summary, latency, requests)
  local total = { ok = 0, bad = 0, sent = 0, checked_bad = 0 }
  local t0, t1, sample = math.huge, 0, ""
  for _, thread in ipairs(threads) do
    for name, _ in pairs(total) do total[name] = total[name] + (thread:get(name) or 0) end
    t0 = math.min(t0, thread:get("started"))
    t1 = math.max(t1, thread:get("finished"))
    if sample == "" then sample = thread:get("first_bad") or "" end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH-JSON {"ok":%d,"bad":%d,"sent":%d,"checked_bad":%d,"started":%.6f,"finished":%.6f,'
      .. '"socket_errors":%d,"timeouts":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,"first_bad":%s}\n',
    total.ok, total.bad, total.sent, total.checked_bad, t0, t1,
    e.connect + e.read + e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, json_string(sample)))
end
