-- POST /api/bind, each request with a SKY address never bound before (the items file).
-- The bench gives more addresses than the cap, so a share is never used up before the
-- thread stops; if it were, the last address would be repeated (a second deposit address
-- for one SKY address, still a valid bind under max_bound_addrs).
local headers = { ["Content-Type"] = "application/json" }

function request()
  local address = items[tid + 1]
  if real_request() then
    address = item(sent) or item(sent - 1) or address
  end
  return wrk.format("POST", "/api/bind", headers,
    '{"skyaddr":"' .. address .. '","coin_type":"BTC"}')
end

function check(body)
  return string.find(body, '"deposit_address"', 1, true) ~= nil
end
