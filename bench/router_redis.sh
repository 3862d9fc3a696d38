#!/usr/bin/env bash
# Redis CPU per routed request (issue 17): what the router's event and cohort path costs
# Redis, read from Redis itself, for one or more router binaries in interleaved rounds.
#
#   bench/router_redis.sh [BINARY...]             (default build/switchyard)
#   ROUNDS=3 DURATION=10 WORKERS=1 bench/router_redis.sh /tmp/before build-bench/switchyard
#
# Starts, on free ports in a temporary directory: Redis + PostgreSQL (scripts/services),
# migrate, ingest, `switchyard sim` (sim-instant) and bench/router.sh's experiment state
# and router config. Then, ROUNDS times, for each BINARY in turn: the router
# (--workers $WORKERS), 2 s of wrk warm-up, ingest drains sy:events, CONFIG RESETSTAT,
# `wrk -t2 -c32 -d$DURATION` (bench/router.lua, $USERS users), ingest drains sy:events
# again (its Redis work for these requests is counted too), and reads:
#   - INFO cpu: used_cpu_sys + used_cpu_user of Redis, delta over the run, per request
#   - INFO commandstats: calls and usec per request, by command
#   - INFO stats: read events (total_reads_processed), bytes in and out per request
#   - rows in PostgreSQL `requests` added vs requests the router counted
# RATE=N measures each round with bench/loadgen.c instead (open loop, N requests/s for
# $DURATION s on $CONNS connections after 1 s of warm-up), and adds what the router's own
# processes spent (utime + stime, /proc) per request and the loadgen p50/p99: the cost
# per request at a rate where every request is its own wake-up, binaries interleaved.
# Prints one JSON line per round and binary; a summary table at the end (medians).
# Needs wrk, python3, redis-cli, curl. The machine's other load shows in wall-clock
# throughput; Redis's own CPU per request moves much less.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
bins=("$@")
((${#bins[@]})) || bins=("$root/build/switchyard")
for i in "${!bins[@]}"; do case "${bins[$i]}" in /*) ;; *) bins[$i]=$PWD/${bins[$i]} ;; esac; done
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
WORKERS=${WORKERS:-1}
CONNS=${CONNS:-32}
USERS=${USERS:-10000}
KEY=sk-bench-router
EXP=bench

RATE=${RATE:-}
die() { echo "router_redis.sh: $*" >&2; exit 1; }
for t in wrk python3 redis-cli curl; do command -v "$t" >/dev/null || die "$t not found"; done
for b in "${bins[@]}"; do [[ -x "$b" ]] || die "no binary at $b"; done

tmp=$(mktemp -d /tmp/sy-bench-rr.XXXXXX)
chmod 711 "$tmp"
pids=()
svc_started=0
cleanup() {
    local p
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    if ((svc_started)); then "$root/scripts/services" stop "$tmp/svc" --rm >/dev/null 2>&1 || true; fi
    if [[ "${KEEP:-0}" == 1 ]]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

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
wait_http() {
    for _ in $(seq 1 200); do
        [[ $(curl -s -o /dev/null -w '%{http_code}' "$1" 2>/dev/null) == 200 ]] && return 0
        sleep 0.05
    done
    die "$1 did not answer 200"
}
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

if [[ -n "$RATE" ]]; then
    cc -O2 -Wall -I "$root" -o "$tmp/loadgen" "$here/loadgen.c" -levent -lm ||
        die "cannot build bench/loadgen.c (libevent-dev?)"
fi
tck=$(getconf CLK_TCK)

"$root/scripts/services" start "$tmp/svc" >/dev/null
svc_started=1
# shellcheck disable=SC1091
. "$tmp/svc/env"
"${bins[0]}" migrate >"$tmp/migrate.log" 2>&1 || { cat "$tmp/migrate.log" >&2; die "migrate failed"; }
rcli() { redis-cli -h 127.0.0.1 -p "$SY_REDIS_PORT" "$@"; }
psql_q() { "$SY_PG_BIN/psql" -AtX -d "$SWITCHYARD_DATABASE_URL" -c "$1"; }

"${bins[0]}" sim --listen 127.0.0.1:0 --log-level info 2>"$tmp/sim.log" &
pids+=($!)
sim_port=$(wait_listening "$tmp/sim.log")
"${bins[0]}" ingest --block-ms 100 --log-level warn 2>"$tmp/ingest.log" &
pids+=($!)
# shellcheck source=bench/router_setup.bash
. "$here/router_setup.bash"
bench_router_setup "$tmp/router.json" "$sim_port"

drain() {
    for _ in $(seq 1 600); do
        [[ "$(rcli XLEN sy:events)" == 0 ]] && return 0
        sleep 0.1
    done
    die "sy:events still holds $(rcli XLEN sy:events) entries after 60 s"
}
redis_cpu() { rcli INFO cpu | tr -d '\r' | awk -F: '/^used_cpu_(sys|user):/ {s += $2} END {printf "%.6f", s}'; }
router_metric() {
    curl -s "http://127.0.0.1:$1/metrics" | awk -v m="$2" \
        '$1 == m || index($1, m "{") == 1 { s += $2 } END { printf "%d", s }'
}

echo "# switchyard router -> Redis cost, $(date -u +%Y-%m-%dT%H:%M:%SZ); load average $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -n "$RATE" ]]; then
    echo "# $ROUNDS rounds x ${#bins[@]} binaries; loadgen ${RATE}/s x ${DURATION}s on $CONNS conns, $USERS users, --workers $WORKERS"
else
    echo "# $ROUNDS rounds x ${#bins[@]} binaries; wrk -t2 -c$CONNS -d${DURATION}s, $USERS users, --workers $WORKERS"
fi
OUT=$tmp/results.jsonl
for round in $(seq 1 "$ROUNDS"); do
    for bi in "${!bins[@]}"; do
        b=${bins[$bi]}
        port=$(free_port)
        "$b" router --config "$tmp/router.json" --listen "127.0.0.1:$port" --workers "$WORKERS" \
            --log-level warn 2>"$tmp/router-$round-$bi.log" &
        r_pid=$!
        pids+=("$r_pid")
        wait_http "http://127.0.0.1:$port/readyz"
        sleep 0.5
        BENCH_KEY=$KEY BENCH_USERS=$USERS wrk -t2 -c"$CONNS" -d2s -s "$here/router.lua" \
            "http://127.0.0.1:$port" >/dev/null
        drain
        rows0=$(psql_q "SELECT count(*) FROM requests")
        counted0=$(router_metric "$port" switchyard_requests_total)
        rcli CONFIG RESETSTAT >/dev/null
        cpu0=$(redis_cpu)
        rt0=$(cpu_ticks $(pid_tree "$r_pid"))
        if [[ -n "$RATE" ]]; then
            out=$("$tmp/loadgen" --port "$port" --rate "$RATE" --conns "$CONNS" \
                --duration "$DURATION" --warmup 1 --users "$USERS" \
                --header "Authorization: Bearer $KEY" --body "$BENCH_BODY" --label router)
        else
            out=$(BENCH_KEY=$KEY BENCH_USERS=$USERS wrk -t2 -c"$CONNS" -d"${DURATION}s" \
                -s "$here/router.lua" "http://127.0.0.1:$port")
        fi
        rt1=$(cpu_ticks $(pid_tree "$r_pid"))
        drain
        sleep 0.3 # ingest's last XACK
        cpu1=$(redis_cpu)
        counted1=$(router_metric "$port" switchyard_requests_total)
        rcli INFO commandstats | tr -d '\r' >"$tmp/cmdstats-$round-$bi.txt"
        rcli INFO stats | tr -d '\r' >>"$tmp/cmdstats-$round-$bi.txt"
        kill -TERM "$r_pid"
        wait "$r_pid" 2>/dev/null || true
        for _ in $(seq 1 50); do # the last rows of this round
            rows1=$(psql_q "SELECT count(*) FROM requests")
            [[ $((rows1 - rows0)) -ge $((counted1 - counted0)) ]] && break
            sleep 0.2
        done
        lat='{}'
        if [[ -n "$RATE" ]]; then # everything sent, warm-up included, ran on the router
            rps=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["achieved_rps"])')
            reqs=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sent"])')
            lat=$(echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps({k: d[k] for k in ("p50_us","p99_us","p999_us","errors","non2xx")}))')
        else
            rps=$(echo "$out" | sed -n 's/^Requests\/sec:[[:space:]]*\([0-9.]*\).*/\1/p')
            reqs=$(echo "$out" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p')
        fi
        python3 - "$tmp/cmdstats-$round-$bi.txt" "$b" "$round" "$rps" "$reqs" "$cpu0" "$cpu1" \
            "$((counted1 - counted0))" "$((rows1 - rows0))" "$(((rt1 - rt0) * 1000000 / tck))" "$lat" \
            <<'PY' | tee -a "$OUT"
import json, re, sys
f, b, rnd, rps, reqs, c0, c1, counted, rows, router_us, lat = sys.argv[1:]
reqs = int(reqs)
cmds, stats = {}, {}
for line in open(f):
    m = re.match(r"cmdstat_([^:]+):calls=(\d+),usec=(\d+)", line)
    if m:
        cmds[m[1]] = {"calls_per_req": round(int(m[2]) / reqs, 4), "usec_per_req": round(int(m[3]) / reqs, 3)}
    m = re.match(r"(total_reads_processed|total_net_input_bytes|total_net_output_bytes):(\d+)", line)
    if m:
        stats[m[1]] = int(m[2])
print(json.dumps({"binary": b, "round": int(rnd), "rps": float(rps), "requests": reqs,
                  "redis_cpu_us_per_req": round((float(c1) - float(c0)) * 1e6 / reqs, 2),
                  "commandstats_usec_per_req": round(sum(c["usec_per_req"] for c in cmds.values()), 3),
                  "reads_per_req": round(stats.get("total_reads_processed", 0) / reqs, 4),
                  "in_bytes_per_req": round(stats.get("total_net_input_bytes", 0) / reqs),
                  "out_bytes_per_req": round(stats.get("total_net_output_bytes", 0) / reqs),
                  "router_cpu_us_per_req": round(int(router_us) / reqs, 1), **json.loads(lat),
                  "router_counted": int(counted), "rows": int(rows), "commands": cmds},
                 separators=(",", ":")))
PY
    done
done
echo
python3 - "$OUT" <<'PY'
import json, statistics, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
med = statistics.median
print("| binary | req/s (median) | router CPU us/request | p50 / p99 us (loadgen) | Redis CPU us/request (INFO cpu) | commandstats usec/request | top commands usec/request | read events/request | bytes in/out per request | requests counted / rows |")
print("|---|---:|---:|---:|---:|---:|---|---:|---:|---|")
for b in dict.fromkeys(r["binary"] for r in rs):
    v = [r for r in rs if r["binary"] == b]
    tops = {}
    for r in v:
        for k, c in r["commands"].items():
            tops.setdefault(k, []).append(c["usec_per_req"])
    top = sorted(((med(x), k) for k, x in tops.items()), reverse=True)[:4]
    lat = (f"{med([r['p50_us'] for r in v]):.0f} / {med([r['p99_us'] for r in v]):.0f}"
           if all("p99_us" in r for r in v) else "-")
    print(f"| {b} | {med([r['rps'] for r in v]):.0f} | {med([r['router_cpu_us_per_req'] for r in v]):.1f} | {lat} "
          f"| {med([r['redis_cpu_us_per_req'] for r in v]):.2f} "
          f"| {med([r['commandstats_usec_per_req'] for r in v]):.2f} | "
          + ", ".join(f"{k} {u:.2f}" for u, k in top)
          + f" | {med([r['reads_per_req'] for r in v]):.4f} "
          f"| {med([r['in_bytes_per_req'] for r in v]):.0f} / {med([r['out_bytes_per_req'] for r in v]):.0f} "
          f"| {sum(r['router_counted'] for r in v)} / {sum(r['rows'] for r in v)} |")
PY
