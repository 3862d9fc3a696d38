"""dashboards/grafana: the provisioned PostgreSQL datasource and the dashboard over the
dash_* views. Every panel's and variable's SQL runs against a migrated database (with the
template variables filled in), reads only dash_* views, and names the provisioned
datasource. No Grafana server is needed.
"""

import json
import os
import re
import subprocess
import unittest

from harness import Services, source_dir, switchyard_bin

GRAFANA = os.path.join(source_dir(), "dashboards", "grafana")


def queries(dash):
    for v in dash["templating"]["list"]:
        yield f"variable {v['name']}", v["datasource"], v["query"]
    for p in dash["panels"]:
        for t in p.get("targets", []):
            yield f"panel {p['id']} {p['title']}", t["datasource"], t["rawSql"]


class GrafanaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(GRAFANA, "dashboards", "switchyard.json")) as f:
            cls.dash = json.load(f)
        cls.svc = Services().start()
        try:
            r = subprocess.run([switchyard_bin(), "migrate"], env=cls.svc.env(),
                               capture_output=True, text=True, timeout=120)
            assert r.returncode == 0, r.stderr
        except Exception:
            cls.svc.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.svc.stop()

    def test_datasource_is_the_provisioned_one(self):
        with open(os.path.join(GRAFANA, "provisioning", "datasources", "switchyard.yml")) as f:
            text = f.read()
        uid = re.search(r"^\s+uid: (\S+)$", text, re.M).group(1)
        self.assertIn("type: grafana-postgresql-datasource", text)
        for where, ds, _ in queries(self.dash):
            with self.subTest(where=where):
                self.assertEqual(ds["uid"], uid)
        with open(os.path.join(GRAFANA, "provisioning", "dashboards", "switchyard.yml")) as f:
            self.assertIn("path: /var/lib/grafana/dashboards", f.read())

    def test_covers_cost_savings_quality_latency_and_phase_history(self):
        sql = " ".join(q for _, _, q in queries(self.dash))
        for view in ("dash_savings", "dash_quality", "dash_latency", "dash_phase_history",
                     "dash_decisions"):
            self.assertIn(view, sql)
        self.assertIn("task_type", self.dash["templating"]["list"][2]["name"])

    def test_every_query_runs_on_the_views(self):
        # one request so the views have a row; the variables as Grafana fills them in
        self.svc.psql("INSERT INTO requests (request_id, ts, experiment, phase, routed_bp, cohort, "
                      "task_type, status, cost_usd, baseline_cost_usd, latency_us) VALUES "
                      "('g1', now(), 'graf', 'canary', 500, 'routed', 'code', 200, 0.001, "
                      "0.002, 120000)")
        for where, _, q in queries(self.dash):
            with self.subTest(where=where):
                tables = set(re.findall(r"\bFROM\s+(\w+)", q, re.I))
                self.assertTrue(tables and all(t.startswith("dash_") for t in tables), tables)
                filled = (q.replace("$experiment", "graf").replace("$phase", "canary")
                          .replace("$task_type", "'code','simple'"))
                self.svc.psql(filled)  # raises on an SQL error
        rows = self.svc.psql("SELECT task_type, savings_pct FROM dash_savings WHERE "
                             "experiment = 'graf' AND cohort = 'routed' AND task_type = 'code'")
        self.assertEqual(rows, [["code", "50.0"]])


if __name__ == "__main__":
    unittest.main()
