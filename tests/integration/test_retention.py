"""Request retention (migrations/0008_retention.sql, ingest --retention-days) against a real
PostgreSQL: daily partitions older than retention_days are dropped, the rows of
requests_default older than the cutoff are deleted, newer ones and every rollup are kept.
"""

import datetime
import json
import subprocess
import unittest

from harness import Services, switchyard_bin


def migrate(svc):
    r = subprocess.run([switchyard_bin(), "migrate"], env=svc.env(), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr


class RetentionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.svc = Services().start()
        try:
            migrate(cls.svc)
        except Exception:
            cls.svc.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.svc.stop()

    def q(self, sql):
        return self.svc.psql(sql)

    def partitions(self):
        return [r[0] for r in self.q(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'requests'::regclass ORDER BY 1")]

    def insert(self, rid, day, hour=12):
        self.q(f"INSERT INTO requests (request_id, ts, experiment, phase, routed_bp, cohort, "
               f"task_type, status, latency_us, cost_usd) VALUES ('{rid}', "
               f"'{day.isoformat()} {hour:02d}:30:00+00', 'ret', 'ramp', 5000, 'routed', "
               f"'code', 200, 1000, 0.001)")

    def ingest(self, *args):
        return subprocess.run([switchyard_bin(), "ingest", "--once", *args], env=self.svc.env(),
                              capture_output=True, text=True, timeout=60)

    def test_old_partitions_dropped_rollups_kept(self):
        today = datetime.datetime.now(datetime.timezone.utc).date()
        old = [today - datetime.timedelta(days=d) for d in (40, 31, 30, 29)]
        self.q(f"SELECT sy_create_request_partitions(11, '{old[0].isoformat()}')")
        for d in old:
            self.insert(f"r-{d:%Y%m%d}", d)
        self.insert("r-today", today)
        # no partition: these rows land in requests_default
        self.insert("r-default-old", datetime.date(2001, 2, 3))
        self.insert("r-default-new", datetime.date(2200, 1, 1))
        self.assertEqual(self.q("SELECT request_id FROM requests_default ORDER BY 1"),
                         [["r-default-new"], ["r-default-old"]])
        rollups_before = self.q("SELECT hour, n FROM rollups_hour WHERE experiment = 'ret' "
                                "ORDER BY hour")
        self.assertEqual(len(rollups_before), 7)
        minute_before = self.q("SELECT count(*), sum(n) FROM rollups_minute "
                               "WHERE experiment = 'ret'")
        self.assertEqual(minute_before, [["7", "7"]])

        r = self.ingest("--retention-days", "30")
        self.assertEqual(r.returncode, 0, r.stderr)
        recs = [json.loads(l) for l in r.stderr.splitlines() if l.startswith("{")]
        applied = [x for x in recs if x.get("msg") == "request retention applied"]
        self.assertEqual(len(applied), 1, r.stderr)
        self.assertEqual((str(applied[0]["dropped"]), str(applied[0]["retention_days"])),
                         ("10", "30"))

        parts = self.partitions()
        # days before today - 30 are gone (40 .. 31 days ago: 10 partitions); 30 days ago
        # and later stay
        for d in range(31, 41):
            self.assertNotIn(f"requests_{today - datetime.timedelta(days=d):%Y%m%d}", parts)
        for d in (30, 29, 0):
            self.assertIn(f"requests_{today - datetime.timedelta(days=d):%Y%m%d}", parts)
        self.assertIn("requests_default", parts)
        self.assertEqual(self.q("SELECT request_id FROM requests WHERE experiment = 'ret' "
                                "ORDER BY 1"),
                         [[f"r-{old[2]:%Y%m%d}"], [f"r-{old[3]:%Y%m%d}"], ["r-default-new"],
                          ["r-today"]])
        self.assertEqual(self.q("SELECT hour, n FROM rollups_hour WHERE experiment = 'ret' "
                                "ORDER BY hour"), rollups_before)
        self.assertEqual(self.q("SELECT count(*), sum(n) FROM rollups_minute "
                                "WHERE experiment = 'ret'"), minute_before)
        # a second run has nothing left to drop
        self.assertEqual(self.q("SELECT sy_drop_request_partitions(30)"), [["0"]])

    def test_bad_retention_refused(self):
        r = subprocess.run(["psql", "-AtX", "-d", self.svc.database_url, "-c",
                            "SELECT sy_drop_request_partitions(0)"],
                           capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("retention_days must be between 1 and 36500 (got 0)", r.stderr)
        r = self.ingest("--retention-days", "-1")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr, 'ingest: --retention-days: expected an integer from 0 to '
                                   '36500 (got "-1")\n')

    def test_zero_keeps_everything(self):
        today = datetime.datetime.now(datetime.timezone.utc).date()
        far = today - datetime.timedelta(days=400)
        self.q(f"SELECT sy_create_request_partitions(0, '{far.isoformat()}')")
        r = self.ingest("--retention-days", "0")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("request retention applied", r.stderr)
        self.assertIn(f"requests_{far:%Y%m%d}", self.partitions())


if __name__ == "__main__":
    unittest.main()
