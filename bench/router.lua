-- wrk script for bench/router.sh: the same POST /v1/chat/completions for the simulator,
-- nginx and the router, so all three targets cost wrk the same.
--   BENCH_KEY   API key sent as Authorization: Bearer (the simulator and nginx ignore it)
--   BENCH_USERS distinct X-User-Id values cycled through (default 10000): each new user
--               is a cohort record in Redis for the router
--   BENCH_MODEL the body's model (default sim-instant; the router replaces it)
--   BENCH_PREFER an X-Model-Prefer header (bench/wires.sh), none when unset
-- Requests are formatted once per thread in init(), so request() costs only a table read.
local key = os.getenv("BENCH_KEY") or "sk-bench"
local users = tonumber(os.getenv("BENCH_USERS") or "10000")
local model = os.getenv("BENCH_MODEL") or "sim-instant"
local prefer = os.getenv("BENCH_PREFER")

-- two prompt shapes so the router's classifier and rules both have work:
-- a plain question and one with a fenced code block (the code_fence rule)
local prompts = {
  "Summarise the plot of Hamlet in two sentences.",
  "Why does this fail?\\n```python\\nprint(1/0)\\n```",
}

local reqs = {}
local n = 0
local i = 0

local thread_id = 0
function setup(thread)
  thread:set("tid", thread_id)
  thread_id = thread_id + 1
end

function init(args)
  -- at most 2,000 preformatted requests per thread; users spread over threads
  local count = math.min(users, 2000)
  local base = (tid or 0) * count
  for j = 0, count - 1 do
    local u = (base + j) % users
    local body = '{"model":"' .. model .. '","messages":[' ..
      '{"role":"system","content":"You are a helpful assistant."},' ..
      '{"role":"user","content":"' .. prompts[(j % #prompts) + 1] .. '"}]}'
    local headers = {
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. key,
      ["X-User-Id"] = "user-" .. u,
    }
    if prefer then headers["X-Model-Prefer"] = prefer end
    reqs[j + 1] = wrk.format("POST", "/v1/chat/completions", headers, body)
  end
  n = count
end

function request()
  i = i + 1
  if i > n then i = 1 end
  return reqs[i]
end

function done(summary, latency, requests)
  io.write(string.format("errors: status=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout))
end
