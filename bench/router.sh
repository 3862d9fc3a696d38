#!/usr/bin/env bash
# Router benchmark: the simulator direct, through nginx proxy_pass, through the router.
#
#   bench/router.sh [BINARY]            (default build/switchyard)
#   WORKERS="2 1" DURATION=10 CONNS=64 THREADS=2 RATE=5000 bench/router.sh build-bench/switchyard
#
# Starts, on free ports and in a temporary directory: Redis + PostgreSQL
# (scripts/services), migrate, ingest, `switchyard sim` (built-in profiles, model
# sim-instant: no latency), and for each worker count N in $WORKERS: nginx
# (worker_processes N, keep-alive upstream to the simulator) and the router
# (--workers N; Redis, events and rules on: experiment state "ramp" at 50% in Redis
# so half the users are classified with classifier_rules and the routing table,
# a cohort record per user in Redis, one event per request drained by ingest into
# PostgreSQL). Then measures:
#
#   0. machine     bench/jitter.c for 5 s before anything starts: how often a fixed
#                  20 us of CPU work takes 1.5x, 3x, 10x as long on this machine
#   1. throughput  wrk -t$THREADS -c$CONNS -d$DURATION (bench/router.lua, 10,000 users)
#                  against the simulator, nginx and the router: requests/s, and the CPU
#                  time per request of the server's processes and of the router's
#                  support processes (Redis, ingest, PostgreSQL); nginx and the router
#                  $WRK_ROUNDS times (default 1) in turn, and the median of the rounds'
#                  router/nginx ratios, so the machine's other load falls on both
#   2. latency     bench/loadgen.c (open loop) at $LOW_RATE/s for 5 s (skip with
#                  LOW_RATE=), then at $RATE/s for $LG_DURATION s after $LG_WARMUP s of
#                  warm-up, on $LG_CONNS keep-alive connections: p50/p90/p99/max;
#                  "added" = proxied percentile - direct percentile at the same rate; for the
#                  router also the share of requests whose own time (its overhead
#                  histogram, upstream wait excluded) was <= 100 us and <= 1 ms;
#                  the server's run-queue wait per request (its threads' time runnable
#                  but not running, /proc/PID/task/TID/schedstat: runq_wait_us_per_req);
#                  Redis, ingest and PostgreSQL at nice 19 (NICE_SUPPORT=0: not),
#                  PAUSE_INGEST=1 stops ingest during these runs
#   2b. rounds     $ROUNDS (default 15) interleaved rounds of 1 s at $RATE/s: the
#                  simulator, nginx, the router, back to back, round after round; the
#                  median over rounds of p50/p99 and of "added" (ROUNDS=0: skip)
#   3. memory      $IDLE_CONNS keep-alive connections, one request each, then idle:
#                  VmRSS (and PSS) of the router's supervisor and every worker
#   4. events      after the runs: rows in PostgreSQL `requests` vs requests the
#                  clients completed and the router counted (/metrics)
# Before each measurement the script waits for ingest to empty sy:events, so one
# run's events are not ingested during the next.
#
# Prints each result, then summary tables (markdown), and writes all results as JSON
# lines to $OUT (default: in the temporary directory; copied to
# /tmp/sy-bench-router-last.jsonl). KEEP=1 keeps the temporary directory (logs,
# configs, wrk output). TRACE=1 (with KEEP=1) writes each latency run's requests to
# trace-KIND-TARGET-N.txt there (loadgen --trace). PERF=1 also profiles one router worker (perf, DWARF call
# graphs) for 5 s of the $RATE/s run and prints its hot spots; the profiler slows
# that worker, so publish latencies from a run without PERF. Needs wrk, nginx, cc,
# libevent headers, python3, redis-cli, curl (scripts/install-deps). Every process
# here shares the same cores: keep the machine otherwise idle; the load average is
# printed with the results.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
bin=${1:-$root/build/switchyard}
case "$bin" in /*) ;; *) bin=$PWD/$bin ;; esac
WORKERS=${WORKERS:-"2 1"}
DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
RATE=${RATE:-5000}
LG_CONNS=${LG_CONNS:-32}
LG_DURATION=${LG_DURATION:-10}
LG_WARMUP=${LG_WARMUP:-2}
ROUNDS=${ROUNDS:-15}
WRK_ROUNDS=${WRK_ROUNDS:-1}
LOW_RATE=${LOW_RATE-1000}
IDLE_CONNS=${IDLE_CONNS:-1000}
USERS=${USERS:-10000}
PERF=${PERF:-0}
NICE_SUPPORT=${NICE_SUPPORT:-1}
PAUSE_INGEST=${PAUSE_INGEST:-0}
TRACE=${TRACE:-0}
PERF_SCHED=${PERF_SCHED:-0}
KEY=sk-bench-router
EXP=bench

die() { echo "router.sh: $*" >&2; exit 1; }
for t in wrk nginx cc python3 redis-cli curl; do
    command -v "$t" >/dev/null || die "$t not found (run scripts/install-deps)"
done
[[ -x "$bin" ]] || die "no binary at $bin (build first: make build)"
# 1,000 idle connections need file descriptors (client and server side)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

tmp=$(mktemp -d /tmp/sy-bench-router.XXXXXX)
chmod 711 "$tmp" # PostgreSQL runs as postgres when we are root: it must reach svc/
OUT=${OUT:-$tmp/results.jsonl}
: >"$OUT"
pids=()
svc_started=0
cleanup() {
    local p
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    if ((svc_started)); then
        if [[ "${KEEP:-0}" == 1 ]]; then
            "$root/scripts/services" stop "$tmp/svc" >/dev/null 2>&1 || true
        else
            "$root/scripts/services" stop "$tmp/svc" --rm >/dev/null 2>&1 || true
        fi
    fi
    if [[ "$OUT" == "$tmp/"* ]]; then
        cp "$OUT" "/tmp/sy-bench-router-last.jsonl" 2>/dev/null || true
    fi
    if [[ "${KEEP:-0}" == 1 ]]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
# forget PID: a process already stopped and reaped is not signalled again at exit
forget() {
    local keep=() p
    for p in "${pids[@]}"; do [[ "$p" == "$1" ]] || keep+=("$p"); done
    pids=("${keep[@]}")
}
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_listening LOG: the port from a JSON "listening" log line
wait_listening() {
    local port=
    for _ in $(seq 1 200); do
        port=$(sed -n 's/.*"msg":"listening".*"port":\([0-9]*\).*/\1/p' "$1" | head -n1)
        [[ -n "$port" ]] && { echo "$port"; return; }
        sleep 0.05
    done
    cat "$1" >&2
    die "no \"listening\" line in $1"
}

