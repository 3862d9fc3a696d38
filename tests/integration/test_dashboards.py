"""The dashboard views (dashboards/*.sql) against a throwaway, migrated PostgreSQL.

Requests are inserted straight into `requests` (the rollup trigger fills rollups_minute as
the ingest would), feedback into `feedback` then folded with sy_fold_feedback() as the
controller does.
"""

import math
import os
import subprocess
import unittest

from harness import Services, source_dir, switchyard_bin

# experiments/README.md, "Cost arithmetic": task -> (share of 10, single-model cost per
# request on sim-premium, routed cost per request)
ARTICLE = {
    "simple": (5, 0.004, 0.00016),
    "code": (2, 0.010, 0.0016),
    "reasoning": (2, 0.015625, 0.006875),
    "complex": (1, 0.05375, 0.05375),
}


def article_rows_sql(experiment, count, day="2026-11-20"):
    """INSERT of `count` routed requests in the article's mix, spread evenly over one UTC day.

    Request i gets task simple for i mod 10 in 0..4, code 5..6, reasoning 7..8, complex 9.
    """
    case_task = ("CASE WHEN i % 10 < 5 THEN 'simple' WHEN i % 10 < 7 THEN 'code' "
                 "WHEN i % 10 < 9 THEN 'reasoning' ELSE 'complex' END")
    cost = " ".join(f"WHEN '{t}' THEN {c}" for t, (_, _, c) in ARTICLE.items())
    base = " ".join(f"WHEN '{t}' THEN {b}" for t, (_, b, _) in ARTICLE.items())
    return (
        "INSERT INTO requests (request_id, ts, experiment, phase, routed_bp, cohort, task_type, "
        "status, cost_usd, baseline_cost_usd, latency_us) "
        f"SELECT '{experiment}-' || i, '{day} 00:00Z'::timestamptz "
        f"+ i * (86400.0 / {count}) * interval '1 second', '{experiment}', 'full', 10000, "
        "'routed', k.t, 200, "
        f"CASE k.t {cost} END, CASE k.t {base} END, 300000 "
        f"FROM generate_series(0, {count - 1}) i CROSS JOIN LATERAL (SELECT {case_task} AS t) k")


def wilson(k, n, z=1.959963984540054):
    p = k / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (max(0.0, (centre - half) / (1 + z * z / n)), min(1.0, (centre + half) / (1 + z * z / n)))


class DashboardsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.svc = Services().start()
        r = subprocess.run([switchyard_bin(), "migrate"], capture_output=True, text=True,
                           timeout=120,
                           env=cls.svc.env(SWITCHYARD_MIGRATIONS_DIR=os.path.join(
                               source_dir(), "migrations")))
        if r.returncode != 0:
            cls.svc.stop()
            raise RuntimeError("migrate failed: " + r.stderr)
        assert "dashboards re-created" in r.stdout, r.stdout

    @classmethod
    def tearDownClass(cls):
        cls.svc.stop()

    def q(self, sql, since=None):
        """Rows of sql; since sets switchyard.since for the session (as report --since)."""
        old = os.environ.get("PGOPTIONS")
        os.environ["PGOPTIONS"] = "-c TimeZone=UTC" + (
            f" -c switchyard.since={since}" if since is not None else "")
        try:
            return self.svc.psql(sql)
        finally:
            if old is None:
                del os.environ["PGOPTIONS"]
            else:
                os.environ["PGOPTIONS"] = old

    def test_cached_tokens_and_fallbacks_in_savings_view(self):
        # 10 routed requests: 2048 prompt tokens each, half of them read from the cache on
        # the even ones; one answered by a same-tier model, two by the default model
        self.q("INSERT INTO requests (request_id, ts, experiment, phase, routed_bp, cohort, "
               "task_type, status, tokens_in, cached_tokens, fallback, cost_usd, "
               "baseline_cost_usd) "
               "SELECT 'cache-' || i, '2026-11-21 00:00Z'::timestamptz + i * interval '1 second',"
               " 'cache', 'full', 10000, 'routed', 'code', 200, 2048, "
               "CASE WHEN i % 2 = 0 THEN 1024 ELSE 0 END, "
               "CASE i WHEN 3 THEN 'tier' WHEN 4 THEN 'default' WHEN 5 THEN 'default' END, "
               "0.001, 0.002 FROM generate_series(0, 9) i")
        self.assertEqual(self.q("SELECT task_type, requests, prompt_tokens, cached_tokens, "
                                "cached_pct, fallback_tier, fallback_default FROM dash_savings "
                                "WHERE experiment = 'cache' ORDER BY task_type"),
                         [["all", "10", "20480", "5120", "25.0", "1", "2"],
                          ["code", "10", "20480", "5120", "25.0", "1", "2"]])

    def test_article_arithmetic_in_savings_view(self):
        # 50,000 requests in one day in the article's mix: the view's totals are the article's
        self.q(article_rows_sql("article", 50000))
        rows = self.q("SELECT task_type, requests, share_pct, baseline_usd_per_day, "
                      "cost_usd_per_day, savings_usd_per_day, savings_pct, "
                      "baseline_per_request, cost_per_request, requests_per_day, days "
                      "FROM dash_savings WHERE experiment = 'article' ORDER BY requests DESC, "
                      "task_type")
        self.assertEqual(rows, [
            ["all", "50000", "100.0", "625.00", "357.50", "267.50", "42.8", "0.012500",
             "0.007150", "50000.0", "1.0000"],
            ["simple", "25000", "50.0", "100.00", "4.00", "96.00", "96.0", "0.004000",
             "0.000160", "25000.0", "1.0000"],
            ["code", "10000", "20.0", "100.00", "16.00", "84.00", "84.0", "0.010000",
             "0.001600", "10000.0", "1.0000"],
            ["reasoning", "10000", "20.0", "156.25", "68.75", "87.50", "56.0", "0.015625",
             "0.006875", "10000.0", "1.0000"],
            ["complex", "5000", "10.0", "268.75", "268.75", "0.00", "0.0", "0.053750",
             "0.053750", "5000.0", "1.0000"],
        ])
        # the totals of the day are the same numbers
        self.assertEqual(self.q("SELECT baseline_usd, cost_usd, savings_usd, savings_pct "
                                "FROM dash_savings WHERE experiment = 'article' "
                                "AND task_type = 'all'"),
                         [["625.0000", "357.5000", "267.5000", "42.8"]])
        # and dash_arms agrees per task type
        self.assertEqual(self.q("SELECT sum(baseline_usd), sum(cost_usd), sum(requests) "
                                "FROM dash_arms WHERE experiment = 'article'"),
                         [["625.000000", "357.500000", "50000"]])

    def test_article_arithmetic_projected(self):
        # ten requests in the mix, projected to 50,000 a day
        self.q(article_rows_sql("article10", 10))
        rows = self.q("SELECT * FROM sy_savings_projection(50000, 'article10')")
        self.assertEqual(rows, [
            ["simple", "50.0", "25000.0", "0.004000", "0.000160", "100.00", "4.00", "96.00",
             "96.0"],
            ["code", "20.0", "10000.0", "0.010000", "0.001600", "100.00", "16.00", "84.00",
             "84.0"],
            ["reasoning", "20.0", "10000.0", "0.015625", "0.006875", "156.25", "68.75", "87.50",
             "56.0"],
            ["complex", "10.0", "5000.0", "0.053750", "0.053750", "268.75", "268.75", "0.00",
             "0.0"],
            ["all", "100.0", "50000.0", "0.012500", "0.007150", "625.00", "357.50", "267.50",
             "42.8"],
        ])
        # one request per task type (a 25% mix), with the article's mix given explicitly
        self.q(article_rows_sql("flat", 10).replace("FROM generate_series(0, 9) i",
                                                    "FROM unnest(ARRAY[0, 5, 7, 9]) i"))
        self.assertEqual(self.q("SELECT share_pct FROM sy_savings_projection(50000, 'flat') "
                                "WHERE task_type = 'simple'"), [["25.0"]])
        self.assertEqual(
            self.q("SELECT single_model_usd_per_day, routed_usd_per_day, savings_pct "
                   "FROM sy_savings_projection(50000, 'flat', mix => "
                   "'{\"simple\": 50, \"code\": 20, \"reasoning\": 20, \"complex\": 10}') "
                   "WHERE task_type = 'all'"),
            [["625.00", "357.50", "42.8"]])
        # a mix naming a task type the arm has no requests for is refused
        with self.assertRaisesRegex(RuntimeError, "without requests in that arm: poetry"):
            self.q("SELECT * FROM sy_savings_projection(50000, 'flat', mix => "
                   "'{\"simple\": 1, \"poetry\": 1}')")
        # no data: no rows
        self.assertEqual(self.q("SELECT * FROM sy_savings_projection(50000, 'nothing')"), [])

    def insert_arm(self, exp, cohort, task, n, latency_us=None, status=None, minute=0):
        lat = latency_us or "100000"
        st = status or "200"
        self.q("INSERT INTO requests (request_id, ts, experiment, phase, routed_bp, cohort, "
               "task_type, status, cost_usd, baseline_cost_usd, latency_us) "
               f"SELECT '{exp}-{cohort}-{task}-{minute}-' || i, "
               f"'2026-11-21 10:00Z'::timestamptz + interval '{minute} minutes', '{exp}', "
               f"'canary', 500, '{cohort}', '{task}', {st}, 0.001, 0.002, {lat} "
               f"FROM generate_series(0, {n - 1}) i")

    def feedback(self, exp, cohort, task, values, kind="thumbs"):
        """One feedback row per value, on requests 0, 1, 2 ... of that arm."""
        rows = []
        for i, v in enumerate(values):
            rid = f"{exp}-{cohort}-{task}-0-{i}"
            if kind == "thumbs":
                rows.append(f"('{rid}-t', '{rid}', 'thumbs', '{v}', NULL, "
                            "'2026-11-21 10:00:30Z', 'h')")
            else:
                rows.append(f"('{rid}-r', '{rid}', 'rating', NULL, {v}, "
                            "'2026-11-21 10:00:30Z', 'h')")
        self.q("INSERT INTO feedback (feedback_id, request_id, kind, value, rating, created_at, "
               "content_hash) VALUES " + ", ".join(rows))

    def test_quality_intervals(self):
        self.insert_arm("qual", "routed", "code", 50, status="CASE WHEN i < 3 THEN 502 ELSE 200 END")
        self.feedback("qual", "routed", "code", ["down"] * 4 + ["up"] * 16)
        self.feedback("qual", "routed", "code", [5, 4, 4, 3, 5, 2], kind="rating")
        self.q("SELECT sy_fold_feedback()")
        rows = self.q("SELECT requests, errors, error_rate, thumbs, thumbs_down, thumbs_down_rate, "
                      "thumbs_down_lo, thumbs_down_hi, ratings, rating, rating_lo, rating_hi "
                      "FROM dash_quality WHERE experiment = 'qual'")
        lo, hi = wilson(4, 20)
        ratings = [5, 4, 4, 3, 5, 2]
        mean = sum(ratings) / 6
        sd = math.sqrt(sum((x - mean) ** 2 for x in ratings) / 5)
        half = 1.959963984540054 * sd / math.sqrt(6)
        self.assertEqual(rows, [["50", "3", "0.0600", "20", "4", "0.2000", f"{lo:.4f}",
                                 f"{hi:.4f}", "6", f"{mean:.2f}", f"{mean - half:.2f}",
                                 f"{mean + half:.2f}"]])
        # the known values: Wilson 95% for 4/20 is [0.0807, 0.4160]
        self.assertEqual(rows[0][6:8], ["0.0807", "0.4160"])

    def test_latency_percentiles(self):
        # 100 requests: 90 at 5 ms, 8 at 50 ms, 2 at 200 ms -> p50 in (4.7, 6.3] ms,
        # p95 in (40, 55] ms, p99 in (190, 250] ms; bucket upper bounds are reported
        self.insert_arm("lat", "control", "simple", 100,
                        latency_us="CASE WHEN i < 90 THEN 5000 WHEN i < 98 THEN 50000 "
                                   "ELSE 200000 END")
        self.assertEqual(self.q("SELECT requests, latency_mean_ms, latency_p50_ms, "
                                "latency_p95_ms, latency_p99_ms FROM dash_latency "
                                "WHERE experiment = 'lat'"),
                         [["100", "12.5", "6.3", "55.0", "250.0"]])
        # above the last bound (120 s): the open bucket has no upper bound
        self.insert_arm("lat2", "control", "simple", 3, latency_us="200000000")
        self.assertEqual(self.q("SELECT latency_p50_ms IS NULL, latency_mean_ms FROM dash_latency "
                                "WHERE experiment = 'lat2'"), [["t", "200000.0"]])

    def test_arms_cohorts_and_since(self):
        self.insert_arm("arms", "control", "code", 10, minute=0)
        self.insert_arm("arms", "routed", "code", 4, minute=0)
        self.insert_arm("arms", "routed", "code", 6, minute=5)
        rows = self.q("SELECT phase, routed_pct, cohort, task_type, requests, cost_usd, "
                      "savings_usd, savings_pct, first_minute, last_minute FROM dash_arms "
                      "WHERE experiment = 'arms' ORDER BY cohort")
        self.assertEqual(rows, [
            ["canary", "5.00", "control", "code", "10", "0.010000", "0.010000", "50.0",
             "2026-11-21 10:00:00+00", "2026-11-21 10:00:00+00"],
            ["canary", "5.00", "routed", "code", "10", "0.010000", "0.010000", "50.0",
             "2026-11-21 10:00:00+00", "2026-11-21 10:05:00+00"],
        ])
        # switchyard.since narrows every rollup view to minutes at or after it
        self.assertEqual(self.q("SELECT cohort, requests FROM dash_arms "
                                "WHERE experiment = 'arms'", since="2026-11-21T10:01Z"), [["routed", "6"]])
        self.assertEqual(self.q("SELECT task_type, requests FROM dash_savings "
                                "WHERE experiment = 'arms' ORDER BY 1",
                                since="2026-11-21T10:01Z"), [["all", "6"], ["code", "6"]])
        self.assertEqual(self.q("SELECT count(*) FROM dash_arms WHERE experiment = 'arms'",
                                since=""), [["2"]])

    def test_phase_history_and_decisions(self):
        self.q("INSERT INTO experiments (name, definition, status) "
               "VALUES ('hist', '{}', 'running')")
        self.q("INSERT INTO decisions (experiment, ts, action, from_phase, to_phase, reason, "
               "evidence, actor) OVERRIDING SYSTEM VALUE VALUES "
               "('hist', '2026-11-21 09:00Z', 'start', NULL, 'shadow', 'started', '{}', 'ops'), "
               "('hist', '2026-11-21 11:00Z', 'advance', 'shadow', 'canary', "
               "'advance: all met (all)', '{\"accuracy\": {\"code\": 0.91}}', 'controller'), "
               "('hist', '2026-11-21 11:30Z', 'hold', 'canary', 'canary', 'hold: samples', "
               "'{}', 'controller')")
        ids = [r[0] for r in self.q("SELECT id FROM decisions WHERE experiment = 'hist' "
                                    "ORDER BY ts")]
        self.q("INSERT INTO experiment_phases (experiment, phase, routed_pct, entered_at, left_at, "
               f"decision_id) VALUES ('hist', 'shadow', 0, '2026-11-21 09:00Z', "
               f"'2026-11-21 11:00Z', {ids[0]}), ('hist', 'canary', 5, '2026-11-21 11:00Z', "
               f"NULL, {ids[1]})")
        rows = self.q("SELECT task_type, phase, routed_pct, entered_at, "
                      "left_at, action, actor, reason, evidence->'accuracy'->>'code' "
                      "FROM dash_phase_history WHERE experiment = 'hist' ORDER BY entered_at")
        self.assertEqual(rows, [
            ["all", "shadow", "0.00", "2026-11-21 09:00:00+00", "2026-11-21 11:00:00+00",
             "start", "ops", "started", ""],
            ["all", "canary", "5.00", "2026-11-21 11:00:00+00", "", "advance", "controller",
             "advance: all met (all)", "0.91"],
        ])
        self.assertEqual(self.q("SELECT action FROM dash_decisions WHERE experiment = 'hist' "
                                "ORDER BY ts"), [["start"], ["advance"], ["hold"]])
        # since: phases still current at or after it, decisions at or after it
        self.assertEqual(self.q("SELECT phase FROM dash_phase_history "
                                "WHERE experiment = 'hist'", since="2026-11-21T11:10Z"),
                         [["canary"]])
        self.assertEqual(self.q("SELECT action FROM dash_decisions "
                                "WHERE experiment = 'hist'", since="2026-11-21T11:10Z"), [["hold"]])

    def test_shadow_routing_and_classifier_accuracy(self):
        # shadow: code would have gone to sim-mid 3 times, to sim-small once; a routed
        # request is not shadow and does not count
        self.q("INSERT INTO requests (request_id, ts, experiment, phase, cohort, task_type, "
               "would_have_model, served_model) VALUES "
               "('sh1', '2026-11-22 08:00Z', 'shad', 'shadow', 'shadow', 'code', 'sim-mid', "
               "'sim-premium'), "
               "('sh2', '2026-11-22 08:00Z', 'shad', 'shadow', 'shadow', 'code', 'sim-mid', "
               "'sim-premium'), "
               "('sh3', '2026-11-22 08:01Z', 'shad', 'shadow', 'shadow', 'code', 'sim-mid', "
               "'sim-premium'), "
               "('sh4', '2026-11-22 08:01Z', 'shad', 'shadow', 'shadow', 'code', 'sim-small', "
               "'sim-premium'), "
               "('sh5', '2026-11-22 08:02Z', 'shad', 'shadow', 'shadow', 'simple', 'sim-small', "
               "'sim-premium'), "
               "('sh6', '2026-11-22 08:02Z', 'shad', 'canary', 'routed', 'simple', NULL, "
               "'sim-small')")
        self.assertEqual(self.q("SELECT task_type, would_have_model, requests, share_pct "
                                "FROM dash_shadow_routing WHERE experiment = 'shad' "
                                "ORDER BY 1, 3 DESC"),
                         [["code", "sim-mid", "3", "75.0"], ["code", "sim-small", "1", "25.0"],
                          ["simple", "sim-small", "1", "100.0"]])
        # labels: code is right 3 times of 4 (two labellers on sh1), simple once of 2
        self.q("INSERT INTO labels (request_id, labeller, task_type) VALUES "
               "('sh1', 'ann', 'code'), ('sh1', 'bob', 'reasoning'), ('sh2', 'ann', 'code'), "
               "('sh3', 'ann', 'code'), ('sh5', 'ann', 'simple'), ('sh6', 'ann', 'code')")
        lo, hi = wilson(3, 4)
        self.assertEqual(self.q("SELECT task_type, labels, correct, accuracy, accuracy_lo, "
                                "accuracy_hi FROM dash_classifier_accuracy "
                                "WHERE experiment = 'shad' ORDER BY 1"),
                         [["code", "4", "3", "0.7500", f"{lo:.4f}", f"{hi:.4f}"],
                          ["simple", "2", "1", "0.5000", "0.0945", "0.9055"]])

    def test_views_documented(self):
        # every view in dashboards/ is in the README and has a comment
        d = os.path.join(source_dir(), "dashboards")
        with open(os.path.join(d, "README.md")) as f:
            readme = f.read()
        views = sorted(f[:-4] for f in os.listdir(d) if f.startswith("dash_") and
                       f.endswith(".sql"))
        self.assertGreaterEqual(len(views), 8)
        for v in views:
            self.assertIn(f"`{v}`", readme)
            self.assertEqual(self.q(f"SELECT obj_description('{v}'::regclass) IS NOT NULL"),
                             [["t"]], v)


if __name__ == "__main__":
    unittest.main()
