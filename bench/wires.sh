#!/usr/bin/env bash
# What the provider wire and the retries cost: one router, one simulator, the same run.
#
#   bench/wires.sh [BINARY]                 (default build/switchyard)
#   DURATION=10 CONNS=32 THREADS=2 ROUNDS=3 bench/wires.sh
#
# Starts Redis + PostgreSQL (scripts/services), migrate, ingest, `switchyard sim` with a
# catalog of zero-latency models that differ in one thing each, and one router (1 worker,
# events on) whose models point at them; wrk (bench/router.lua) picks the model with
# X-Model-Prefer. Rounds of $DURATION s each, the targets interleaved within a round:
#
#   openai      an OpenAI-wire provider (the body spliced, the answer passed through)
#   anthropic   an Anthropic-wire provider: request, answer and usage translated
#   in:messages POST /v1/messages to the OpenAI-wire provider (the client's wire
#               translated both ways)
#   flaky-r0    10 % of answers are 500s, provider retries 0: the client sees them
#   flaky-r2    the same model, provider retries 2 (backoff 0): retried
#
# For each: requests/s, the router's CPU per request (utime + stime of the router over
# the run / requests), and non-2xx answers; the median over rounds is printed as a
# markdown table. Needs wrk, curl, python3, redis-cli (scripts/install-deps).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
bin=${1:-$root/build/switchyard}
case "$bin" in /*) ;; *) bin=$PWD/$bin ;; esac
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
KEY=sk-bench-wires
die() { echo "wires.sh: $*" >&2; exit 1; }
for t in wrk curl python3 redis-cli; do command -v "$t" >/dev/null || die "$t not found"; done
[[ -x "$bin" ]] || die "no binary at $bin (build first: make build)"

tmp=$(mktemp -d /tmp/sy-bench-wires.XXXXXX)
chmod 711 "$tmp"
pids=()
svc=0
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    ((svc)) && "$root/scripts/services" stop "$tmp/svc" --rm >/dev/null 2>&1 || true
    [[ "${KEEP:-0}" == 1 ]] && echo "kept $tmp" >&2 || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_listening() {
    for _ in $(seq 1 200); do
        local port
        port=$(sed -n 's/.*"msg":"listening".*"port":\([0-9]*\).*/\1/p' "$1" | head -n1)
        [[ -n "$port" ]] && { echo "$port"; return; }
        sleep 0.05
    done
    cat "$1" >&2
    die "no \"listening\" line in $1"
}

echo "# switchyard wires benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "# $(uname -srm); $(nproc) cores: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
echo "# binary $bin; wrk -t$THREADS -c$CONNS -d${DURATION}s x $ROUNDS rounds; load $(cut -d' ' -f1-3 /proc/loadavg)"

"$root/scripts/services" start "$tmp/svc" >/dev/null
svc=1
# shellcheck disable=SC1091
. "$tmp/svc/env"
"$bin" migrate >"$tmp/migrate.log" 2>&1 || { cat "$tmp/migrate.log" >&2; die "migrate failed"; }

cat >"$tmp/sim-models.json" <<'EOF'
{"models": {
  "o": {"completion_tokens": {"min": 20, "max": 40}},
  "a": {"completion_tokens": {"min": 20, "max": 40}, "wire": "anthropic"},
  "f": {"completion_tokens": {"min": 20, "max": 40}, "error_rate": 0.1, "errors": {"500": 1}}
}}
EOF
"$bin" sim --listen 127.0.0.1:0 --models "$tmp/sim-models.json" --log-level info 2>"$tmp/sim.log" &
pids+=($!)
sim_port=$(wait_listening "$tmp/sim.log")
"$bin" ingest --block-ms 100 --log-level warn 2>"$tmp/ingest.log" &
pids+=($!)

