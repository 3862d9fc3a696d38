#!/usr/bin/env bash
# Events per second one ingest process stores, and the CPU PostgreSQL spends on them: the
# capacity model's "events/s per PostgreSQL core" (docs/architecture.md, "Capacity").
# Throwaway Redis + PostgreSQL; EVENTS router-shaped events pushed first (100 a stream
# entry, as bench/ingest_callgrind.sh writes them), then `ingest --batch BATCH` drains
# them while the CPU time of every process of the PostgreSQL cluster and of ingest is read
# from /proc; then the disk a request row takes.
#
#   bench/ingest_rate.sh [SWITCHYARD_BIN]     (EVENTS=200000 BATCH=100 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/switchyard}
EVENTS=${EVENTS:-200000}
BATCH=${BATCH:-100}
dir=$(mktemp -d /tmp/sy-ingrate.XXXXXX); chmod 755 "$dir"
scripts/services start "$dir/svc" >/dev/null
trap 'scripts/services stop "$dir/svc" --rm >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
# shellcheck disable=SC1091
. "$dir/svc/env"
"$BIN" migrate >/dev/null 2>&1
# the generator of bench/ingest_callgrind.sh, run alone
sed -n '/^    python3 - "\$SY_REDIS_PORT"/,/^PY$/p' bench/ingest_callgrind.sh | sed '1d;$d' >"$dir/gen.py"
python3 "$dir/gen.py" "$SY_REDIS_PORT" "$EVENTS" 100
python3 - "$BIN" "$BATCH" "$EVENTS" "$dir/svc/pg/data/postmaster.pid" <<'PY'
import os, subprocess, sys, time
bin_, batch, events, pidfile = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
tick = os.sysconf("SC_CLK_TCK")
post = int(open(pidfile).readline())
def cpu(pid):
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / tick, int(f[1])
    except (FileNotFoundError, ProcessLookupError):
        return 0.0, -1
def pg_cpu():
    total = cpu(post)[0]
    for p in os.listdir("/proc"):
        if p.isdigit():
            c, ppid = cpu(p)
            if ppid == post:
                total += c
    return total
def sql(q):
    r = subprocess.run(["psql", os.environ["SWITCHYARD_DATABASE_URL"], "-Atc", q],
                       capture_output=True, text=True)
    return r.stdout.strip()
def rows():
    return int(sql("select count(*) from requests") or 0)
pg0, t0 = pg_cpu(), time.monotonic()
ing = subprocess.Popen([bin_, "ingest", "--batch", batch], stderr=subprocess.DEVNULL)
pg1 = ing1 = 0.0
while True:
    time.sleep(0.2)
    ing1, pg1 = cpu(ing.pid)[0], pg_cpu()  # before the backend may exit
    if rows() >= events:
        break
wall = time.monotonic() - t0
ing.terminate(); ing.wait()
pg = pg1 - pg0
print(f"events={events} batch={batch} wall={wall:.2f}s events/s={events / wall:.0f} "
      f"postgres_cpu={pg:.2f}s ({events / pg:.0f} events per PostgreSQL CPU-second) "
      f"ingest_cpu={ing1:.2f}s ({events / max(ing1, 0.01):.0f} events per ingest CPU-second)")
# disk per request row: the partitions with their indexes and TOAST (rollups apart)
size = int(sql("select sum(pg_total_relation_size(inhrelid)) from pg_inherits "
               "where inhparent = 'requests'::regclass") or 0)
print(f"requests on disk: {size / events:.0f} bytes per row (table, indexes, TOAST)")
PY
