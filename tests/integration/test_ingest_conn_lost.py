"""ingest's session killed inside the one-day fast path (ingest/store.c, write_fast).

Router-shaped events of today's UTC day (10 to a stream entry in field b, as the router
spools them) are pushed to sy:events; `switchyard ingest --once` drains them while a
loop inside PostgreSQL watches pg_stat_activity every millisecond and, whenever ingest's
backend (application_name switchyard-ingest) is running one of the fast path's
statements (COPY requests_YYYYMMDD, COPY ingest_groups, SELECT sy_ingest_groups), ends
it with pg_terminate_backend. The server's own log names the statement it was running
when it terminated the session (FATAL + STATEMENT): at least one kill must have landed
in a fast path statement, so the test cannot pass without exercising it. Afterwards
every event has exactly one row, both rollup tables count every event exactly once, and
ingest logged each lost session (a retry of the same batch on a new connection).
"""

import datetime
import os
import re
import subprocess
import sys
import time
import unittest

from harness import Proc, Services, source_dir, switchyard_bin, wait_for
from test_ingest import Resp

STREAM = "sy:events"
EVENTS = 60000
PER_ENTRY = 10
BATCH = 100  # entries per transaction: 1000 events
KILLS = 5
KILL_EVERY_MS = 300  # between kills, so that batches commit in between
KILLER_APP = "sy-test-killer"
FAST_SQL = ("COPY requests_", "COPY ingest_groups", "SELECT sy_ingest_groups(")

KILLER = """
DO $$
DECLARE
  deadline timestamptz := clock_timestamp() + interval '40 seconds';
  last timestamptz := '-infinity';
  -- the fast path's statements, hunted in turn (each for up to half a second)
  pats text[] := ARRAY['COPY requests\\_%%', 'SELECT sy\\_ingest\\_groups(%%',
                       'COPY ingest\\_groups %%'];
  target int := 0;
  since timestamptz := clock_timestamp();
  kills int := 0;
  r record;
BEGIN
  WHILE kills < %(kills)d AND clock_timestamp() < deadline LOOP
    PERFORM pg_stat_clear_snapshot();  -- else pg_stat_activity is read once a transaction
    IF clock_timestamp() >= last + interval '%(every)d milliseconds' THEN
      IF clock_timestamp() > since + interval '500 milliseconds' THEN
        target := target + 1;
        since := clock_timestamp();
      END IF;
      FOR r IN SELECT pid, query FROM pg_stat_activity
               WHERE application_name = 'switchyard-ingest' AND state = 'active'
                 AND query LIKE pats[target %% 3 + 1] LOOP
        IF pg_terminate_backend(r.pid) THEN
          kills := kills + 1;
          last := clock_timestamp();
          target := target + 1;
          since := last;
          RAISE NOTICE 'killed pid=%% query=%%', r.pid, left(r.query, 40);
        END IF;
      END LOOP;
    END IF;
    PERFORM pg_sleep(0.001);
  END LOOP;
END $$;
""" % {"kills": KILLS, "every": KILL_EVERY_MS}


def event(i, ts):
    """One event as router/event.c writes it."""
    return ('{"request_id":"3f2a%028x","ts_us":%d,"project":"local","user_hash":"00112233aabbccdd",'
            '"bucket":%d,"experiment":"fast","phase":"ramp","routed_bp":5000,"cohort":"%s",'
            '"task_type":"%s","task_confidence":%.4f,"mode":"balanced","served_model":"small",'
            '"provider":"sim","would_have_model":null,"stream":false,"status":%d,"error":null,'
            '"attempts":1,"tokens_in":%d,"tokens_out":%d,"cost_usd":%.10f,'
            '"baseline_cost_usd":%.10f,'
            '"latency_us":%d,"upstream_us":%d,"overhead_us":%d,"redis_fallback":false,'
            '"fallback":%s,"cached_tokens":%d}'
            % (i, ts + i, i % 10000, ("routed", "control")[i % 2], ("code", "chat", "math")[i % 3],
               (i % 9973) / 10000, (200, 502)[i % 50 == 0], 20 + i % 50, 30 + i % 70,
               (i % 1000) * 1.23456e-8, (i % 1000) * 1.234567e-7, 300 + (i * 7919) % 200000,
               250 + i % 89, 50 + i % 8, ('null', '"tier"', '"default"')[i % 3], i % 10))


