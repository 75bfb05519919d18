-- GET the URL's path (the bare ASGI baseline, or any fixed teller endpoint).
function request()
  real_request()
  return wrk.format("GET")
end
