-- GET /api/status?skyaddr=... round-robin over bound SKY addresses (the items file);
-- a 200 whose statuses list is empty counts as checked_bad.
function request()
  real_request()
  local address = items[(sent * nthreads + tid) % #items + 1]
  return wrk.format("GET", "/api/status?skyaddr=" .. address)
end

function check(body)
  return string.find(body, '"seq"', 1, true) ~= nil
end