sim="http://127.0.0.1:$sim_port/v1"
cat >"$tmp/router.json" <<EOF
{
  "default_model": "openai",
  "experiment": {"name": "wires", "salt": "s", "holdout_pct": 0},
  "providers": {
    "oai": {"base_url": "$sim"},
    "ant": {"type": "anthropic", "base_url": "$sim"},
    "r0":  {"base_url": "$sim", "retries": 0},
    "r2":  {"base_url": "$sim", "retries": 2}
  },
  "models": {
    "openai":    {"provider": "oai", "upstream": "o", "tier": "t1", "input_usd_per_mtok": 1, "output_usd_per_mtok": 2},
    "anthropic": {"provider": "ant", "upstream": "a", "tier": "t2", "input_usd_per_mtok": 1, "output_usd_per_mtok": 2},
    "flaky-r0":  {"provider": "r0", "upstream": "f", "tier": "t3", "input_usd_per_mtok": 1, "output_usd_per_mtok": 2},
    "flaky-r2":  {"provider": "r2", "upstream": "f", "tier": "t4", "input_usd_per_mtok": 1, "output_usd_per_mtok": 2}
  },
  "dispatch": {"retry_backoff_ms": 0, "breaker_failures": 1000},
  "api_keys": [{"key": "$KEY", "project": "bench", "allow_model_prefer": true}]
}
EOF
"$bin" router --config "$tmp/router.json" --listen 127.0.0.1:0 --workers 1 --log-level info \
    2>"$tmp/router.log" &
router_pid=$!
pids+=("$router_pid")
port=$(wait_listening "$tmp/router.log")
# the worker's CPU is what serves: the supervisor only waits
worker=$(cat /proc/"$router_pid"/task/*/children | awk '{print $1}')
[[ -n "$worker" ]] || worker=$router_pid

cat >"$tmp/messages.lua" <<'EOF'
-- POST /v1/messages with X-Model-Prefer: openai (Anthropic client, OpenAI provider)
local key = os.getenv("BENCH_KEY")
local reqs, n, i = {}, 2000, 0
function init(args)
  for j = 1, n do
    reqs[j] = wrk.format("POST", "/v1/messages", {
      ["Content-Type"] = "application/json", ["x-api-key"] = key,
      ["anthropic-version"] = "2023-06-01", ["X-User-Id"] = "u" .. j,
      ["X-Model-Prefer"] = "openai"},
      '{"model":"auto","max_tokens":64,"system":"You are a helpful assistant.",' ..
      '"messages":[{"role":"user","content":"Summarise the plot of Hamlet in two sentences."}]}')
  end
end
function request() i = i % n + 1; return reqs[i] end
EOF

cpu() { awk '{print $14 + $15}' "/proc/$worker/stat"; }
tck=$(getconf CLK_TCK)
results=$tmp/results.txt
: >"$results"
run() { # NAME: one wrk run; appends "name rps cpu_us_per_req non2xx_pct"
    local name=$1 out c0 c1
    c0=$(cpu)
    if [[ $name == in:messages ]]; then
        out=$(BENCH_KEY=$KEY wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" \
              -s "$tmp/messages.lua" "http://127.0.0.1:$port" 2>&1)
    else
        out=$(BENCH_KEY=$KEY BENCH_MODEL=auto BENCH_PREFER=$name wrk -t"$THREADS" -c"$CONNS" \
              -d"${DURATION}s" -s "$here/router.lua" "http://127.0.0.1:$port" 2>&1)
    fi
    c1=$(cpu)
    python3 - "$name" "$out" "$((c1 - c0))" "$tck" >>"$results" <<'EOF'
import re, sys
name, out, ticks, tck = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
reqs = int(re.search(r"(\d+) requests in", out).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
bad = int(m.group(1)) if m else 0
print(name, rps, ticks / tck / reqs * 1e6, 100.0 * bad / reqs)
EOF
    tail -n1 "$results" | awk '{printf "  %-12s %9.0f req/s  %6.1f us CPU/req  %5.2f %% non-2xx\n", $1, $2, $3, $4}'
}

targets=(openai anthropic in:messages flaky-r0 flaky-r2)
for r in $(seq 1 "$ROUNDS"); do
    echo "round $r"
    for t in "${targets[@]}"; do run "$t"; done
done

echo
echo "| target | requests/s | router CPU per request | non-2xx |"
echo "|---|---:|---:|---:|"
python3 - "$results" "${targets[@]}" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
for t in sys.argv[2:]:
    mine = [r for r in rows if r[0] == t]
    med = lambda i: statistics.median(float(r[i]) for r in mine)
    print(f"| {t} | {med(1):,.0f} | {med(2):.1f} us | {med(3):.2f} % |")
EOF
