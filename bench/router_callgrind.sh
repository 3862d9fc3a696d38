#!/usr/bin/env bash
# Router cost per request in instructions (callgrind) and syscalls (strace): repeatable
# numbers on a shared machine, where wall-clock timings are noise.
#
#   bench/router_callgrind.sh [BINARY]          (default build/switchyard)
#   REQUESTS=2000 CONNS=4 WARMUP=200 bench/router_callgrind.sh build-hot/switchyard
#   STRACE=0 ...    skip the strace run        CALLGRIND=0 ...   skip the callgrind run
#   KEEP=1 ...      keep the temporary directory (callgrind.out, logs, configs)
#
# Starts, on free ports in a temporary directory: Redis + PostgreSQL (scripts/services;
# no ingest: events stay in sy:events), `switchyard sim` (model sim-instant, no latency,
# not measured), the experiment state of bench/router.sh (phase ramp at 50%, holdout 5%)
# and bench/router.sh's router config (rules + classifier, three models). Then:
#
#   1. callgrind  the router (--workers 1: one process, the worker itself) under
#                 valgrind --tool=callgrind with instrumentation off; $WARMUP requests, then
#                 instrumentation on (counters zeroed) for exactly $REQUESTS requests, dump. Prints the router's
#                 Ir per request and the top functions, inclusive and self.
#   2. strace     the router natively under `strace -c -f` for $STRACE_REQUESTS requests
#                 (after $WARMUP): syscalls per request, by name. Ir repeat within about
#                 0.5 %; syscall counts move by about +-1 per request between runs (how
#                 many answers one epoll_wait returns, libcurl's epoll_ctl churn).
#
# The client (Python, in this file) is closed-loop: $CONNS keep-alive connections, each
# sending its next request when the answer to the last has arrived, so the count of
# requests measured is exact. Requests are bench/router.lua's: system + user message,
# every other one with a fenced code block, X-User-Id user-<i> (distinct users, so every
# request runs the cohort and classifier path). Each answer must be 200.
# Needs valgrind, strace, python3, redis-cli (scripts/install-deps).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
bin=${1:-$root/build/switchyard}
case "$bin" in /*) ;; *) bin=$PWD/$bin ;; esac
REQUESTS=${REQUESTS:-2000}
STRACE_REQUESTS=${STRACE_REQUESTS:-$REQUESTS}
WARMUP=${WARMUP:-200}
CONNS=${CONNS:-4}
CALLGRIND=${CALLGRIND:-1}
STRACE=${STRACE:-1}
TOP=${TOP:-30}
KEY=sk-bench-router
EXP=bench

die() { echo "router_callgrind.sh: $*" >&2; exit 1; }
for t in python3 redis-cli curl; do command -v "$t" >/dev/null || die "$t not found"; done
[[ "$CALLGRIND" != 1 ]] || command -v valgrind >/dev/null || die "valgrind not found"
[[ "$STRACE" != 1 ]] || command -v strace >/dev/null || die "strace not found"
[[ -x "$bin" ]] || die "no binary at $bin"

tmp=$(mktemp -d /tmp/sy-bench-cg.XXXXXX)
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

wait_listening() { # LOG: the port of its "listening" line
    local port=
    for _ in $(seq 1 600); do
        port=$(sed -n 's/.*"msg":"listening".*"port":\([0-9]*\).*/\1/p' "$1" | head -n1)
        [[ -n "$port" ]] && { echo "$port"; return; }
        sleep 0.1
    done
    cat "$1" >&2
    die "no \"listening\" line in $1"
}

"$root/scripts/services" start "$tmp/svc" >/dev/null
svc_started=1
# shellcheck disable=SC1091
. "$tmp/svc/env"
unset SWITCHYARD_DATABASE_URL # the chat path does not use PostgreSQL
rcli() { redis-cli -h 127.0.0.1 -p "$SY_REDIS_PORT" "$@"; }

"$bin" sim --listen 127.0.0.1:0 --log-level info 2>"$tmp/sim.log" &
pids+=($!)
sim_port=$(wait_listening "$tmp/sim.log")

# shellcheck source=bench/router_setup.bash
. "$here/router_setup.bash"
bench_router_setup "$tmp/router.json" "$sim_port"

# The closed-loop client: client.py PORT FIRST COUNT CONNS
cat >"$tmp/client.py" <<'EOF'
import selectors, socket, sys
port, first, count, nconns, key = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
prompts = ["Summarise the plot of Hamlet in two sentences.",
           "Why does this fail?\\n```python\\nprint(1/0)\\n```"]
