#!/usr/bin/env bash
# How long one evaluation takes when the experiment has ten million requests behind it.
# The controller reads only rollups_hour, so the cost follows the number of rollup rows
# (hours x cohorts x task types), not the number of requests.
#
#   bench/controller_eval.sh [REQUESTS] [DAYS]      (defaults 10000000 and 7)
#
# Starts throwaway Redis/PostgreSQL, applies the migrations, fills rollups_hour with
# DAYS of hourly rows (what the ingest trigger writes alongside the minutes) for the experiments/task-routing.json experiment in its 50%
# ramp step (REQUESTS requests in all, with feedback and latency histograms), runs the
# controller with a 1 s tick and reports the "evaluated" times it logs.
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS=${1:-10000000}
DAYS=${2:-7}
BIN=${SWITCHYARD_BIN:-build/switchyard}
[ -x "$BIN" ] || { echo "build first: make build" >&2; exit 1; }

dir=$(mktemp -d /tmp/sy-bench-eval.XXXXXX)
cleanup() { [ -n "${ctl:-}" ] && kill "$ctl" 2>/dev/null; scripts/services stop "$dir" --rm >/dev/null 2>&1 || true; }
trap cleanup EXIT
scripts/services start "$dir" >/dev/null
# shellcheck disable=SC1091
. "$dir/env"
"$BIN" migrate >/dev/null

export SWITCHYARD_ADMIN_TOKEN=bench-admin-token-0123456789
hours=$((DAYS * 24))
per_row=$((REQUESTS / (hours * 12)))
psql -qAtX -d "$SWITCHYARD_DATABASE_URL" -v ON_ERROR_STOP=1 <<SQL
INSERT INTO experiments (name, definition, status, step, salt, started_at, step_started_at)
VALUES ('task-routing', '$(tr -d '\n' < experiments/task-routing.json | sed "s/'/''/g")'::jsonb,
        'running', 3, '2026-11', now() - interval '$DAYS days', now());
-- no webhooks in a benchmark; the step just started, so the evaluation holds every tick
UPDATE experiments SET definition = jsonb_set(definition, '{notifications,webhooks}', '[]');
INSERT INTO rollups_hour (hour, experiment, phase, routed_bp, cohort, task_type, n, errors,
                            cost_sum, cost_sq, baseline_cost_sum, latency_sum_us, latency_hist,
                            thumbs, thumbs_down, ratings, rating_sum, rating_sq, rated)
SELECT date_trunc('hour', now()) - make_interval(hours => m), 'task-routing', 'ramp', 5000, c, t,
       n, n / 200, n * 0.004, n * 0.00002, n * 0.0125, n * 800000::bigint,
       array_fill(0, ARRAY[40])::bigint[] || '{}'::bigint[],
       n / 20, n / 200, n / 50, (n / 50) * 4.4, (n / 50) * 20.0, n / 20
FROM generate_series(1, $hours) m,
     -- the configured split of the 50% ramp with a 5% holdout: 5 / 47.5 / 47.5
     (VALUES ('holdout', $per_row::bigint * 3 / 20), ('control', $per_row::bigint * 57 / 40),
             ('routed', $per_row::bigint * 57 / 40)) AS c(c, n),
     unnest(ARRAY['simple', 'code', 'reasoning', 'complex']) t;
UPDATE rollups_hour SET latency_hist[20] = n * 0.7, latency_hist[24] = n * 0.25,
                          latency_hist[28] = n - (n * 0.7)::bigint - (n * 0.25)::bigint;
ANALYZE rollups_hour;
SQL
rows=$(psql -qAtX -d "$SWITCHYARD_DATABASE_URL" -c "SELECT count(*), sum(n) FROM rollups_hour")
echo "rollup rows, requests: $rows"

SWITCHYARD_CONFIG= "$BIN" controller --listen 127.0.0.1:0 --tick-ms 1000 --log-level debug \
    2> "$dir/controller.log" &
ctl=$!
sleep 8
cp "$dir/controller.log" /tmp/ctl_eval_last.log
kill "$ctl"; wait "$ctl" 2>/dev/null || true; ctl=
grep '"msg":"evaluated"' "$dir/controller.log" | python3 -c '
import json, statistics, sys
ms = [json.loads(l)["ms"] for l in sys.stdin]
n = [json.loads(l)["requests"] for l in open(sys.argv[1]) if "\"evaluated\"" in l]
if not ms:
    sys.exit("no evaluation was logged")
ms.sort()
print(f"evaluations: {len(ms)}, requests behind each: {n[0]}")
print(f"evaluation time ms: median {statistics.median(ms):.1f}, max {ms[-1]:.1f}")
' "$dir/controller.log"