wait_http() { # URL: until it answers 200
    for _ in $(seq 1 200); do
        [[ $(curl -s -o /dev/null -w '%{http_code}' "$1" 2>/dev/null) == 200 ]] && return 0
        sleep 0.05
    done
    die "$1 did not answer 200"
}

# shellcheck source=bench/router_setup.bash
. "$here/router_setup.bash" # pid_tree, cpu_ticks, BENCH_BODY, bench_router_setup
tck=$(getconf CLK_TCK)

# runq_ns PID...: nanoseconds their threads spent runnable but waiting for a CPU
# (/proc/PID/task/TID/schedstat, second field), summed
runq_ns() {
    local p
    for p in "$@"; do cat /proc/"$p"/task/*/schedstat 2>/dev/null || true; done |
        awk '{ t += $2 } END { printf "%.0f", t }'
}

emit() { echo "$1" >>"$OUT"; echo "  $1"; }

echo "# switchyard router benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "# $(uname -srm); $(nproc) cores: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# binary $bin; wrk -t$THREADS -c$CONNS -d${DURATION}s; loadgen ${RATE}/s x ${LG_DURATION}s on $LG_CONNS conns"
emit "{\"kind\":\"machine\",\"date\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"nproc\":$(nproc),\"cpu\":\"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)\",\"loadavg_before\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}"

# ---------- build the load generator ----------
cc -O2 -Wall -I "$here/.." -o "$tmp/loadgen" "$here/loadgen.c" -levent -lm || die "cannot build bench/loadgen.c (libevent-dev?)"
cc -O2 -Wall -I "$here/.." -o "$tmp/jitter" "$here/jitter.c" || die "cannot build bench/jitter.c"
# the machine's own stalls, before anything of ours runs (bench/jitter.c)
emit "{\"kind\":\"machine_jitter\",$("$tmp/jitter" 5 | sed 's/^{//')"

# ---------- services, migrate, sim, ingest ----------
"$root/scripts/services" start "$tmp/svc" >/dev/null
svc_started=1
# shellcheck disable=SC1091
. "$tmp/svc/env"
"$bin" migrate >"$tmp/migrate.log" 2>&1 || { cat "$tmp/migrate.log" >&2; die "migrate failed"; }
rcli() { redis-cli -h 127.0.0.1 -p "$SY_REDIS_PORT" "$@"; }
psql_q() { "$SY_PG_BIN/psql" -AtX -d "$SWITCHYARD_DATABASE_URL" -c "$1"; }

# info: the "listening" line (per-request lines are debug only)
"$bin" sim --listen 127.0.0.1:0 --log-level info 2>"$tmp/sim.log" &
sim_pid=$!
pids+=("$sim_pid")
sim_port=$(wait_listening "$tmp/sim.log")
wait_http "http://127.0.0.1:$sim_port/healthz"

"$bin" ingest --block-ms 100 --log-level warn 2>"$tmp/ingest.log" &
ingest_pid=$!
pids+=("$ingest_pid")

# experiment state and router config: ramp, half the eligible users routed
# (classifier + rules + table); shared with bench/router_callgrind.sh
bench_router_setup "$tmp/router.json" "$sim_port"

body=$BENCH_BODY

# ---------- helpers per measurement ----------

# support_pids: Redis, ingest and every PostgreSQL process (the router's event path)
support_pids() {
    cat "$tmp/svc/redis/redis.pid"
    echo "$ingest_pid"
    pid_tree "$(head -n1 "$tmp/svc/pg/data/postmaster.pid")"
}

# support_split: CPU ticks of Redis, ingest and PostgreSQL, as three words
support_split() {
    # shellcheck disable=SC2046
    echo "$(cpu_ticks "$(cat "$tmp/svc/redis/redis.pid")") $(cpu_ticks "$ingest_pid")" \
        "$(cpu_ticks $(pid_tree "$(head -n1 "$tmp/svc/pg/data/postmaster.pid")"))"
}

# split_json BEFORE AFTER REQUESTS: "redis/ingest/pg" us per request
split_json() {
    awk -v a="$1" -v b="$2" -v t="$tck" -v r="$3" 'BEGIN {
        split(a, x, " "); split(b, y, " "); if (r <= 0) r = 1
        printf "%.1f/%.1f/%.1f", (y[1]-x[1])*1e6/t/r, (y[2]-x[2])*1e6/t/r, (y[3]-x[3])*1e6/t/r }'
}

# drain: wait (up to 60 s) until ingest has emptied sy:events, so one measurement's
# events are not being ingested during the next one
drain() {
    for _ in $(seq 1 600); do
        [[ "$(rcli XLEN sy:events)" == 0 ]] && return 0
        sleep 0.1
    done
    echo "router.sh: sy:events still holds $(rcli XLEN sy:events) entries after 60 s" >&2
}

# wrk_run NAME N PORT PIDS...: throughput with wrk; CPU of the server processes and
# of the support processes (Redis, ingest, PostgreSQL)
wrk_run() {
    local name=$1 n=$2 port=$3
    shift 3
    local before after out rps reqs lat50 lat99 errs sup_before sup_after spids split_before split_after
    drain
    spids=$(support_pids)
    # shellcheck disable=SC2086
    sup_before=$(cpu_ticks $spids)
    split_before=$(support_split)
    before=$(cpu_ticks "$@")
    out=$(BENCH_KEY=$KEY BENCH_USERS=$USERS wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency \
        -s "$here/router.lua" "http://127.0.0.1:$port")
    after=$(cpu_ticks "$@")
    # shellcheck disable=SC2086
    sup_after=$(cpu_ticks $spids)
    split_after=$(support_split)
    echo "$out" >"$tmp/wrk-$name-$n.txt"
    rps=$(echo "$out" | sed -n 's/^Requests\/sec:[[:space:]]*\([0-9.]*\).*/\1/p')
    reqs=$(echo "$out" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p')
    lat50=$(echo "$out" | awk '$1 == "50%" {print $2}')
    lat99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    errs=$(echo "$out" | sed -n 's/^errors: //p')
    local cpu_us sup_us
    cpu_us=$(awk -v a="$before" -v b="$after" -v t="$tck" -v r="$reqs" \
        'BEGIN { printf "%.1f", (b - a) * 1e6 / t / (r > 0 ? r : 1) }')
    sup_us=$(awk -v a="$sup_before" -v b="$sup_after" -v t="$tck" -v r="$reqs" \
        'BEGIN { printf "%.1f", (b - a) * 1e6 / t / (r > 0 ? r : 1) }')
    emit "{\"kind\":\"wrk\",\"target\":\"$name\",\"workers\":$n,\"round\":${WRK_ROUND:-1},\"rps\":$rps,\"requests\":$reqs,\"wrk_p50\":\"$lat50\",\"wrk_p99\":\"$lat99\",\"errors\":\"$errs\",\"cpu_us_per_req\":$cpu_us,\"support_cpu_us_per_req\":$sup_us,\"support_split_redis_ingest_pg\":\"$(split_json "$split_before" "$split_after" "$reqs")\",\"loadavg\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}"
}

# overhead_hist PORT: "count le_100us le_1ms" of the router's own-time histogram
# (switchyard_router_overhead_seconds: from the request read to the answer, minus the
# time waiting for the provider)
overhead_hist() {
    curl -s "http://127.0.0.1:$1/metrics" | awk '
        /^switchyard_router_overhead_seconds_bucket/ {
            split($1, a, "le=\""); split(a[2], b, "\""); le[b[1]] = $2 }
        /^switchyard_router_overhead_seconds_count/ { n = $2 }
        END { printf "%d %d %d", n, le["0.0001"], le["0.001"] }'
}

# support_nice N: Redis, ingest and PostgreSQL at nice N. Redis and PostgreSQL run in
# sessions of their own, so with autogroup scheduling (Debian's default) a process's
# nice only weighs it against its own session: their autogroups get the nice too
# (not ours: ingest shares it with the router and the load generator).
support_nice() {
    local p
    # shellcheck disable=SC2046
    renice -n "$1" -p $(support_pids) >/dev/null 2>&1 ||
        echo "router.sh: cannot renice Redis/ingest/PostgreSQL to $1" >&2
    local mine
    mine=$(cut -d' ' -f1 /proc/$$/autogroup 2>/dev/null) || return 0
    for p in $(support_pids); do
        [[ "$(cut -d' ' -f1 "/proc/$p/autogroup" 2>/dev/null)" != "$mine" ]] &&
            { echo "$1" >"/proc/$p/autogroup"; } 2>/dev/null
    done
    return 0
}

# lg_run KIND NAME N PORT PIDS...: fixed-rate latency; CPU of the server and support
# processes. KIND latency: $RATE for $LG_DURATION s; latency_low: $LOW_RATE for 5 s.
# With NICE_SUPPORT=1 (default) Redis, ingest and PostgreSQL run at nice 19 during
# these runs: they are batch work off the request path (their CPU per request is
# measured either way). PAUSE_INGEST=1 stops ingest (SIGSTOP) for the run, so events
# wait in the Redis stream, as they would while PostgreSQL is away: it shows whether
# ingest and PostgreSQL are what the tail latency comes from.
lg_run() {
    local kind=$1 name=$2 n=$3 port=$4 res before after sup_before sup_after spids split_before split_after
    shift 4
    local rate=$RATE dur=$LG_DURATION warm=$LG_WARMUP
    if [[ "$kind" == latency_low ]]; then rate=$LOW_RATE dur=5 warm=1; fi
    drain
    if [[ "$NICE_SUPPORT" == 1 ]]; then
        # shellcheck disable=SC2046
        support_nice 19
    fi
    [[ "$PAUSE_INGEST" == 1 ]] && kill -STOP "$ingest_pid"
    spids=$(support_pids)
    # shellcheck disable=SC2086
    sup_before=$(cpu_ticks $spids)
    split_before=$(support_split)
    local ovh_before="0 0 0" ovh_after="0 0 0"
    [[ "$name" == router ]] && ovh_before=$(overhead_hist "$port")
    local trace=()
    [[ "$TRACE" == 1 ]] && trace=(--trace "$tmp/trace-$kind-$name-$n.txt")
    local sched_pid=
    if [[ "$PERF_SCHED" == 1 ]]; then
        perf record -e sched:sched_switch -e sched:sched_wakeup -e cpu-clock -c 250000 -g -a \
            -o "$tmp/sched-$kind-$name-$n.data" -- sleep $((dur + warm)) >/dev/null 2>&1 &
        sched_pid=$!
    fi
    before=$(cpu_ticks "$@")
    local rq_before rq_after
    rq_before=$(runq_ns "$@")
    res=$("$tmp/loadgen" --port "$port" --rate "$rate" --conns "$LG_CONNS" \
        --duration "$dur" --warmup "$warm" --users "$USERS" \
        --header "Authorization: Bearer $KEY" --body "$body" --label "$name" \
        "${trace[@]}")
    after=$(cpu_ticks "$@")
    rq_after=$(runq_ns "$@")
    # shellcheck disable=SC2086
    sup_after=$(cpu_ticks $spids)
    split_after=$(support_split)
    [[ -n "$sched_pid" ]] && { wait "$sched_pid" || true; }
    [[ "$name" == router ]] && ovh_after=$(overhead_hist "$port")
    local ovh
    ovh=$(awk -v a="$ovh_before" -v b="$ovh_after" 'BEGIN { split(a, x, " "); split(b, y, " ");
        n = y[1] - x[1]; if (n <= 0) { printf "null"; exit }
        printf "{\"requests\":%d,\"share_le_100us\":%.5f,\"share_le_1ms\":%.5f}", n,
            (y[2] - x[2]) / n, (y[3] - x[3]) / n }')
    local total=$(((dur + warm) * rate))
    local cpu sup runq
    runq=$(awk -v a="$rq_before" -v b="$rq_after" -v r="$total" 'BEGIN { printf "%.1f", (b - a) / 1e3 / r }')
    cpu=$(awk -v a="$before" -v b="$after" -v t="$tck" -v r="$total" 'BEGIN { printf "%.1f", (b - a) * 1e6 / t / r }')
    sup=$(awk -v a="$sup_before" -v b="$sup_after" -v t="$tck" -v r="$total" 'BEGIN { printf "%.1f", (b - a) * 1e6 / t / r }')
    [[ "$PAUSE_INGEST" == 1 ]] && kill -CONT "$ingest_pid"
    if [[ "$NICE_SUPPORT" == 1 ]]; then
        # shellcheck disable=SC2046
        support_nice 0
    fi
    emit "{\"kind\":\"$kind\",\"target\":\"$name\",\"workers\":$n,\"support_nice\":$NICE_SUPPORT,\"ingest_paused\":$PAUSE_INGEST,\"router_own_time\":$ovh,\"cpu_us_per_req\":$cpu,\"runq_wait_us_per_req\":$runq,\"support_cpu_us_per_req\":$sup,\"support_split_redis_ingest_pg\":\"$(split_json "$split_before" "$split_after" "$total")\",\"loadavg\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",${res#\{}"
}

# rounds_run N NGINX-PORT ROUTER-PORT: $ROUNDS rounds of 1 s at $RATE/s (after 0.2 s
# of warm-up), each round the simulator direct, then nginx, then the router. This
# machine has stalls of tens of milliseconds in which every process runs several times
# slower (docs/benchmarks.md); over a 10 s run they land on whichever target runs then,
# and its p99 is mostly how many it caught. Interleaving spreads them over the targets
# alike, and the median over rounds says what a round without one looks like. Before
# each round ingest empties sy:events, so the router's event work (ingest, PostgreSQL)
# runs during its own round and is not left for the next target's; support processes
# at nice 19 as in lg_run.
rounds_router_sent=0
rounds_run() {
    local n=$1 ngx_port=$2 r_port=$3 round t port res
    rounds_router_sent=0
    local ovh_before ovh_after
    ovh_before=$(overhead_hist "$r_port")
    [[ "$NICE_SUPPORT" == 1 ]] && support_nice 19
    for round in $(seq 1 "$ROUNDS"); do
        for t in sim nginx router; do
            drain
            case $t in sim) port=$sim_port ;; nginx) port=$ngx_port ;; router) port=$r_port ;; esac
            local trace=()
            [[ "$TRACE" == 1 ]] && trace=(--trace "$tmp/trace-round$round-$t-$n.txt")
            res=$("$tmp/loadgen" --port "$port" --rate "$RATE" --conns "$LG_CONNS" \
                --duration 1 --warmup 0.2 --users "$USERS" \
                --header "Authorization: Bearer $KEY" --body "$body" --label "$t" "${trace[@]}")
            [[ "$t" == router ]] && rounds_router_sent=$((rounds_router_sent +
                $(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["sent"])' "$res")))
            echo "{\"kind\":\"round\",\"round\":$round,\"target\":\"$t\",\"workers\":$n,${res#\{}" >>"$OUT"
        done
    done
    [[ "$NICE_SUPPORT" == 1 ]] && support_nice 0
    ovh_after=$(overhead_hist "$r_port")
    emit "$(python3 - "$OUT" "$n" "$ovh_before" "$ovh_after" <<'PY'
import json, statistics, sys
n = int(sys.argv[2])
rs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rs = [r for r in rs if r["kind"] == "round" and r["workers"] == n]
by = {t: [r for r in rs if r["target"] == t] for t in ("sim", "nginx", "router")}
med = lambda xs: statistics.median(xs) if xs else 0
out = {"kind": "rounds", "workers": n, "rounds": len(by["sim"]), "round_s": 1}
for t, v in by.items():
    out[t] = {"p50_us_median": med([r["p50_us"] for r in v]),
              "p99_us_median": med([r["p99_us"] for r in v]),
              "p99_us_min": min(r["p99_us"] for r in v),
              "p99_us_max": max(r["p99_us"] for r in v),
              "errors": sum(r["errors"] + r["non2xx"] for r in v)}
for t in ("nginx", "router"):
    out[t]["added_p50_us_median"] = med([a["p50_us"] - d["p50_us"] for a, d in zip(by[t], by["sim"])])
    out[t]["added_p99_us_median"] = med([a["p99_us"] - d["p99_us"] for a, d in zip(by[t], by["sim"])])
b, a = [list(map(int, x.split())) for x in sys.argv[3:5]]
if a[0] > b[0]:
    out["router"]["own_time_share_le_100us"] = round((a[1] - b[1]) / (a[0] - b[0]), 5)
    out["router"]["own_time_share_le_1ms"] = round((a[2] - b[2]) / (a[0] - b[0]), 5)
print(json.dumps(out, separators=(",", ":")))
PY
)"
}