class IngestConnectionLostTest(unittest.TestCase):
    def setUp(self):
        self.svc = Services().start()
        self.addCleanup(self.svc.stop)
        mdir = os.environ.get("SWITCHYARD_MIGRATIONS_DIR") or os.path.join(source_dir(),
                                                                           "migrations")
        r = subprocess.run([switchyard_bin(), "migrate", "--dir", mdir], env=self.svc.env(),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)

    def push(self):
        now = int(time.time() * 1e6)
        day = now - now % 86_400_000_000
        ts = max(day, now - EVENTS - 1_000_000)  # every ts_us on today's UTC day
        r = Resp(self.svc.redis_port)
        for base in range(0, EVENTS, 100 * PER_ENTRY):
            r.pipeline([("XADD", STREAM, "*", "b",
                         "\n".join(event(i + j, ts) for j in range(PER_ENTRY)))
                        for i in range(base, base + 100 * PER_ENTRY, PER_ENTRY)])
        r.close()
        self.assertEqual(int(self.svc.redis("XLEN", STREAM)), EVENTS // PER_ENTRY)
        return datetime.datetime.fromtimestamp(day / 1e6, datetime.timezone.utc)

    def server_kills(self, pids):
        """(pid, statement) for each of pids the server logged terminating: the statement it
        was running then, "" if the session was between statements."""
        with open(os.path.join(self.svc.dir, "pg", "postgres.log"), errors="replace") as f:
            lines = f.read().splitlines()
        out = []
        for k, line in enumerate(lines):
            m = re.search(r"\[(\d+)\] FATAL:  terminating connection due to administrator "
                          r"command", line)
            if not m or int(m.group(1)) not in pids:
                continue
            stmt = ""  # FATAL, [CONTEXT,] STATEMENT: lines of that pid
            for nxt in lines[k + 1:k + 4]:
                s = re.search(r"\[%s\] (STATEMENT|CONTEXT):  (.*)" % m.group(1), nxt)
                if not s:
                    break
                if s.group(1) == "STATEMENT":
                    stmt = s.group(2)
            out.append((int(m.group(1)), stmt))
        return out

    def test_killed_inside_the_fast_path(self):
        day = self.push()
        psql = os.path.join(self.svc.pg_bin, "psql")
        killer = subprocess.Popen([psql if os.access(psql, os.X_OK) else "psql", "-AtX", "-v",
                                   "ON_ERROR_STOP=1", "-d", self.svc.database_url, "-c", KILLER],
                                  env=self.svc.env(PGAPPNAME=KILLER_APP),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: killer.poll() is None and killer.kill())
        wait_for(lambda: self.svc.psql("SELECT count(*) FROM pg_stat_activity "
                                       f"WHERE application_name = '{KILLER_APP}'") == [["1"]],
                 10, what="the killer loop to run")
        ing = Proc("ingest", ["--once", "--batch", str(BATCH)], env=self.svc.env())
        ing.start(wait=False)
        self.assertEqual(ing.wait(60), 0, ing.logs())
        # the loop ends after KILLS kills; if the stream was drained first, end it here
        self.svc.psql("SELECT pg_cancel_backend(pid) FROM pg_stat_activity "
                      f"WHERE application_name = '{KILLER_APP}'")
        _, err = killer.communicate(timeout=10)
        pids = {int(p) for p in re.findall(r"NOTICE:  killed pid=(\d+)", err)}
        self.assertTrue(pids, err)
        kills = self.server_kills(pids)
        fast = [s for _, s in kills if s.startswith(FAST_SQL)]
        self.assertGreaterEqual(len(fast), 1, (kills, err))
        print("server-side kills (pid, statement):",
              [(p, s[:len("SELECT sy_ingest_groups")]) for p, s in kills], file=sys.stderr)
        logs = ing.logs()

        # nothing lost, nothing twice: rows and both rollup tables
        self.assertEqual(int(self.svc.redis("XLEN", STREAM)), 0)
        self.assertEqual(self.svc.psql("SELECT tableoid::regclass, count(*), "
                                       "count(DISTINCT request_id) FROM requests GROUP BY 1"),
                         [[day.strftime("requests_%Y%m%d"), str(EVENTS), str(EVENTS)]])
        self.assertEqual(self.svc.psql("SELECT (SELECT sum(n) FROM rollups_minute), "
                                       "(SELECT sum(n) FROM rollups_hour)"),
                         [[str(EVENTS), str(EVENTS)]])
        self.assertEqual(self.svc.psql("SELECT count(*) FROM ingest_dead_letters"), [["0"]])

        # every session lost in a statement was logged with the server's reason, the same
        # batch retried on a new connection (each of them with the fast path)
        recs = ing.log_records()
        lost = [x for x in recs if x.get("msg") == "batch not committed; will retry"]
        self.assertGreaterEqual(len(lost), len(fast), logs)
        for x in lost:
            # the server's FATAL, or libpq's word for the socket it closed
            self.assertRegex(x.get("reason", ""), r"terminating connection due to "
                             r"administrator command|server closed the connection unexpectedly"
                             r"|could not send data to server", logs)
        connects = [x for x in recs if x.get("msg") == "postgresql connected"]
        self.assertGreaterEqual(len(connects), 1 + len(lost), logs)
        self.assertTrue(all(x.get("fast_path") == "yes" for x in connects), logs)
        stopped = [x for x in recs if x.get("msg") == "stopped"][-1]
        self.assertEqual(int(stopped["inserted"]), EVENTS, logs)
        self.assertGreater(int(stopped["fast_batches"]), 0, logs)
        self.assertGreaterEqual(int(stopped["pg_errors"]), len(lost), logs)


if __name__ == "__main__":
    unittest.main()
