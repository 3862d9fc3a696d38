#!/usr/bin/env bash
# Wall-clock ingest throughput: events/s of one `switchyard ingest --once --batch BATCH`
# draining EVENTS router-shaped events (router/event.c's format, PER_ENTRY events per
# stream entry in field b, as router/redis.c spools them) from sy:events to PostgreSQL,
# and the CPU seconds PostgreSQL spent on it (utime+stime of the postmaster's children,
# the ingest backend included once it has been reaped, read from /proc before and
# after) and ingest's own CPU seconds.
#
#   bench/ingest.sh BIN[:MIGRATIONS_DIR] [BIN[:MIGRATIONS_DIR]...]
#
# Each binary gets fresh services (scripts/services) and its own migrations (default:
# migrations/ of this checkout), so a build of an older commit can be measured beside
# this one in the same run. Also checks that every event has its row and that
# rollups_minute and rollups_hour each count every event once (n summed).
# Env: EVENTS (500000), PER_ENTRY (10), BATCH (1000), ROUNDS (1: runs per binary,
# alternating binaries round by round), SY_PG_SHARED_BUFFERS (scripts/services': 16MB),
# IDS (ordered: request ids rise with ts, as the router's since 2026-12; random: 24
# random hex digits, as the router's were before, so every row's key lands on a random
# page of the primary key's index).
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-500000}
PER_ENTRY=${PER_ENTRY:-10}
BATCH=${BATCH:-1000}
ROUNDS=${ROUNDS:-1}
IDS=${IDS:-ordered}
case $IDS in ordered|random) ;; *) echo "IDS must be ordered or random" >&2; exit 2 ;; esac

# CPU ticks of the postmaster and everything it has forked (live children plus those
# already reaped, which the kernel adds to the postmaster's cutime/cstime).
pg_ticks() {
    local pm=$1 t=0 pid f
    read -r -a f < <(sed 's/^.*) //' "/proc/$pm/stat")
    t=$((f[11] + f[12] + f[13] + f[14]))
    for pid in $(pgrep -P "$pm"); do
        read -r -a f < <(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
        t=$((t + f[11] + f[12]))
    done
    echo "$t"
}

push_events() {
    python3 - "$SY_REDIS_PORT" "$EVENTS" "$PER_ENTRY" "$IDS" <<'PY'
import random, socket, sys, time
port, total, per = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(1) if sys.argv[4] == "random" else None
def rid(i, ts):
    if rnd:
        return "req_%024x" % rnd.getrandbits(96)
    return "req_%012x%016x" % ((ts + i) // 1000, i)
def ev(i, ts):
    return ('{"request_id":"%s","ts_us":%d,"project":"local","user_hash":"00112233aabbccdd",'
            '"bucket":%d,"experiment":"bench","phase":"ramp","routed_bp":5000,"cohort":"%s",'
            '"task_type":"%s","task_confidence":%.4f,"mode":"balanced","served_model":"sim-instant",'
            '"provider":"sim","would_have_model":null,"stream":false,"status":%d,"error":null,'
            '"attempts":1,"tokens_in":%d,"tokens_out":%d,"cost_usd":%.10f,"baseline_cost_usd":%.10f,'
            '"latency_us":%d,"upstream_us":%d,"overhead_us":%d,"redis_fallback":false,'
            '"fallback":%s,"cached_tokens":%d}'
            % (rid(i, ts), ts + i, i % 10000, ("routed", "control")[i % 2],
               ("code", "chat", "math")[i % 3], (i % 9973) / 10000, (200, 502)[i % 50 == 0],
               20 + i % 50, 30 + i % 70, (i % 1000) * 1.23456e-8, (i % 1000) * 1.234567e-7,
               300 + (i * 7919) % 200000, 250 + i % 89, 50 + i % 8,
               ('null', '"tier"', '"default"')[i % 3], i % 10))
def enc(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)
s = socket.create_connection(("127.0.0.1", port))
ts = int(time.time() * 1e6) - total  # ts_us + i stays in the past
sent = 0
for base in range(0, total, 100 * per):
    cmds = [enc("XADD", "sy:events", "*", "b", "\n".join(ev(i + j, ts) for j in range(min(per, total - i))))
            for i in range(base, min(total, base + 100 * per), per)]
    s.sendall(b"".join(cmds))
    buf = b""
    while buf.count(b"\r\n") < 2 * len(cmds):
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("redis closed the connection before all XADD replies arrived")
        buf += chunk
        err = (b"\r\n" + buf).find(b"\r\n-")
        if err >= 0:
            sys.exit("XADD failed: %r" % buf[err:err + 200])
PY
}

tck=$(getconf CLK_TCK)
for ((round = 1; round <= ROUNDS; round++)); do
    for arg in "$@"; do
        bin=${arg%%:*}
        mdir=migrations
        [[ $arg == *:* ]] && mdir=${arg#*:}
        dir=$(mktemp -d /tmp/sy-ingbench.XXXXXX); chmod 755 "$dir"
        scripts/services start "$dir/svc" >/dev/null
        trap 'scripts/services stop "$dir/svc" --rm >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
        # shellcheck disable=SC1091
        . "$dir/svc/env"
        "$bin" migrate --dir "$mdir" >/dev/null 2>&1
        push_events
        pm=$(head -n 1 "$dir/svc/pg/data/postmaster.pid")
        psql "$SWITCHYARD_DATABASE_URL" -qAtc "checkpoint" >/dev/null
        sleep 1
        pg0=$(pg_ticks "$pm")
        t0=$(date +%s.%N)
        /usr/bin/env time -f "%U %S" -o "$dir/ingest.time" \
            "$bin" ingest --once --batch "$BATCH" >/dev/null 2>"$dir/ingest.log"
        t1=$(date +%s.%N)
        sleep 0.5 # the backend exits and is reaped after ingest disconnects
        pg1=$(pg_ticks "$pm")
        rows=$(psql "$SWITCHYARD_DATABASE_URL" -Atc "select count(*) from requests")
        nmin=$(psql "$SWITCHYARD_DATABASE_URL" -Atc "select coalesce(sum(n),0) from rollups_minute")
        nhour=$(psql "$SWITCHYARD_DATABASE_URL" -Atc "select coalesce(sum(n),0) from rollups_hour")
        read -r iu is <"$dir/ingest.time"
        python3 - "$bin" "$EVENTS" "$t0" "$t1" "$pg0" "$pg1" "$tck" "$iu" "$is" "$rows" "$nmin" "$nhour" <<'PY'
import sys
b, ev, t0, t1, p0, p1, tck, iu, is_, rows, nmin, nhour = sys.argv[1:]
ev, wall = int(ev), float(t1) - float(t0)
pg = (int(p1) - int(p0)) / int(tck)
print("%s: events=%d rows=%s rollup_n=%s/%s wall=%.2fs events/s=%.0f pg_cpu=%.2fs "
      "events/s/pg_core=%.0f ingest_cpu=%.2fs"
      % (b, ev, rows, nmin, nhour, wall, ev / wall, pg, ev / pg if pg else 0,
         float(iu) + float(is_)))
PY
        scripts/services stop "$dir/svc" --rm >/dev/null 2>&1 || true
        rm -rf "$dir"
        trap - EXIT
    done
done