# router_metric PORT NAME: sum of a metric family over its labels
router_metric() {
    curl -s "http://127.0.0.1:$1/metrics" | awk -v m="$2" \
        '$1 == m || index($1, m "{") == 1 { s += $2 } END { printf "%d", s }'
}

# idle_rss PORT SUPERVISOR-PID N: N keep-alive connections with one request each, then RSS
idle_rss() {
    local port=$1 sup=$2 n=$3
    local fifo=$tmp/idle.fifo
    rm -f "$fifo"
    mkfifo "$fifo"
    python3 - "$port" "$IDLE_CONNS" "$KEY" "$body" >"$fifo" <<'EOF' &
import socket, sys, time, signal
port, n, key, body = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4].encode()
req = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
       f"Authorization: Bearer {key}\r\nContent-Length: {len(body)}\r\n").encode()
socks, ok, bad = [], 0, 0
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(req + f"X-User-Id: idle-{i}\r\n\r\n".encode() + body)
    socks.append(s)
for s in socks:
    s.settimeout(30)
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    cl = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            cl = int(v)
    while len(rest) < cl:
        d = s.recv(65536)
        if not d:
            break
        rest += d
    if head.startswith(b"HTTP/1.1 200") and len(rest) >= cl:
        ok += 1
    else:
        bad += 1
