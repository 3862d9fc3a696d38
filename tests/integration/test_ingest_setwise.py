"""ingest's set-wise write (migrations/0009, sy_ingest_requests) against the trigger path.

The same events go to two databases of one PostgreSQL: through `switchyard ingest` (rows
straight into the day partitions, rollups and feedback attribution in the batch's own
statements) and, in a database migrated only up to 0007, through plain INSERT INTO
requests, one statement per ingest batch (the parent's triggers as they were before
0009). Requests (and their partitions), feedback attribution, both rollup tables (before
and after sy_fold_feedback) and every dashboard view must be equal row for row. The set
has duplicates in a batch, a replay of every entry, batches spanning four days (two with
a daily partition, two going to requests_default), one request id on two days of one
batch, feedback that arrived before its request (early and late for its window) and an
event PostgreSQL refuses (bisected, dead-lettered).

Costs are multiples of 2**-20 and latencies integers, so every sum is exact whatever
order PostgreSQL adds the rows in: the bisection around the refused event splits its
batch into statements of other sizes than the reference's, and that must not show; and
since 0010 rollups_hour is summed from the minute groups, not from the rows. With costs
that are not exact in binary (test_float_sums) the double columns of rollups_hour may
differ in the last bits: they are compared with a relative tolerance of 1e-12, every
other column exactly. test_feedback_written_during_a_batch: feedback that waits for a
request already stored (written while that request's batch was in flight) is attributed
when the batch is replayed. test_fast_path: batches of one day go straight into the
partition with ingest's own minute groups (0010, sy_ingest_groups); a batch with a
duplicate, a refused event or a replay falls back to the stage; so does a batch for a
table named like the day's partition that is not one.
"""

import datetime
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from harness import Proc, Services, source_dir, switchyard_bin
from test_ingest import Resp

STREAM = "sy:events"
BATCH = 40  # ingest --batch: entries per transaction (one event per entry here)
REF_DB = "sy_trigger_path"
# The requests columns in the order of ingest's staging table (wire/event.h), ts as ts_us.
COLS = ["request_id", "ts_us", "project", "user_hash", "bucket", "experiment", "phase",
        "routed_bp", "cohort", "task_type", "task_confidence", "mode", "served_model",
        "provider", "would_have_model", "stream", "status", "error", "attempts", "fallback",
        "sticky", "tokens_in", "tokens_out", "cached_tokens", "cache_write_tokens", "cost_usd",
        "baseline_cost_usd", "latency_us", "upstream_us", "overhead_us", "redis_fallback"]


def day_us(d, seconds=0):
    t = datetime.datetime(d.year, d.month, d.day, tzinfo=datetime.timezone.utc)
    return int(t.timestamp()) * 1_000_000 + int(seconds * 1_000_000)


