-- Replays the requests listed in the file named by BENCH_REQUESTS, round robin, and
-- prints one JSON line of results. Each line of that file: METHOD<TAB>PATH<TAB>TOKEN<TAB>BODY
-- (TOKEN and BODY may be empty).
local requests = {}
local counter = 0

local function split(line)
  local fields = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do
    table.insert(fields, field)
  end
  return fields
end

local function load(path)
  local list = {}
  for line in io.lines(path) do
    if line ~= "" then
      local f = split(line)
      local headers = {}
      if f[3] ~= nil and f[3] ~= "" then
        headers["Authorization"] = "Bearer " .. f[3]
      end
      local body = nil
      if f[4] ~= nil and f[4] ~= "" then
        body = f[4]
        headers["Content-Type"] = "application/json"
      end
      table.insert(list, wrk.format(f[1], f[2], headers, body))
    end
  end
  return list
end

function init(args)
  requests = load(os.getenv("BENCH_REQUESTS"))
  -- each thread starts at a different place in the list
  counter = math.random(#requests) - 1
end

function request()
  counter = counter + 1
  return requests[(counter % #requests) + 1]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean))
end