def request(i):
    body = ('{"model":"sim-instant","messages":['
            '{"role":"system","content":"You are a helpful assistant."},'
            '{"role":"user","content":"' + prompts[i % 2] + '"}]}').encode()
    return (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nAuthorization: Bearer {key}\r\n"
            f"X-User-Id: user-{i}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
sel = selectors.DefaultSelector()
nxt, done, bad = first, 0, 0
def send(s):
    global nxt
    s.sendall(request(nxt))
    nxt += 1
for _ in range(min(nconns, count)):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sel.register(s, selectors.EVENT_READ, [b""])
    send(s)
while done < count:
    for k, _ in sel.select(60):
        s, st = k.fileobj, k.data
        d = s.recv(65536)
        if not d:
            sys.exit("connection closed by the router")
        st[0] += d
        while True:
            buf = st[0]
            h = buf.find(b"\r\n\r\n")
            if h < 0:
                break
            head = buf[:h].decode("latin-1")
            cl = 0
            for line in head.split("\r\n")[1:]:
                n, _, v = line.partition(":")
                if n.strip().lower() == "content-length":
                    cl = int(v)
            if len(buf) < h + 4 + cl:
                break
            if not head.startswith("HTTP/1.1 200 "):
                bad += 1
                if bad <= 3:
                    print(head, buf[h + 4:h + 4 + cl], file=sys.stderr)
            st[0] = buf[h + 4 + cl:]
            done += 1
            if nxt < first + count:
                send(s)
if bad:
    sys.exit(f"{bad} of {count} answers were not 200")
EOF
client() { python3 "$tmp/client.py" "$1" "$2" "$3" "$CONNS" "$KEY"; }

echo "# switchyard router cost per request, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "# binary $bin ($(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "# $REQUESTS requests measured after $WARMUP, $CONNS keep-alive connections, closed loop"

if [[ "$CALLGRIND" == 1 ]]; then
    out=$tmp/callgrind.out
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" \
        "$bin" router --config "$tmp/router.json" --listen 127.0.0.1:0 --workers 1 \
        --redis-url "$SWITCHYARD_REDIS_URL" --log-level warn 2>"$tmp/router-cg.log" &
    cg_pid=$!
    pids+=("$cg_pid")
    # the listening line is info: wait for /readyz on the port from /proc instead
    port=
    for _ in $(seq 1 600); do
        port=$(python3 - "$cg_pid" <<'EOF' 2>/dev/null || true
import os, sys
pid = sys.argv[1]
inodes = set()
for fd in os.listdir(f"/proc/{pid}/fd"):
    t = os.readlink(f"/proc/{pid}/fd/{fd}")
    if t.startswith("socket:["):
        inodes.add(t[8:-1])
for line in open("/proc/net/tcp").readlines()[1:]:
    f = line.split()
    if f[3] == "0A" and f[9] in inodes:
        print(int(f[1].split(":")[1], 16)); break
EOF
)
        [[ -n "$port" ]] && [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz") == 200 ]] && break
        sleep 0.2
    done
    [[ -n "$port" ]] || { cat "$tmp/router-cg.log" >&2; die "router under callgrind did not come up"; }
    sleep 1 # experiment state read
    client "$port" 0 "$WARMUP"
    callgrind_control -i on "$cg_pid" >/dev/null
    callgrind_control -z "$cg_pid" >/dev/null
    client "$port" "$WARMUP" "$REQUESTS"
    callgrind_control -d "$cg_pid" >/dev/null
    callgrind_control -i off "$cg_pid" >/dev/null
    kill -TERM "$cg_pid"
    wait "$cg_pid" 2>/dev/null || true
    f=$out.1 # the dump of the measured requests (the plain file is the exit dump)
    callgrind_annotate --inclusive=yes "$f" >"$tmp/inclusive.txt" 2>/dev/null
    callgrind_annotate "$f" >"$tmp/self.txt" 2>/dev/null
    total=$(awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}' "$tmp/self.txt")
    echo
    echo "== callgrind: router Ir per request: $((total / REQUESTS)) ($total Ir / $REQUESTS requests)"
    # rows: "IR (PCT)  file:function [object]"
    per_req() {
        awk -v n="$REQUESTS" -v top="$TOP" -v root="$root" '/^ *[0-9,]+ \( *[0-9.]+%\) / && !/PROGRAM TOTALS/ {
            ir = $1; gsub(",", "", ir); sub(/^ *[0-9,]+ +\( *[0-9.]+%\) +/, "");
            sub(/ \[\/[^]]*\//, " ["); gsub(root "/", ""); name = $0; sub(/ \[[^]]*\]$/, "", name);
            if (seen[name]++) next;
            printf "%10d/req  %s\n", ir / n, $0; if (++k == top) exit }' "$1"
    }
    echo "-- inclusive, top $TOP"
    per_req "$tmp/inclusive.txt"
    echo "-- self, top $TOP"
    per_req "$tmp/self.txt"
    cp "$f" /tmp/sy-router-callgrind-last.out 2>/dev/null || true
fi

if [[ "$STRACE" == 1 ]]; then
    "$bin" router --config "$tmp/router.json" --listen 127.0.0.1:0 --workers 1 \
        --redis-url "$SWITCHYARD_REDIS_URL" --log-level info 2>"$tmp/router-st.log" &
    st_pid=$!
    pids+=("$st_pid")
    port=$(wait_listening "$tmp/router-st.log")
    sleep 0.5
    client "$port" 100000 "$WARMUP"
    strace -c -f -o "$tmp/strace.txt" -p "$st_pid" &
    strace_pid=$!
    sleep 0.5 # attached
    client "$port" 200000 "$STRACE_REQUESTS"
    sleep 0.2
    kill -INT "$strace_pid"
    wait "$strace_pid" 2>/dev/null || true
    kill -TERM "$st_pid"
    wait "$st_pid" 2>/dev/null || true
    # rows: % time, seconds, usecs/call, calls, [errors,] syscall
    calls=$(awk '/^ *[0-9.]+ +[0-9.]+ +[0-9]+ +[0-9]+/ && $NF != "total" {s += $4} END {print s + 0}' "$tmp/strace.txt")
    echo
    echo "== strace: router syscalls per request: $(awk -v c="$calls" -v n="$STRACE_REQUESTS" 'BEGIN {printf "%.2f", c / n}') ($calls / $STRACE_REQUESTS requests)"
    awk -v n="$STRACE_REQUESTS" '/^ *[0-9.]+ +[0-9.]+ +[0-9]+ +[0-9]+/ && $NF != "total" {
        c = $4; name = $NF; if (NF == 6) err = $5; else err = 0;
        printf "  %-16s %7.2f/req  (%d calls, %d errors)\n", name, c / n, c, err }' "$tmp/strace.txt"
fi
