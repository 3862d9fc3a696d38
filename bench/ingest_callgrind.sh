#!/usr/bin/env bash
# Instructions per event of `switchyard ingest` (callgrind, so the number does not depend
# on what else the machine runs). Starts throwaway Redis + PostgreSQL, pushes EVENTS
# router-shaped events (router/event.c's format) in entries of field b (100 events a
# line-separated entry), then runs `ingest --once` under callgrind.
#
#   bench/ingest_callgrind.sh SWITCHYARD_BIN [SWITCHYARD_BIN...]
#
# Prints total Ir / EVENTS and the inclusive Ir of ing_event_to_copy (ctl_event_to_copy
# before the rename; either is matched) / EVENTS for each
# binary (each gets fresh services). Needs valgrind, python3, scripts/services.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-20000}
PER_ENTRY=100
for bin in "$@"; do
    dir=$(mktemp -d /tmp/sy-ingbench.XXXXXX); chmod 755 "$dir"
    scripts/services start "$dir/svc" >/dev/null
    trap 'scripts/services stop "$dir/svc" --rm >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
    # shellcheck disable=SC1091
    . "$dir/svc/env"
    "$bin" migrate >/dev/null 2>&1
    python3 - "$SY_REDIS_PORT" "$EVENTS" "$PER_ENTRY" <<'PY'
import socket, sys, time
port, total, per = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def ev(i, ts):
    return ('{"request_id":"3f2a%028x","ts_us":%d,"project":"local","user_hash":"00112233aabbccdd",'
            '"bucket":%d,"experiment":"bench","phase":"ramp","routed_bp":5000,"cohort":"routed",'
            '"task_type":"code","task_confidence":%.4f,"mode":"balanced","served_model":"sim-instant",'
            '"provider":"sim","would_have_model":null,"stream":false,"status":200,"error":null,'
            '"attempts":1,"tokens_in":%d,"tokens_out":%d,"cost_usd":%.10f,"baseline_cost_usd":%.10f,'
            '"latency_us":%d,"upstream_us":%d,"overhead_us":%d,"redis_fallback":false}'
            % (i, ts + i, i % 10000, (i % 9973) / 10000, 20 + i % 50, 30 + i % 70,
               (i % 1000) * 1.23456e-8, (i % 1000) * 1.234567e-7, 300 + i % 97, 250 + i % 89, 50 + i % 8))
def enc(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)
s = socket.create_connection(("127.0.0.1", port))
ts = int(time.time() * 1e6)
cmds = [enc("XADD", "sy:events", "*", "b", "\n".join(ev(i + j, ts) for j in range(per)))
        for i in range(0, total, per)]
s.sendall(b"".join(cmds))
# Each XADD reply is a bulk string "$N\r\n<id>\r\n": two CRLFs, so wait for 2 per
# command (or an error "-...\r\n", which stops the bench).
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
    out="$dir/callgrind.out"
    valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" ingest --once >/dev/null 2>"$dir/vg.log"
    rows=$(psql "$SWITCHYARD_DATABASE_URL" -Atc "select count(*) from requests")
    total=$(grep -E '^summary:' "$out" | awk '{print $2}')
    conv=$(callgrind_annotate --inclusive=yes "$out" 2>/dev/null | grep -E '(ing|ctl)_event_to_copy' | head -n 1 | awk '{gsub(",","",$1); print $1}')
    echo "$bin: rows=$rows Ir/event=$((total / EVENTS)) event_to_copy Ir/event=$((${conv:-0} / EVENTS))"
    cp "$out" "/tmp/$(basename "$bin").callgrind.out" 2>/dev/null || true
    scripts/services stop "$dir/svc" --rm >/dev/null 2>&1 || true
    rm -rf "$dir"
    trap - EXIT
done
