#!/bin/sh
# Throughput of `switchyard sim` with zero latency, measured with wrk.
#
#   bench/sim.sh [BINARY]          (default build/switchyard)
#   DURATION=10s CONNS=64 THREADS=1 bench/sim.sh build-sim/switchyard
#
# Runs, on one simulator process:
#   1. baseline: GET /healthz       (the HTTP server's own floor, no JSON work)
#   2. POST /v1/chat/completions    plain, model sim-instant (8-64 tokens, no latency)
#   3. the same with "stream": true (SSE, chunked)
# and prints wrk's summary of each, plus the simulator's own CPU time per request
# (from /proc/PID/stat): on a shared machine requests/s moves with the load from other
# processes, CPU time per request much less, and 1e6 / (CPU us per request) is what one
# core would serve. Results and the machine go in docs/benchmarks.md.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../build/switchyard}
duration=${DURATION:-10s}
conns=${CONNS:-64}
threads=${THREADS:-1}

command -v wrk >/dev/null || { echo "sim.sh: wrk not found" >&2; exit 1; }
[ -x "$bin" ] || { echo "sim.sh: no binary at $bin" >&2; exit 1; }

# PIN=1 pins the simulator to core 1 and wrk to core 0 (needs taskset). Off by default:
# on a machine shared with other work, pinning can make things worse.
sim_pin= wrk_pin=
if [ "${PIN:-0}" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    sim_pin="taskset -c 1" wrk_pin="taskset -c 0"
fi

log=$(mktemp)
$sim_pin "$bin" sim --listen 127.0.0.1:0 --log-level info 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT INT TERM

port=
for _ in $(seq 1 100); do
    port=$(sed -n 's/.*"msg":"listening".*"port":\([0-9]*\).*/\1/p' "$log")
    [ -n "$port" ] && break
    sleep 0.05
done
[ -n "$port" ] || { echo "sim.sh: simulator did not start:" >&2; cat "$log" >&2; exit 1; }
url=http://127.0.0.1:$port
tck=$(getconf CLK_TCK)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }

# run NAME WRK-ARGS...: wrk, then the simulator's CPU per request
run() {
    name=$1
    shift
    echo "## $name"
    before=$(cpu_ticks)
    out=$($wrk_pin wrk -t"$threads" -c"$conns" -d"$duration" "$@")
    after=$(cpu_ticks)
    echo "$out"
    reqs=$(echo "$out" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p')
    echo "$before $after $reqs $tck" | awk '{ us = ($2 - $1) * 1e6 / $4 / $3;
        printf "sim CPU: %.1f us/request -> %.0f requests/s per core\n", us, 1e6 / us }'
    echo
}

echo "# $(uname -srm), $(nproc) cores; wrk -t$threads -c$conns -d$duration${sim_pin:+; sim on core 1, wrk on core 0}"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
run "baseline: GET /healthz" "$url/healthz"
run "POST /v1/chat/completions (sim-instant, plain)" -s "$here/sim.lua" "$url"
SIM_STREAM=1 run "POST /v1/chat/completions (sim-instant, stream)" -s "$here/sim.lua" "$url"
curl -s "$url/healthz" 2>/dev/null && echo || true