def events():
    today = datetime.datetime.now(datetime.timezone.utc).date()
    one = datetime.timedelta(days=1)
    # (ts_us of the row) per slot: today, just before / after midnight tonight (both days
    # have daily partitions), yesterday and the year 2100 (requests_default)
    when = [day_us(today, 3600), day_us(today, 86400 - 0.000001), day_us(today + one, 0),
            day_us(today - one, 43200), day_us(datetime.date(2100, 1, 1), 61)]
    out = []
    for i in range(400):
        ts = when[i % 5] + (i // 5) * 7_000_003  # several minutes and hours per day
        e = {
            "request_id": f"req-{i:05d}", "ts_us": ts, "project": "demo",
            "user_hash": "00112233aabbccdd", "bucket": i % 10000,
            "experiment": ("task-routing", "other", None)[i % 3],
            "phase": ("canary", "ramp")[i % 2], "routed_bp": (500, 5000, None)[i % 3],
            "cohort": ("routed", "control", None)[i % 3],
            "task_type": ("chat", "code", "math", None)[i % 4], "task_confidence": 0.75,
            "mode": "balanced", "served_model": "small", "provider": "sim",
            "would_have_model": None, "stream": bool(i % 2),
            "status": (200, 200, 502, 200, 429, 500, 499)[i % 7], "error": None, "attempts": 1,
            "fallback": (None, "tier", "default", None)[i % 4], "sticky": None,
            "tokens_in": 10 + i % 37, "tokens_out": 20, "cached_tokens": (None, 0, 5)[i % 3],
            "cache_write_tokens": None,
            "cost_usd": (i % 97) / 2**20 if i % 11 else None,
            "baseline_cost_usd": (i % 13) / 2**18,
            "latency_us": (None, 0, -5, 999, 1000, 1001, 250_000, 200_000_000)[i % 8] if i % 9
            else 3 * i, "upstream_us": 900, "overhead_us": 100, "redis_fallback": False,
        }
        out.append(e)
    # the same request on two days of one batch: its feedback gets the earlier ts
    twin = dict(out[3], ts_us=out[2]["ts_us"] + 5)
    out.insert(7, twin)
    # duplicates inside a batch (same id and ts): one row
    out.insert(20, dict(out[12]))
    out.insert(21, dict(out[12]))
    # PostgreSQL refuses this one (the CHECK the test adds): dead letter, the rest lands
    out.insert(50, dict(out[50], request_id="req-poison", project="poison"))
    return out


class IngestSetWiseTest(unittest.TestCase):
    def setUp(self):
        self.svc = Services().start()
        self.addCleanup(self.svc.stop)
        self.mdir = os.environ.get("SWITCHYARD_MIGRATIONS_DIR") or os.path.join(
            source_dir(), "migrations")
        self.svc.psql(f"CREATE DATABASE {REF_DB}")
        self.ref_url = self.svc.database_url.rsplit("/", 1)[0] + "/" + REF_DB
        # the reference database stops before 0009: the trigger path as it was
        old = tempfile.mkdtemp(prefix="sy-mig-")
        self.addCleanup(shutil.rmtree, old)
        for f in sorted(os.listdir(self.mdir)):
            if f.endswith(".sql") and f < "0008":
                shutil.copy(os.path.join(self.mdir, f), old)
        for url, mdir in ((self.svc.database_url, self.mdir), (self.ref_url, old)):
            r = subprocess.run([switchyard_bin(), "migrate", "--dir", mdir, "--dashboards-dir",
                                os.path.join(os.path.dirname(self.mdir), "dashboards")],
                               env=self.svc.env(SWITCHYARD_DATABASE_URL=url),
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.svc.psql("ALTER TABLE requests ADD CONSTRAINT no_poison "
                          "CHECK (project IS DISTINCT FROM 'poison')", url=url)

    def both(self, sql):
        return (self.svc.psql(sql), self.svc.psql(sql, url=self.ref_url))

    def feedback(self, evs):
        """Feedback that arrives before its requests: thumbs and ratings, on time and late
        (created_at after request ts + window), one for the request on two days."""
        rows = []
        for k, e in enumerate(evs[:120:3]):
            created = e["ts_us"] + (10 if k % 4 else 7_200_000_000)  # every 4th: late
            kind = ("thumbs", "rating")[k % 2]
            rows.append("('fb-%03d', '%s', '%s', %s, %s, to_timestamp(%d / 1e6), 'h%d', %d)" % (
                k, e["request_id"], kind, "'down'" if kind == "thumbs" and k % 3 else
                ("'up'" if kind == "thumbs" else "NULL"), k % 5 + 1 if kind == "rating" else
                "NULL", created, k, 3600))
        rows.append("('fb-twin', 'req-00003', 'thumbs', 'up', NULL, now(), 'ht', 3600)")
        sql = ("INSERT INTO feedback (feedback_id, request_id, kind, value, rating, created_at, "
               "content_hash, attribution_window_s) VALUES " + ", ".join(rows))
        self.both(sql)

    def trigger_path(self, batches):
        """The reference: each batch as one INSERT INTO requests (the parent's triggers),
        the statement ingest ran before 0009."""
        cols = ", ".join("ts" if c == "ts_us" else c for c in COLS)
        vals = ", ".join("timestamptz 'epoch' + ts_us * interval '1 microsecond'"
                         if c == "ts_us" else c for c in COLS)
        self.svc.psql("CREATE TABLE stage AS SELECT %s FROM requests WHERE false" % ", ".join(
            "0::bigint AS ts_us" if c == "ts_us" else c for c in COLS), url=self.ref_url)
        for b in batches:
            good = [e for e in b if e["project"] != "poison"]
            doc = json.dumps(good).replace("'", "''")
            self.svc.psql(f"TRUNCATE stage; INSERT INTO stage SELECT * FROM "
                          f"json_populate_recordset(null::stage, '{doc}'); "
                          f"INSERT INTO requests ({cols}) SELECT {vals} FROM stage "
                          f"ON CONFLICT DO NOTHING", url=self.ref_url)

    def ingest_path(self, evs):
        r = Resp(self.svc.redis_port)
        r.pipeline([("XADD", STREAM, "*", "e", json.dumps(e)) for e in evs])
        r.close()
        p = Proc("ingest", ["--once", "--batch", str(BATCH), "--max-tries", "1"],
                 env=self.svc.env())
        p.start(wait=False)
        self.assertEqual(p.wait(120), 0, p.logs())
        return p.logs()

    def counter(self, logs, name):
        """A counter of ingest's "stopped" line."""
        m = re.findall(r'"%s":"?(\d+)' % name, logs)
        self.assertTrue(m, logs)
        return int(m[-1])

    def assert_same(self, sql):
        mine, ref = self.both(sql)
        self.assertGreater(len(ref), 0, sql)
        self.assertEqual(len(mine), len(ref), sql)
        for a, b in zip(mine, ref):
            self.assertEqual(a, b, sql)

    def compare(self):
        self.assert_same("SELECT tableoid::regclass, * FROM requests ORDER BY request_id, ts")
        self.assert_same("SELECT feedback_id, request_ts, late FROM feedback ORDER BY 1")
        for t, g in (("rollups_minute", "minute"), ("rollups_hour", "hour")):
            self.assert_same(f"SELECT * FROM {t} ORDER BY experiment, phase, routed_bp, {g}, "
                             "cohort, task_type")

    def test_same_rows_as_the_trigger_path(self):
        evs = events()
        self.feedback(evs)
        batches = [evs[k:k + BATCH] for k in range(0, len(evs), BATCH)]
        self.ingest_path(evs)
        self.trigger_path(batches)
        # the days were written where the parent would have routed them, both paths alike
        parts = self.svc.psql("SELECT tableoid::regclass, count(*) FROM requests GROUP BY 1 "
                              "ORDER BY 1")
        self.assertEqual(len(parts), 3, parts)  # today, tomorrow, requests_default
        self.assertEqual(self.svc.psql("SELECT count(*) FROM requests")[0][0],
                         str(len(evs) - 3))  # two duplicates and the refused one
        self.assertEqual(self.svc.psql("SELECT event::json->>'request_id', sqlstate "
                                       "FROM ingest_dead_letters"),
                         [["req-poison", "23514"]])
        self.assertEqual(self.svc.psql("SELECT request_ts = (SELECT min(ts) FROM requests "
                                       "WHERE request_id = 'req-00003') FROM feedback "
                                       "WHERE feedback_id = 'fb-twin'"), [["t"]])
        self.assertEqual(self.svc.psql("SELECT count(*) FILTER (WHERE late), "
                                       "count(*) FILTER (WHERE NOT late), "
                                       "count(*) FILTER (WHERE late IS NULL) FROM feedback"),
                         [["11", "30", "0"]])  # every 4th of 40, and fb-twin
        self.compare()

        # a replay of every entry (a crash before the acknowledgement) adds nothing
        before = self.svc.psql("SELECT sum(n) FROM rollups_minute")
        self.ingest_path(evs)
        self.assertEqual(self.svc.psql("SELECT sum(n) FROM rollups_minute"), before)
        self.compare()

        # the controller's fold of the feedback, then what the dashboards show
        self.assertEqual(*self.both("SELECT sy_fold_feedback()"))
        self.compare()
        views = self.svc.psql("SELECT table_name FROM information_schema.views "
                              "WHERE table_schema = 'public' ORDER BY 1")
        self.assertGreater(len(views), 3)
        for (v,) in views:
            mine, ref = self.both(f"SELECT * FROM {v} ORDER BY 1")
            self.assertEqual(sorted(mine), sorted(ref), v)

    def test_float_sums(self):
        evs = events()
        for i, e in enumerate(evs):
            e["cost_usd"] = 0.1 * (i % 89) + 1e-7 * i if i % 11 else None
            e["baseline_cost_usd"] = 0.3 * (i % 13) + 1 / (i + 3)
        self.ingest_path(evs)
        self.trigger_path([evs[k:k + BATCH] for k in range(0, len(evs), BATCH)])
        self.compare_columns("rollups_minute", "minute")
        self.compare_columns("rollups_hour", "hour")

    def compare_columns(self, table, grain):
        floats = ("cost_sum", "cost_sq", "baseline_cost_sum")
        cols = [c for (c,) in self.svc.psql(
            "SELECT column_name FROM information_schema.columns "
            f"WHERE table_name = '{table}' ORDER BY ordinal_position")]
        sql = (f"SELECT {', '.join(cols)} FROM {table} ORDER BY experiment, phase, routed_bp, "
               f"{grain}, cohort, task_type")
        mine, ref = self.both(sql)
        self.assertGreater(len(ref), 10, table)
        self.assertEqual(len(mine), len(ref), table)
        inexact = 0
        for a, b in zip(mine, ref):
            for c, x, y in zip(cols, a, b):
                if c in floats:
                    self.assertAlmostEqual(float(x), float(y), delta=1e-12 * abs(float(y)),
                                           msg=f"{table}.{c}")
                    inexact += x != y
                else:
                    self.assertEqual(x, y, f"{table}.{c}")
        if table == "rollups_minute":  # the same groups, added in the same order
            self.assertEqual(inexact, 0, table)

    def test_feedback_written_during_a_batch(self):
        evs = events()[:BATCH]
        self.ingest_path(evs)
        once = ("request_id NOT IN (SELECT request_id FROM requests GROUP BY 1 "
                "HAVING count(*) > 1)")  # not the request on two days
        rid = self.svc.psql(f"SELECT request_id FROM requests_default WHERE {once} "
                            "ORDER BY request_id LIMIT 1")[0][0]
        # as sy_feedback_ingest writes it when the request's row is not committed yet
        self.svc.psql("INSERT INTO feedback (feedback_id, request_id, kind, value, created_at, "
                      f"content_hash, attribution_window_s) VALUES ('fb-w', '{rid}', 'thumbs', "
                      "'up', now(), 'hw', 3600)")
        part = self.svc.psql("SELECT request_id, ts FROM requests WHERE tableoid::regclass::text"
                             f" <> 'requests_default' AND {once} ORDER BY request_id LIMIT 1")[0]
        self.svc.psql("INSERT INTO feedback (feedback_id, request_id, kind, value, created_at, "
                      f"content_hash, attribution_window_s) VALUES ('fb-p', '{part[0]}', "
                      f"'thumbs', 'up', '{part[1]}'::timestamptz + interval '2 hours', 'hp', "
                      "3600)")
        self.ingest_path(evs)  # a replay: nothing is inserted
        self.assertEqual(self.svc.psql("SELECT count(*) FROM requests")[0][0],
                         str(len({(e["request_id"], e["ts_us"]) for e in evs})))
        got = self.svc.psql("SELECT feedback_id, request_ts = r.ts, late FROM feedback f "
                            "LEFT JOIN LATERAL (SELECT min(ts) AS ts FROM requests q "
                            "WHERE q.request_id = f.request_id) r ON true ORDER BY 1")
        # requests_default's rows go through the parent's trigger (only inserted rows);
        # a day partition's through sy_ingest_requests (the staged rows)
        self.assertEqual(got, [["fb-p", "t", "t"], ["fb-w", "", ""]])

    def test_fast_path(self):
        today = datetime.datetime.now(datetime.timezone.utc).date()
        day = 86_400_000_000
        # the same set on one day: same duplicates, same twin (now two ts of one day)
        evs = [dict(e, ts_us=day_us(today) + e["ts_us"] % day) for e in events()]
        self.feedback(evs)
        logs = self.ingest_path(evs)
        self.trigger_path([evs[k:k + BATCH] for k in range(0, len(evs), BATCH)])
        # 11 batches of 40: the one with the duplicates and the one with the refused event
        # fall back (and the halves of the bisection take the stage path)
        self.assertEqual(self.counter(logs, "fast_batches"), 9, logs)
        self.assertEqual(self.counter(logs, "fast_fallbacks"), 2, logs)
        self.assertEqual(self.svc.psql("SELECT count(*) FROM requests")[0][0],
                         str(len(evs) - 3))
        self.assertEqual(self.svc.psql("SELECT count(*) FROM feedback WHERE late IS NULL"),
                         [["0"]])
        self.compare()
        logs = self.ingest_path(evs)  # a replay: every batch falls back, nothing is added
        self.assertEqual(self.counter(logs, "fast_batches"), 0, logs)
        self.assertEqual(self.counter(logs, "inserted"), 0, logs)
        self.compare()

    def test_fast_path_not_a_partition(self):
        day = datetime.datetime.now(datetime.timezone.utc).date() + datetime.timedelta(days=30)
        name = "requests_" + day.strftime("%Y%m%d")  # no partition this far ahead
        self.svc.psql(f"CREATE TABLE {name} (LIKE requests)")
        evs = [dict(e, ts_us=day_us(day, 60) + i) for i, e in enumerate(events()[:BATCH])]
        logs = self.ingest_path(evs)
        self.assertEqual(self.counter(logs, "fast_fallbacks"), 1, logs)
        self.assertEqual(self.svc.psql(f"SELECT count(*) FROM {name}"), [["0"]])
        self.assertEqual(self.svc.psql("SELECT tableoid::regclass, count(*) FROM requests "
                                       "GROUP BY 1"), [["requests_default", str(BATCH)]])
        self.assertEqual(self.svc.psql("SELECT sum(n) FROM rollups_hour"), [[str(BATCH)]])


if __name__ == "__main__":
    unittest.main()
