-- wrk script for bench/steward_wrk.sh: POST /v1/certificates with one prepared body per
-- request (each body's nonce is single-use). Thread i of n takes lines i, i+n, i+2n, ...
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local n = tonumber(args[2])
  bodies = {}
  local i = 0
  for line in io.lines(args[1]) do
    if i % n == id then
      table.insert(bodies, line)
    end
    i = i + 1
  end
  next_body = 1
  wrk.method = "POST"
  wrk.path = "/v1/certificates"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local body = bodies[next_body]
  if body == nil then
    body = bodies[1] -- exhausted: reused nonces are refused (counted as non-2xx)
  end
  next_body = next_body + 1
  return wrk.format(nil, nil, nil, body)
end
