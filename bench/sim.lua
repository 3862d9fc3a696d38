-- wrk script for bench/sim.sh: POST a small chat completion to the simulator.
-- SIM_MODEL (env) picks the model; sim-instant answers with no latency and no faults.
local model = os.getenv("SIM_MODEL") or "sim-instant"
local stream = os.getenv("SIM_STREAM") == "1"
wrk.method = "POST"
wrk.path = "/v1/chat/completions"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"' .. model .. '","stream":' .. tostring(stream) ..
           ',"messages":[{"role":"system","content":"You are a helpful assistant."},' ..
           '{"role":"user","content":"Summarise the plot of Hamlet in two sentences."}]}'

-- no response() callback: it would make wrk run Lua for every reply and slow the client
function done(summary, latency, requests)
  io.write(string.format("non-2xx/3xx: %d errors(connect=%d read=%d write=%d timeout=%d)\n",
    summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout))
end
