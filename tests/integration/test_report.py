"""switchyard report: the real binary against a migrated throwaway PostgreSQL."""

import csv
import io
import json
import os
import subprocess
import unittest

from harness import Services, source_dir, switchyard_bin


class ReportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.svc = Services().start()
        try:
            r = subprocess.run([switchyard_bin(), "migrate"], capture_output=True, text=True,
                               timeout=120, env=cls.svc.env(SWITCHYARD_MIGRATIONS_DIR=os.path.join(
                                   source_dir(), "migrations")))
            if r.returncode != 0:
                raise RuntimeError("migrate failed: " + r.stderr)
            cls.seed()
        except Exception:
            cls.svc.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.svc.stop()

    @classmethod
    def seed(cls):
        q = cls.svc.psql
        # experiment "tiny", canary at 5%: control code x4 (one 502), routed code x2
        # (at 10:00 and 10:05), all on 2026-11-21
        q("INSERT INTO requests (request_id, ts, experiment, phase, routed_bp, cohort, task_type, "
          "status, cost_usd, baseline_cost_usd, latency_us) VALUES "
          "('c1', '2026-11-21 10:00:01Z', 'tiny', 'canary', 500, 'control', 'code', 200, 0.01, 0.01, 900000), "
          "('c2', '2026-11-21 10:00:02Z', 'tiny', 'canary', 500, 'control', 'code', 200, 0.01, 0.01, 900000), "
          "('c3', '2026-11-21 10:00:03Z', 'tiny', 'canary', 500, 'control', 'code', 200, 0.01, 0.01, 1100000), "
          "('c4', '2026-11-21 10:00:04Z', 'tiny', 'canary', 500, 'control', 'code', 502, 0, 0, 2000000), "
          "('r1', '2026-11-21 10:00:05Z', 'tiny', 'canary', 500, 'routed', 'code', 200, 0.0016, 0.01, 300000), "
          "('r2', '2026-11-21 10:05:00Z', 'tiny', 'canary', 500, 'routed', 'code', 200, 0.0016, 0.01, 300000), "
          "('o1', '2026-11-21 10:00:00Z', 'other', 'full', 10000, 'routed', 'simple', 200, 0.001, 0.002, 1000)")
        q("INSERT INTO feedback (feedback_id, request_id, kind, value, rating, created_at, "
          "content_hash) VALUES "
          "('f1', 'c1', 'thumbs', 'down', NULL, '2026-11-21 10:01Z', 'h'), "
          "('f2', 'c2', 'thumbs', 'up', NULL, '2026-11-21 10:01Z', 'h'), "
          "('f3', 'r1', 'rating', NULL, 4, '2026-11-21 10:01Z', 'h'), "
          "('f4', 'r2', 'rating', NULL, 5, '2026-11-21 10:06Z', 'h')")
        q("SELECT sy_fold_feedback()")
        q("INSERT INTO experiments (name, definition, status) VALUES ('tiny', '{}', 'running')")
        q("INSERT INTO decisions (experiment, ts, action, from_phase, to_phase, reason, evidence) "
          "VALUES ('tiny', '2026-11-21 09:00Z', 'advance', 'shadow', 'canary', "
          "'advance: all met (all)', '{\"accuracy\": {\"code\": 0.9}}')")
        q("INSERT INTO experiment_phases (experiment, phase, routed_pct, entered_at, decision_id) "
          "SELECT 'tiny', 'canary', 5, '2026-11-21 09:00Z', id FROM decisions "
          "WHERE experiment = 'tiny'")

    def report(self, *args, env=None):
        e = self.svc.env()
        e.update(env or {})
        return subprocess.run([switchyard_bin(), "report", *args], capture_output=True,
                              text=True, env=e, timeout=60)

    def test_table_exact(self):
        r = self.report("--experiment", "tiny", "--view", "savings")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        self.assertEqual(r.stdout, """\
== dash_savings ==
experiment  phase   routed_pct  cohort   task_type  requests  share_pct  baseline_usd  cost_usd  savings_usd  savings_pct  baseline_per_request  cost_per_request    days  requests_per_day  baseline_usd_per_day  cost_usd_per_day  savings_usd_per_day  prompt_tokens  cached_tokens  cached_pct  fallback_tier  fallback_default
----------  ------  ----------  -------  ---------  --------  ---------  ------------  --------  -----------  -----------  --------------------  ----------------  ------  ----------------  --------------------  ----------------  -------------------  -------------  -------------  ----------  -------------  ----------------
tiny        canary        5.00  control  code              4      100.0        0.0300    0.0300       0.0000          0.0              0.007500          0.007500  0.0007            5760.0                 43.20             43.20                 0.00              0              0           -              0                 0
tiny        canary        5.00  control  all               4      100.0        0.0300    0.0300       0.0000          0.0              0.007500          0.007500  0.0007            5760.0                 43.20             43.20                 0.00              0              0           -              0                 0
tiny        canary        5.00  routed   code              2      100.0        0.0200    0.0032       0.0168         84.0              0.010000          0.001600  0.0042             480.0                  4.80              0.77                 4.03              0              0           -              0                 0
tiny        canary        5.00  routed   all               2      100.0        0.0200    0.0032       0.0168         84.0              0.010000          0.001600  0.0042             480.0                  4.80              0.77                 4.03              0              0           -              0                 0
(4 rows)
""")

    def test_quality_and_latency_tables(self):
        r = self.report("--experiment", "tiny", "--view", "dash_quality")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, """\
== dash_quality ==
experiment  phase   routed_pct  cohort   task_type  requests  errors  error_rate  thumbs  thumbs_down  thumbs_down_rate  thumbs_down_lo  thumbs_down_hi  ratings  rating  rating_lo  rating_hi
----------  ------  ----------  -------  ---------  --------  ------  ----------  ------  -----------  ----------------  --------------  --------------  -------  ------  ---------  ---------
tiny        canary        5.00  control  code              4       1      0.2500       2            1            0.5000          0.0945          0.9055        0       -          -          -
tiny        canary        5.00  routed   code              2       0      0.0000       0            0                 -               -               -        2    4.50       3.52       5.48
(2 rows)
""")
        r = self.report("--experiment", "tiny", "--view", "latency")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, """\
== dash_latency ==
experiment  phase   routed_pct  cohort   task_type  requests  latency_mean_ms  latency_p50_ms  latency_p95_ms  latency_p99_ms
----------  ------  ----------  -------  ---------  --------  ---------------  --------------  --------------  --------------
tiny        canary        5.00  control  code              4           1225.0          1200.0          2200.0          2200.0
tiny        canary        5.00  routed   code              2            300.0           350.0           350.0           350.0
(2 rows)
""")

    def test_summary_json(self):
        r = self.report("--format", "json")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(list(doc), ["dash_savings", "dash_quality", "dash_latency",
                                     "dash_phase_history", "dash_shadow_routing",
                                     "dash_classifier_accuracy"])
        total = [row for row in doc["dash_savings"]
                 if row["experiment"] == "tiny" and row["cohort"] == "routed"
                 and row["task_type"] == "all"]
        self.assertEqual(len(total), 1)
        self.assertEqual(total[0]["requests"], 2)
        self.assertEqual(total[0]["savings_pct"], 84.0)
        self.assertIsNone(doc["dash_quality"][0]["rating"])  # control code: no ratings
        self.assertEqual(doc["dash_phase_history"][0]["evidence"], {"accuracy": {"code": 0.9}})
        self.assertEqual(doc["dash_phase_history"][0]["entered_at"], "2026-11-21 09:00:00+00")
        self.assertEqual(doc["dash_shadow_routing"], [])
        # --experiment filters every view
        doc = json.loads(self.report("--format", "json", "--experiment", "other").stdout)
        self.assertEqual({r["experiment"] for r in doc["dash_savings"]}, {"other"})
        self.assertEqual(doc["dash_phase_history"], [])

    def test_csv(self):
        r = self.report("--view", "quality", "--format", "csv", "--experiment", "tiny")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = list(csv.reader(io.StringIO(r.stdout, newline="")))
        self.assertEqual(rows[0][:6], ["experiment", "phase", "routed_pct", "cohort", "task_type",
                                       "requests"])
        self.assertEqual(len(rows), 3)
        self.assertEqual(rows[1][:6], ["tiny", "canary", "5.00", "control", "code", "4"])
        self.assertEqual(rows[1][rows[0].index("rating")], "")  # NULL
        # evidence (JSON with quotes and commas) survives the quoting
        r = self.report("--view", "phase_history", "--format", "csv")
        rows = list(csv.reader(io.StringIO(r.stdout, newline="")))
        self.assertEqual(json.loads(rows[1][rows[0].index("evidence")]),
                         {"accuracy": {"code": 0.9}})

    def test_since(self):
        # an RFC 3339 time: only the routed request at 10:05 is left
        r = self.report("--experiment", "tiny", "--view", "arms", "--format", "json",
                        "--since", "2026-11-21T10:01:00Z")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = json.loads(r.stdout)["dash_arms"]
        self.assertEqual([(x["cohort"], x["requests"]) for x in rows], [("routed", 1)])
        r = self.report("--experiment", "tiny", "--view", "arms", "--format", "json",
                        "--since", "2026-11-21T12:01:00+02:00")
        self.assertEqual([(x["cohort"], x["requests"]) for x in
                          json.loads(r.stdout)["dash_arms"]], [("routed", 1)])
        # an age: the seeded data lies in the past; 1h of it is nothing, 36500 days all
        r = self.report("--view", "arms", "--format", "json", "--since", "1h",
                        "--experiment", "tiny")
        self.assertEqual(json.loads(r.stdout)["dash_arms"], [])
        r = self.report("--view", "arms", "--format", "json", "--since", "36500d",
                        "--experiment", "tiny")
        self.assertEqual(len(json.loads(r.stdout)["dash_arms"]), 2)

    def test_cells_cut_in_tables_only(self):
        reason = "x" * 80
        self.svc.psql("INSERT INTO experiments (name, definition) VALUES ('long', '{}')")
        self.svc.psql("INSERT INTO decisions (experiment, ts, action, reason) VALUES "
                      f"('long', '2026-11-21 00:00Z', 'hold', '{reason}')")
        r = self.report("--view", "decisions", "--experiment", "long")
        self.assertIn(" " + "x" * 57 + "...  {}", r.stdout)
        r = self.report("--view", "decisions", "--experiment", "long", "--format", "json")
        self.assertEqual(json.loads(r.stdout)["dash_decisions"][0]["reason"], reason)

    def test_usage_errors(self):
        cases = [
            (["--frobnicate"], "report: unknown option '--frobnicate' (see 'switchyard report "
                               "--help')"),
            (["--view"], "report: option '--view' needs a value"),
            (["--format", "xml"], "report: --format: expected table, csv or json, got 'xml'"),
            (["--view", "nope"], "report: --view: unknown view 'nope' (one of: savings quality "
                                 "latency phase_history shadow_routing classifier_accuracy arms "
                                 "decisions)"),
            (["--since", "yesterday"], "report: --since: expected an age like 30m, 24h, 7d or an "
                                       "RFC 3339 time like 2026-11-27T00:00:00Z, got 'yesterday'"),
            (["--since", "2026-11-27T00:00:00"], "report: --since: expected an age like 30m, 24h, "
                                                 "7d or an RFC 3339 time like "
                                                 "2026-11-27T00:00:00Z, got '2026-11-27T00:00:00'"),
            (["--format", "csv"], "report: --format csv prints one view: add --view NAME"),
            (["extra"], "report: unexpected argument 'extra' (see 'switchyard report --help')"),
            (["--experiment", ""], "report: --experiment: empty name"),
            (["--database-url", "notaurl"],
             'report: --database-url: not a postgresql:// URL: "notaurl"'),
        ]
        for args, msg in cases:
            r = self.report(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertEqual(r.stderr.strip(), msg, args)
            self.assertEqual(r.stdout, "", args)
        env = self.svc.env()
        env.pop("SWITCHYARD_DATABASE_URL")
        r = subprocess.run([switchyard_bin(), "report"], capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr.strip(), "report: no database: pass --database-url or set "
                                           "SWITCHYARD_DATABASE_URL")
        r = self.report("--help")
        self.assertEqual(r.returncode, 0)
        for flag in ("--database-url", "--experiment", "--since", "--view", "--format"):
            self.assertIn(flag, r.stdout)
        # a date PostgreSQL refuses is a database error, not a crash
        r = self.report("--since", "2026-02-30T00:00:00Z")
        self.assertEqual(r.returncode, 1)
        self.assertIn("report: --since '2026-02-30T00:00:00Z': date/time field value out of range",
                      r.stderr)

    def test_unmigrated_database(self):
        self.svc.psql("DROP DATABASE IF EXISTS empty_db")
        self.svc.psql("CREATE DATABASE empty_db")
        url = self.svc.database_url.rsplit("/", 1)[0] + "/empty_db"
        r = self.report("--database-url", url)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.strip(), "report: view dash_savings does not exist: run "
                                           "'switchyard migrate' (it creates the dashboards views)")
        r = self.report("--database-url", "postgresql://sy:hunter2@127.0.0.1:1/db")
        self.assertEqual(r.returncode, 1)
        self.assertIn("report: cannot connect to PostgreSQL at postgresql://sy:***@127.0.0.1:1/db",
                      r.stderr)


if __name__ == "__main__":
    unittest.main()
