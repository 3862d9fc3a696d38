"""dashboards/prometheus: the scrape config and the alert rules are valid (promtool check),
every alert fires and stays quiet where it should (promtool test rules), and every metric
the rules name is one a live router, controller or ingest really exports on /metrics.

promtool (Debian's prometheus package) is required: when it is missing the test fails
(run scripts/install-deps).
"""

import json
import os
import re
import shutil
import subprocess
import unittest

from harness import Proc, http, source_dir, wait_for
from stack import KEY, Stack

PROM_DIR = os.path.join(source_dir(), "dashboards", "prometheus")
TOKEN = "admin-token-for-prometheus-tests-0"


def promtool(*args):
    exe = shutil.which("promtool")
    if exe is None:
        raise AssertionError("promtool not found: run scripts/install-deps (it installs the "
                             "Debian package prometheus, which ships promtool)")
    return subprocess.run([exe, *args], cwd=PROM_DIR, capture_output=True, text=True, timeout=120)


def exported(text):
    """Metric family names in a Prometheus text exposition."""
    names = set()
    for line in text.splitlines():
        m = re.match(r"^# TYPE (\S+) (\S+)", line)
        if m:
            names.add(m.group(1))
    return names


class PromtoolTest(unittest.TestCase):
    def test_rules_are_valid(self):
        r = promtool("check", "rules", "rules/switchyard.rules.yml")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("SUCCESS: 8 rules found", r.stdout + r.stderr)

    def test_config_is_valid(self):
        r = promtool("check", "config", "prometheus.yml")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_every_alert_fires_and_stays_quiet_in_its_tests(self):
        r = promtool("test", "rules", "tests/switchyard.test.yml")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(os.path.join(PROM_DIR, "rules", "switchyard.rules.yml")) as f:
            alerts = set(re.findall(r"- alert: (\w+)", f.read()))
        with open(os.path.join(PROM_DIR, "tests", "switchyard.test.yml")) as f:
            tests = f.read()
        for a in sorted(alerts):
            with self.subTest(alert=a):
                blocks = re.findall(r"alertname: %s\n\s+exp_alerts:(.*?)(?=\n\s+- eval_time|\n  - interval|\Z)"
                                    % a, tests, re.S)
                self.assertTrue(any(b.strip() == "[]" for b in blocks), f"{a}: no quiet case")
                self.assertTrue(any("exp_labels" in b for b in blocks), f"{a}: no firing case")


class LiveMetricsTest(unittest.TestCase):
    """The names the rules use against what the daemons export."""

    @classmethod
    def setUpClass(cls):
        cls.st = Stack(ingest=False).start()
        try:
            cls.ingest = cls.st._start(Proc("ingest", ["--block-ms", "100", "--metrics-listen",
                                                       "127.0.0.1:0"], env=cls.st.svc.env()),
                                       wait=False)
            wait_for(lambda: cls.ingest_port(), 10, what="ingest metrics port")
            cfg = {"default_model": "big",
                   "providers": {"sim": {"base_url": cls.st.sim_url()}},
                   "models": {"big": {"provider": "sim", "upstream": "sim-instant",
                                      "tier": "premium", "input_usd_per_mtok": 1,
                                      "output_usd_per_mtok": 2}},
                   "api_keys": [{"key": KEY, "project": "p"}]}
            cls.router = cls.st.router(cfg)
            cls.ctl = cls.st._start(Proc("controller", ["--listen", "127.0.0.1:0"],
                                         env=cls.st.svc.env(SWITCHYARD_ADMIN_TOKEN=TOKEN)))
        except Exception:
            cls.st.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.st.stop()

    @classmethod
    def ingest_port(cls):
        for rec in cls.ingest.log_records():
            if rec.get("msg") == "metrics listening":
                cls.ingest.port = int(rec["port"])
                return cls.ingest.port
        return None

    def scrape(self, port):
        st, hdrs, body = http("GET", f"http://127.0.0.1:{port}/metrics")
        self.assertEqual(st, 200)
        return body.decode()

    def test_rules_name_only_exported_metrics(self):
        st, _, _ = self.st.chat(self.router, {"messages": [{"role": "user", "content": "hi"}]})
        self.assertEqual(st, 200)
        wait_for(lambda: "switchyard_ingest_rows_inserted_total 1\n" in self.scrape(self.ingest.port),
                 15, what="the request ingested and counted")
        names = set()
        for port in (self.router.port, self.ctl.port, self.ingest.port):
            names |= exported(self.scrape(port))
        with open(os.path.join(PROM_DIR, "rules", "switchyard.rules.yml")) as f:
            used = set(re.findall(r"\bswitchyard_[a-z0-9_]+", f.read()))
        self.assertTrue(used)
        self.assertEqual(sorted(used - names), [])

    def test_ingest_metrics(self):
        st, _, _ = self.st.chat(self.router, {"messages": [{"role": "user", "content": "again"}]})
        self.assertEqual(st, 200)
        wait_for(lambda: re.search(r"\nswitchyard_ingest_spool_entries 0\n",
                                   self.scrape(self.ingest.port)), 15, what="an empty spool")
        text = self.scrape(self.ingest.port)
        self.assertRegex(text, r"\nswitchyard_ingest_rows_inserted_total [1-9]\d*\n")
        self.assertRegex(text, r"\nswitchyard_ingest_batches_total [1-9]\d*\n")
        self.assertIn("\nswitchyard_ingest_lag_seconds 0.000\n", text)
        self.assertIn("\nswitchyard_ingest_redis_up 1\n", text)
        self.assertIn("\nswitchyard_ingest_pg_up 1\n", text)
        self.assertRegex(text, r"\nswitchyard_ingest_last_commit_timestamp_seconds 1\d{9}\.\d{3}\n")
        st, _, b = http("GET", f"http://127.0.0.1:{self.ingest.port}/healthz")
        self.assertEqual((st, json.loads(b)), (200, {"status": "ok"}))
        st, _, b = http("GET", f"http://127.0.0.1:{self.ingest.port}/nope")
        self.assertEqual((st, json.loads(b)["error"]["code"]), (404, "unknown_url"))
        st, hdrs, _ = http("POST", f"http://127.0.0.1:{self.ingest.port}/metrics", b"")
        self.assertEqual((st, hdrs["allow"]), (405, "GET"))

    def test_ingest_refuses_a_bad_metrics_address(self):
        r = subprocess.run([self.ingest.argv[0], "ingest", "--metrics-listen", "nope"],
                           env=self.st.svc.env(), capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertIn('ingest: --metrics-listen: expected HOST:PORT with a port from 0 to 65535 '
                      '(got "nope")', r.stderr)


if __name__ == "__main__":
    unittest.main()