print(f"{ok} {bad}", flush=True)
signal.pause() if hasattr(signal, "pause") else time.sleep(3600)
EOF
    local helper=$!
    pids+=("$helper")
    local ok bad
    read -r ok bad <"$fifo"
    sleep 1 # let the workers settle (freed request state, timers)
    local p total=0 total_pss=0 per="" open
    open=$(router_metric "$port" switchyard_open_connections)
    for p in $(pid_tree "$sup"); do
        local rss pss role=worker
        [[ "$p" == "$sup" && "$n" -gt 1 ]] && role=supervisor
        rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status")
        pss=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
        per+="{\"pid\":$p,\"role\":\"$role\",\"rss_kb\":$rss,\"pss_kb\":${pss:-0}},"
        total=$((total + rss))
        total_pss=$((total_pss + ${pss:-0}))
    done
    local workers_rss=0
    for p in $(pid_tree "$sup"); do
        [[ "$p" == "$sup" && "$n" -gt 1 ]] && continue
        workers_rss=$((workers_rss + $(awk '/^VmRSS:/ {print $2}' "/proc/$p/status")))
    done
    kill "$helper" 2>/dev/null || true
    wait "$helper" 2>/dev/null || true
    forget "$helper"
    emit "{\"kind\":\"rss\",\"target\":\"router\",\"workers\":$n,\"idle_conns\":$IDLE_CONNS,\"ok\":$ok,\"bad\":$bad,\"open_connections_one_worker\":$open,\"workers_rss_kb\":$workers_rss,\"all_rss_kb\":$total,\"all_pss_kb\":$total_pss,\"procs\":[${per%,}]}"
}

