-- wrk script for bench/api: GET requests against the KFP v2beta1 API with a bearer token.
--
--   wrk -t1 -c32 -d10s -s bench/api/load.lua http://127.0.0.1:PORT -- TOKEN_FILE get IDS_FILE
--   wrk -t1 -c32 -d10s -s bench/api/load.lua http://127.0.0.1:PORT -- TOKEN_FILE list 10
--
-- "get": each request is GET /apis/v2beta1/runs/{id}, the id drawn from IDS_FILE (one run id a
-- line) by a per-thread generator seeded with the thread's number, so runs are reproducible.
-- "list": each request is GET /apis/v2beta1/runs?page_size=N.
-- At the end one line "RESULT {json}" gives requests, seconds, req/s, latency percentiles (ms)
-- and error counts (non_2xx: responses that were not 2xx/3xx), for run_bench.py to read. No
-- response() callback: defining one makes wrk hand every response to Lua, which slows it down.

local counter = 0

local function read_lines(path)
  local out = {}
  for line in io.lines(path) do
    if line ~= "" then out[#out + 1] = line end
  end
  return out
end

function setup(thread)
  counter = counter + 1
  thread:set("thread_number", counter)
end

function init(args)
  local token = read_lines(args[1])[1]
  mode = args[2]
  headers = {["Authorization"] = "Bearer " .. token, ["Accept"] = "application/json"}
  if mode == "get" then
    ids = read_lines(args[3])
    math.randomseed(1000 + thread_number)
  elseif mode == "list" then
    list_path = "/apis/v2beta1/runs?page_size=" .. args[3]
  else
    error("mode must be get or list, got " .. tostring(mode))
  end
end

function request()
  if mode == "get" then
    return wrk.format("GET", "/apis/v2beta1/runs/" .. ids[math.random(#ids)], headers)
  end
  return wrk.format("GET", list_path, headers)
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
      'RESULT {"requests": %d, "seconds": %.3f, "rps": %.1f, "p50_ms": %.3f, "p90_ms": %.3f, ' ..
      '"p99_ms": %.3f, "max_ms": %.3f, "mean_ms": %.3f, "non_2xx": %d, "socket_errors": %d}\n',
      summary.requests, seconds, summary.requests / seconds, latency:percentile(50) / 1000,
      latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
      latency.mean / 1000, e.status, e.connect + e.read + e.write + e.timeout))
end
