#!/usr/bin/env bash
# Instructions per proxied request of the router, under callgrind: repeatable on a busy
# shared machine where wall-clock numbers are not.
#
#   bench/router_callgrind.sh BEFORE_BIN AFTER_BIN      (e.g. a build of main, and yours)
#   N=2000 WARMUP=200 STREAM=0 bench/router_callgrind.sh build-main/switchyard build/switchyard
#
# Starts Redis + PostgreSQL (scripts/services; the router's cohort records and event spool
# go to Redis, nothing drains them), the experiment state "ramp" at 50% (so the request
# path classifies, records the cohort and spools the event, as in bench/router.sh), and one
# `switchyard sim` (AFTER_BIN's, model sim-instant: no latency). Then for each binary:
# the router with --workers 1 under `valgrind --tool=callgrind`, WARMUP requests, counters
# zeroed (callgrind_control -z), N identical requests on one keep-alive connection
# (STREAM=1: "stream": true), counters dumped. Prints Ir per request in total and by
# object (the router itself, libcurl, libc, libevent, ...), exclusive of callees in other
# objects. One core at a time; a few minutes in all. KEEP=1 keeps the temporary directory
# (callgrind.out.* files: inspect them with callgrind_annotate).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
[[ $# -eq 2 ]] || { sed -n '2,17p' "$0" >&2; exit 2; }
N=${N:-2000}
WARMUP=${WARMUP:-200}
STREAM=${STREAM:-0}
bins=()
for b in "$@"; do
    case "$b" in /*) ;; *) b=$PWD/$b ;; esac
    [[ -x "$b" ]] || { echo "router_callgrind.sh: no binary at $b" >&2; exit 2; }
    bins+=("$b")
done
for t in valgrind callgrind_control callgrind_annotate python3 redis-cli; do
    command -v "$t" >/dev/null || { echo "router_callgrind.sh: $t not found" >&2; exit 2; }
done

tmp=$(mktemp -d /tmp/sy-bench-cg.XXXXXX)
chmod 711 "$tmp"
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    "$root/scripts/services" stop "$tmp/svc" --rm >/dev/null 2>&1 || true
    if [[ "${KEEP:-0}" == 1 ]]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_listening() { # LOG [TRIES]: the port of its "listening" line
    local port=
    for _ in $(seq 1 "${2:-200}"); do
        port=$(sed -n 's/.*"msg":"listening".*"port":\([0-9]*\).*/\1/p' "$1" | head -n1)
        [[ -n "$port" ]] && { echo "$port"; return; }
        sleep 0.1
    done
    cat "$1" >&2
    echo "router_callgrind.sh: no \"listening\" line in $1" >&2
    exit 1
}

"$root/scripts/services" start "$tmp/svc" >/dev/null
. "$tmp/svc/env"
redis-cli -h 127.0.0.1 -p "$SY_REDIS_PORT" HSET "sy:{cg}:state" phase ramp routed_bp 5000 \
    holdout_bp 500 salt cg-salt version 1 >/dev/null

"${bins[1]}" sim --listen 127.0.0.1:0 2>"$tmp/sim.log" &
pids+=($!)
sim_port=$(wait_listening "$tmp/sim.log")

cat >"$tmp/router.json" <<EOF
{
  "default_model": "instant",
  "experiment": {"name": "cg", "salt": "cg-salt", "holdout_pct": 5},
  "providers": {"sim": {"base_url": "http://127.0.0.1:$sim_port/v1",
                        "connect_timeout_ms": 1000, "timeout_ms": 10000}},
  "models": {
    "instant":        {"provider": "sim", "upstream": "sim-instant", "tier": "premium",
                       "input_usd_per_mtok": 2.5, "output_usd_per_mtok": 10.0},
    "instant-code":   {"provider": "sim", "upstream": "sim-instant", "tier": "standard",
                       "input_usd_per_mtok": 0.4, "output_usd_per_mtok": 1.6},
    "instant-small":  {"provider": "sim", "upstream": "sim-instant", "tier": "economy",
                       "input_usd_per_mtok": 0.1, "output_usd_per_mtok": 0.4}
  },
  "routing": {
    "simple":    {"eco": "instant-small", "balanced": "instant-small", "sport": "instant"},
    "code":      {"eco": "instant-code", "balanced": "instant-code", "sport": "instant"},
    "reasoning": {"eco": "instant-code", "balanced": "instant", "sport": "instant"},
    "complex":   {"eco": "instant-code", "balanced": "instant", "sport": "instant"}
  },
  "api_keys": [{"key": "sk-cg", "project": "cg"}]
}
EOF

cat >"$tmp/client.py" <<'EOF'
import http.client, json, sys
port, n, stream = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
body = {"model": "auto", "messages": [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Summarise the plot of Hamlet in two sentences."}]}
if stream:
    body["stream"] = True
body = json.dumps(body)
hdrs = {"Authorization": "Bearer sk-cg", "Content-Type": "application/json", "X-User-Id": "cg-user"}
c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
for i in range(n):
    c.request("POST", "/v1/chat/completions", body, hdrs)
    r = c.getresponse()
    data = r.read()
    if r.status != 200:
        sys.exit(f"request {i}: HTTP {r.status}: {data[:300]!r}")
EOF

# self cost by object (ELF file) from a callgrind file: cost lines after "calls=" are
# the callee's inclusive cost and are skipped (callgrind_annotate --inclusive=no still
# shows the frames that were on the stack when the counters were zeroed at 100%)
cat >"$tmp/by_object.py" <<'EOF'
import re, sys, collections
path, n = sys.argv[1], int(sys.argv[2])
names = {}
def name(kind, v):
    m = re.match(r"\((\d+)\)(?:\s+(.*))?$", v)
    if not m:
        return v
    key = (kind, m.group(1))
    if m.group(2) is not None:
        names[key] = m.group(2)
    return names.get(key, v)
ob = "?"
by = collections.Counter()
total = 0
skip = False
for line in open(path):
    line = line.rstrip("\n")
    if line.startswith("ob="):
        ob = name("ob", line[3:])
    elif line.startswith("cob="):
        name("ob", line[4:])
    elif line.startswith(("fn=", "cfn=", "cfi=", "cfl=", "fl=", "fi=", "fe=")):
        k, v = line.split("=", 1)
        name({"cfn": "fn", "cfi": "fl", "cfl": "fl", "fi": "fl", "fe": "fl"}.get(k, k), v)
    elif line.startswith("calls="):
        skip = True
    elif line[:1].isdigit() or line[:1] in "+-*":
        parts = line.split()
        if skip:
            skip = False
            continue
        if len(parts) >= 2:
            ir = int(parts[1]); by[ob] += ir; total += ir
    elif line.startswith("summary:"):
        summary = int(line.split()[1])
for o, ir in by.most_common():
    short = re.sub(r"\.so.*", "", o.rsplit("/", 1)[-1])
    if ir / n >= 50:
        print(f"  {short:<22} {ir / n:9.0f} Ir/request  {100 * ir / total:5.1f}%")
EOF

echo "# router under callgrind: $N requests (stream=$STREAM) after $WARMUP, one keep-alive connection"
echo "# $(uname -srm); $(valgrind --version); load average $(cut -d' ' -f1-3 /proc/loadavg)"
results=()
for i in 0 1; do
    bin=${bins[$i]}
    name=$([[ $i == 0 ]] && echo before || echo after)
    out="$tmp/callgrind.out.$name"
    valgrind --tool=callgrind --callgrind-out-file="$out" --dump-instr=no \
        "$bin" router --config "$tmp/router.json" --listen 127.0.0.1:0 --workers 1 \
        --log-level warn 2>"$tmp/router-$name.log" &
    vpid=$!
    pids+=("$vpid")
    # --log-level warn hides the "listening" line: find the port it listens on
    port=
    for _ in $(seq 1 600); do
        port=$(ss -ltnpH 2>/dev/null | awk -v p="pid=$vpid," '$0 ~ p {sub(/.*:/, "", $4); print $4; exit}')
        [[ -n "$port" ]] && break
        sleep 0.1
    done
    [[ -n "$port" ]] || { cat "$tmp/router-$name.log" >&2; echo "router did not listen" >&2; exit 1; }
    python3 "$tmp/client.py" "$port" "$WARMUP" "$STREAM"
    callgrind_control -z "$vpid" >/dev/null
    python3 "$tmp/client.py" "$port" "$N" "$STREAM"
    callgrind_control -d "$name" "$vpid" >/dev/null
    kill -TERM "$vpid"
    wait "$vpid" 2>/dev/null || true
    dump=$(grep -l "^desc: Trigger: .*$name" "$out"* | head -n1 || true)
    [[ -n "$dump" ]] || { echo "no callgrind dump for $name" >&2; ls "$tmp" >&2; exit 1; }
    total=$(sed -n 's/^summary: \([0-9]*\).*/\1/p' "$dump")
    echo
    echo "## $name: $bin"
    awk -v t="$total" -v n="$N" 'BEGIN { printf "Ir per request: %d (total %d over %d requests)\n", t / n, t, n }'
    python3 "$tmp/by_object.py" "$dump" "$N"
    results+=("$name=$total")
done
b=${results[0]#*=}
a=${results[1]#*=}
echo
awk -v b="$b" -v a="$a" -v n="$N" 'BEGIN { printf "before %d, after %d Ir per request: %+.1f%%\n", b / n, a / n, 100 * (a - b) / b }'