# ---------- the simulator alone ----------
echo
echo "== simulator (direct), port $sim_port"
wrk_run sim 1 "$sim_port" "$sim_pid"
[[ -n "$LOW_RATE" ]] && lg_run latency_low sim 1 "$sim_port" "$sim_pid"
lg_run latency sim 1 "$sim_port" "$sim_pid"

sent_router=0
counted_router=0
for n in $WORKERS; do
    # ---------- nginx ----------
    ngx=$tmp/nginx-$n
    mkdir -p "$ngx"
    ngx_port=$(free_port)
    cat >"$ngx/nginx.conf" <<EOF
worker_processes $n;
pid $ngx/nginx.pid;
error_log $ngx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $ngx/body;
    proxy_temp_path $ngx/proxy;
    upstream sim {
        server 127.0.0.1:$sim_port;
        keepalive 128;
        keepalive_requests 1000000;
    }
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    server {
        listen 127.0.0.1:$ngx_port;
        location / {
            proxy_pass http://sim;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
    nginx -p "$ngx" -c "$ngx/nginx.conf" -e "$ngx/error.log" -g 'daemon off;' 2>>"$ngx/stderr.log" &
    ngx_pid=$!
    pids+=("$ngx_pid")
    wait_http "http://127.0.0.1:$ngx_port/healthz"

    # ---------- router ----------
    r_port=$(free_port)
    "$bin" router --config "$tmp/router.json" --listen "127.0.0.1:$r_port" --workers "$n" \
        --log-level warn 2>"$tmp/router-$n.log" &
    r_pid=$!
    pids+=("$r_pid")
    wait_http "http://127.0.0.1:$r_port/readyz"
    sleep 0.5 # every worker up and reading the experiment state

    # ---------- throughput: nginx and the router in turn ----------
    for WRK_ROUND in $(seq 1 "$WRK_ROUNDS"); do
        echo
        echo "== nginx, worker_processes $n, port $ngx_port (throughput round $WRK_ROUND of $WRK_ROUNDS)"
        # shellcheck disable=SC2046
        wrk_run nginx "$n" "$ngx_port" $(pid_tree "$ngx_pid")
        echo "== router, --workers $n, port $r_port (Redis, events, rules; phase ramp 50%)"
        # shellcheck disable=SC2046
        wrk_run router "$n" "$r_port" $(pid_tree "$r_pid")
        w=$(tail -n1 "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])')
        sent_router=$((sent_router + w))
    done
    unset WRK_ROUND

    echo
    echo "== nginx, latency"
    # shellcheck disable=SC2046
    [[ -n "$LOW_RATE" ]] && lg_run latency_low nginx "$n" "$ngx_port" $(pid_tree "$ngx_pid")
    # shellcheck disable=SC2046
    lg_run latency nginx "$n" "$ngx_port" $(pid_tree "$ngx_pid")
    echo "== router, latency"
    if [[ -n "$LOW_RATE" ]]; then
        # shellcheck disable=SC2046
        lg_run latency_low router "$n" "$r_port" $(pid_tree "$r_pid")
        l=$(tail -n1 "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sent"])')
        sent_router=$((sent_router + l))
    fi
    if [[ "$PERF" == 1 ]] && command -v perf >/dev/null; then
        # one worker, DWARF call graphs, 5 s of the fixed-rate run after its warm-up
        worker=$(pid_tree "$r_pid" | tail -n1)
        (sleep "$LG_WARMUP" && perf record -F 499 --call-graph dwarf,16384 -o "$tmp/perf-$n.data" \
            -p "$worker" -- sleep 5) >/dev/null 2>&1 &
        perf_pid=$!
        pids+=("$perf_pid")
    fi
    # shellcheck disable=SC2046
    lg_run latency router "$n" "$r_port" $(pid_tree "$r_pid")
    l=$(tail -n1 "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sent"])')
    sent_router=$((sent_router + l))
    if [[ -n "${perf_pid:-}" ]]; then
        wait "$perf_pid" || true
        forget "$perf_pid"
        {
            echo "# self time by library"
            perf report -i "$tmp/perf-$n.data" --no-children --sort dso -g none --stdio 2>/dev/null |
                grep '%' | head -n 12 || true
            echo "# inclusive time, user-space functions >= 3%"
            perf report -i "$tmp/perf-$n.data" --children --sort symbol -g none --stdio 2>/dev/null |
                grep '%' | grep -v '\[k\]' | grep -vE '\] 0x[0-9a-f]+ ' | awk '$1 + 0 >= 3' | head -n 60 || true
            echo "# self time, top symbols"
            perf report -i "$tmp/perf-$n.data" --no-children --sort dso,symbol -g none --stdio 2>/dev/null |
                grep '%' | head -n 25 || true
        } >"$tmp/perf-$n.txt"
        echo "  perf, one router worker of $n at $RATE/s:"
        sed 's/^/    /' "$tmp/perf-$n.txt"
        cp "$tmp/perf-$n.txt" "/tmp/sy-bench-router-perf-$n.txt" 2>/dev/null || true
        unset perf_pid
    fi
    if ((ROUNDS > 0)); then
        rounds_run "$n" "$ngx_port" "$r_port"
        sent_router=$((sent_router + rounds_router_sent))
    fi
    kill -QUIT "$ngx_pid" 2>/dev/null || true
    wait "$ngx_pid" 2>/dev/null || true
    forget "$ngx_pid"
    drain
    idle_rss "$r_port" "$r_pid" "$n"
    sent_router=$((sent_router + IDLE_CONNS))
    c=$(router_metric "$r_port" switchyard_requests_total)
    dropped=$(router_metric "$r_port" switchyard_events_dropped_total)
    ovh_sum=$(curl -s "http://127.0.0.1:$r_port/metrics" | awk '$1 == "switchyard_router_overhead_seconds_sum" {print $2}')
    ovh_cnt=$(curl -s "http://127.0.0.1:$r_port/metrics" | awk '$1 == "switchyard_router_overhead_seconds_count" {print $2}')
    counted_router=$((counted_router + c))
    emit "{\"kind\":\"router_counters\",\"workers\":$n,\"requests_total\":$c,\"events_dropped\":$dropped,\"overhead_mean_us\":$(awk -v s="${ovh_sum:-0}" -v c="${ovh_cnt:-0}" 'BEGIN { printf "%.1f", (c > 0 ? s * 1e6 / c : 0) }')}"
    kill -TERM "$r_pid" 2>/dev/null || true
    wait "$r_pid" 2>/dev/null || true
    forget "$r_pid"
done

# ---------- events in PostgreSQL ----------
echo
echo "== events: waiting for ingest to drain sy:events"
rows=0
prev=-1
for _ in $(seq 1 120); do
    len=$(rcli XLEN sy:events)
    rows=$(psql_q "SELECT count(*) FROM requests")
    [[ "$len" == 0 && "$rows" == "$prev" ]] && break
    prev=$rows
    sleep 1
done
errors_rows=$(psql_q "SELECT count(*) FROM requests WHERE status <> 200")
cohorts=$(psql_q "SELECT string_agg(cohort || '=' || n, ' ') FROM (SELECT cohort, count(*) n FROM requests GROUP BY 1 ORDER BY 1) s")
tasks=$(psql_q "SELECT string_agg(coalesce(task_type, 'none') || '=' || n, ' ') FROM (SELECT task_type, count(*) n FROM requests GROUP BY 1 ORDER BY 1) s")
emit "{\"kind\":\"events\",\"client_completed\":$sent_router,\"router_counted\":$counted_router,\"rows\":$rows,\"rows_not_200\":$errors_rows,\"stream_left\":$(rcli XLEN sy:events),\"cohorts\":\"$cohorts\",\"tasks\":\"$tasks\"}"
emit "{\"kind\":\"machine_after\",\"loadavg_after\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}"

# ---------- summary ----------
echo
python3 - "$OUT" "$RATE" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rate = int(sys.argv[2])
wrk = {}  # per target: the round of median throughput
for r in recs:
    if r["kind"] == "wrk":
        wrk.setdefault((r["target"], r["workers"]), []).append(r)
wrk = {k: sorted(v, key=lambda r: r["rps"])[len(v) // 2] for k, v in wrk.items()}
lat = {(r["target"], r["workers"]): r for r in recs if r["kind"] == "latency"}
rss = {r["workers"]: r for r in recs if r["kind"] == "rss"}
d = lat.get(("sim", 1))
idle = next(iter(rss.values()))["idle_conns"] if rss else 0
print(f"| target | workers | wrk requests/s | CPU us/request (server + Redis/ingest/PG) "
      f"| p50 @{rate}/s | p99 @{rate}/s | added p50 | added p99 | errors "
      f"| RSS, {idle} idle conns (VmRSS of workers; per worker) |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
workers = sorted({k[1] for k in wrk if k[0] != "sim"}, reverse=True)
rows = [("sim", 1)] + [(t, n) for n in workers for t in ("nginx", "router")]
for t, n in rows:
    w, l = wrk.get((t, n)), lat.get((t, n))
    if not w or not l:
        continue
    added = ("-", "-") if t == "sim" or not d else \
        (f"{l['p50_us'] - d['p50_us']} us", f"{l['p99_us'] - d['p99_us']} us")
    r = rss.get(n) if t == "router" else None
    rs = "-"
    if r:
        per = " + ".join(f"{p['rss_kb'] / 1024:.1f}" for p in r["procs"] if p["role"] == "worker")
        sup = [p for p in r["procs"] if p["role"] == "supervisor"]
        rs = f"{r['workers_rss_kb'] / 1024:.1f} MB ({per})"
        if sup:
            rs += f"; supervisor {sup[0]['rss_kb'] / 1024:.1f} MB"
    print(f"| {'sim direct' if t == 'sim' else t} | {'-' if t == 'sim' else n} "
          f"| {w['rps']:.0f} | {w['cpu_us_per_req']} + {w['support_cpu_us_per_req']} "
          f"| {l['p50_us']} us | {l['p99_us']} us "
          f"| {added[0]} | {added[1]} | {l['errors'] + l['non2xx']} | {rs} |")
low = {(r["target"], r["workers"]): r for r in recs if r["kind"] == "latency_low"}
dl = low.get(("sim", 1))
if low and dl:
    print(f"\nAt {dl['rate']}/s (nothing queues):\n")
    print("| target | workers | p50 | p90 | p99 | added p50 | added p99 | CPU us/request (server + Redis/ingest/PG) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for t, n in rows:
        l = low.get((t, n))
        if not l:
            continue
        added = ("-", "-") if t == "sim" else \
            (f"{l['p50_us'] - dl['p50_us']} us", f"{l['p99_us'] - dl['p99_us']} us")
        print(f"| {'sim direct' if t == 'sim' else t} | {'-' if t == 'sim' else n} | {l['p50_us']} us "
              f"| {l['p90_us']} us | {l['p99_us']} us | {added[0]} | {added[1]} "
              f"| {l['cpu_us_per_req']} + {l['support_cpu_us_per_req']} |")
rounds = [r for r in recs if r["kind"] == "rounds"]
if rounds:
    print(f"\nInterleaved rounds at {rate}/s ({rounds[0]['rounds']} rounds of 1 s; each round the "
          "simulator, nginx, the router; medians over rounds, and the range of the rounds' p99):\n")
    print("| target | workers | p50 | p99 | p99 range | added p50 | added p99 | router's own time <= 1 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rounds:
        for t in ("sim", "nginx", "router"):
            x = r[t]
            us = lambda k: "-" if k not in x else f"{x[k]:.0f} us"
            own = x.get("own_time_share_le_1ms")
            print(f"| {'sim direct' if t == 'sim' else t} | {'-' if t == 'sim' else r['workers']} "
                  f"| {us('p50_us_median')} | {us('p99_us_median')} "
                  f"| {x['p99_us_min']}-{x['p99_us_max']} us "
                  f"| {us('added_p50_us_median')} | {us('added_p99_us_median')} "
                  f"| {'-' if own is None else f'{own * 100:.3f}%'} |")
for n in workers:
    pairs = {}
    for r in recs:
        if r["kind"] == "wrk" and r["workers"] == n and r["target"] in ("nginx", "router"):
            pairs.setdefault(r.get("round", 1), {})[r["target"]] = r["rps"]
    ratios = sorted(p["router"] / p["nginx"] for p in pairs.values() if len(p) == 2)
    if ratios:
        med = ratios[len(ratios) // 2] if len(ratios) % 2 else \
            (ratios[len(ratios) // 2 - 1] + ratios[len(ratios) // 2]) / 2
        print(f"\nworkers={n}: router/nginx throughput = {med:.2f}"
              + (f" (median of {len(ratios)} rounds: {', '.join(f'{x:.2f}' for x in ratios)})"
                 if len(ratios) > 1 else ""))
for r in recs:
    if r["kind"] in ("events", "router_counters", "machine", "machine_jitter", "machine_after"):
        print(json.dumps(r))
EOF
echo
echo "results: $OUT (copied to /tmp/sy-bench-router-last.jsonl when in the temporary directory)"
