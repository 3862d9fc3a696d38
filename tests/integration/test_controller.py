"""The controller: admin API (auth, definitions with every error path, actions and their
refusals), the experiment CLI, state published to Redis, decisions with evidence, webhooks,
and leader election between two controllers -- against real PostgreSQL and Redis.
"""

import copy
import hashlib
import hmac
import http.server as httpserver
import json
import os
import subprocess
import threading
import time
import unittest

from harness import Proc, http, source_dir, switchyard_bin, wait_for
from stack import Stack

TOKEN = "admin-token-for-tests-0123456789"


def definition(name="exp-c", **over):
    with open(os.path.join(source_dir(), "experiments", "task-routing.fast.json")) as f:
        d = json.load(f)
    d["experiment"]["name"] = name
    d.update(over)
    return d


class Hook(httpserver.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        Hook.received.append((dict(self.headers), self.rfile.read(n)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


class ControllerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.st = Stack(ingest=False).start()
        try:
            cls.ctl = cls.controller()
        except Exception:
            cls.st.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.st.stop()

    @classmethod
    def controller(cls, tick_ms=300):
        env = cls.st.svc.env(SWITCHYARD_ADMIN_TOKEN=TOKEN, HOOK_SECRET="hook-secret")
        return cls.st._start(Proc("controller", ["--listen", "127.0.0.1:0", "--tick-ms",
                                                 str(tick_ms)], env=env))

    def admin(self, method, path, body=None, token=TOKEN, ctl=None):
        h = {"Authorization": f"Bearer {token}"} if token else {}
        st, hdrs, b = http(method, f"http://127.0.0.1:{(ctl or self.ctl).port}{path}",
                           body, h)
        return st, json.loads(b) if b else None

    def cli(self, *args):
        env = dict(os.environ, SWITCHYARD_ADMIN_URL=f"http://127.0.0.1:{self.ctl.port}",
                   SWITCHYARD_ADMIN_TOKEN=TOKEN)
        return subprocess.run([switchyard_bin(), "experiment", *args], env=env,
                              capture_output=True, text=True, timeout=30)

    def state(self, name):
        raw = self.st.svc.redis("HGETALL", f"sy:{{{name}}}:state").split("\n")
        return dict(zip(raw[0::2], raw[1::2])) if raw != [""] else {}

    # ---- auth and input ----

    def test_auth_required(self):
        st, body = self.admin("GET", "/admin/experiments", token=None)
        self.assertEqual(st, 401)
        self.assertEqual(body["error"]["code"], "invalid_admin_token")
        st, _ = self.admin("GET", "/admin/experiments", token="wrong-token-wrong-token")
        self.assertEqual(st, 401)
        st, body = self.admin("GET", "/healthz", token=None)
        self.assertEqual((st, body["status"]), (200, "ok"))

    def test_refuses_to_start_without_token(self):
        r = subprocess.run([switchyard_bin(), "controller", "--listen", "127.0.0.1:0"],
                           env=self.st.svc.env(SWITCHYARD_ADMIN_TOKEN="short"),
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertIn("SWITCHYARD_ADMIN_TOKEN must hold the admin token (at least 16 characters)",
                      r.stderr)

    def test_invalid_definitions_report_every_error(self):
        st, body = self.admin("POST", "/admin/experiments", b"{nope")
        self.assertEqual(st, 400)
        self.assertEqual(body["error"]["code"], "invalid_definition")
        bad = definition("exp-bad")
        bad["phases"][2]["routed_pct"] = 1
        bad["guardrails"][0]["metric"] = "thumbs"
        st, body = self.admin("POST", "/admin/experiments", bad)
        self.assertEqual(st, 400)
        msg = body["error"]["message"]
        self.assertIn("$.phases[2].routed_pct", msg)
        self.assertIn('$.guardrails[0].metric: unknown metric "thumbs"', msg)
        st, body = self.admin("GET", "/admin/experiments/exp-bad")
        self.assertEqual(st, 404)

    def test_unknown_things(self):
        st, body = self.admin("POST", "/admin/experiments/nope/start")
        self.assertEqual((st, body["error"]["code"]), (404, "experiment_not_found"))
        self.admin("POST", "/admin/experiments", definition("exp-u"))
        st, body = self.admin("POST", "/admin/experiments/exp-u/explode")
        self.assertEqual((st, body["error"]["code"]), (404, "unknown_action"))
        st, body = self.admin("POST", "/admin/experiments/exp-u/hold", {"task": "poetry"})
        self.assertEqual((st, body["error"]["code"]), (400, "invalid_task"))
        st, body = self.admin("DELETE", "/admin/experiments/exp-u")
        self.assertEqual(st, 405)
        # a method that is a piece of an allowed one is still not allowed
        for method, path, allow in (("POS", "/admin/experiments", "GET, POST"),
                                    ("ET", "/admin/experiments/exp-u", "GET"),
                                    ("T", "/admin/experiments/exp-u/start", "POST")):
            st, body = self.admin(method, path)
            self.assertEqual((st, body["error"]["code"]), (405, "method_not_allowed"), method)
            self.assertEqual(body["error"]["message"],
                             f"method {method} is not allowed on {path} (allowed: {allow})")

    # ---- the life cycle through the API and the CLI ----

    def test_lifecycle_publishes_and_records(self):
        st, body = self.admin("POST", "/admin/experiments", definition("exp-l"))
        self.assertEqual((st, body), (201, {"name": "exp-l", "status": "draft"}))
        st, body = self.admin("POST", "/admin/experiments/exp-l/resume")
        self.assertEqual(st, 409)
        self.assertEqual(body["error"]["message"],
                         "cannot resume: the experiment is draft, not paused")
        st, body = self.admin("POST", "/admin/experiments/exp-l/start", {"reason": "go"})
        self.assertEqual((st, body["status"], body["step"]), (200, "running", 0))
        wait_for(lambda: self.state("exp-l").get("phase") == "shadow", 5, what="shadow published")
        s = self.state("exp-l")
        self.assertEqual((s["routed_bp"], s["holdout_bp"], s["salt"]), ("0", "500", "2026-11"))
        st, body = self.admin("POST", "/admin/experiments/exp-l/promote")
        self.assertEqual(body["step"], 1)
        wait_for(lambda: self.state("exp-l").get("phase") == "canary", 5, what="canary")
        self.assertEqual(self.state("exp-l")["routed_bp"], "500")
        st, body = self.admin("POST", "/admin/experiments/exp-l/hold", {"task": "code"})
        self.assertEqual(body["held_back"], ["code"])
        wait_for(lambda: self.state("exp-l").get("held_back") == "code", 5, what="held back")
        self.admin("POST", "/admin/experiments/exp-l/pause")
        wait_for(lambda: self.state("exp-l").get("phase") == "paused", 5, what="paused")
        self.admin("POST", "/admin/experiments/exp-l/resume")
        st, body = self.admin("POST", "/admin/experiments/exp-l/rollback", {"reason": "test"})
        self.assertEqual(body["status"], "rolled_back")
        wait_for(lambda: self.state("exp-l").get("phase") == "rolled_back", 5, what="rollback")
        # the controller never re-advances a rolled-back experiment
        time.sleep(1.0)
        self.assertEqual(self.state("exp-l")["phase"], "rolled_back")
        st, body = self.admin("POST", "/admin/experiments/exp-l/start")
        self.assertEqual(st, 409)
        st, hist = self.admin("GET", "/admin/experiments/exp-l/history")
        # the controller's own notes (an inconclusive "hold" from a tick) may interleave
        actions = [d["action"] for d in reversed(hist["decisions"]) if d["action"] != "hold"]
        self.assertEqual(actions, ["apply", "start", "promote", "hold_back", "pause", "resume",
                                   "rollback"])
        self.assertEqual(hist["decisions"][0]["reason"], "rollback by admin: test")
        phases = self.st.svc.psql(
            "SELECT phase, routed_pct, left_at IS NULL FROM experiment_phases "
            "WHERE experiment = 'exp-l' AND task_type IS NULL ORDER BY id")
        self.assertEqual([p[0] for p in phases],
                         ["shadow", "canary", "paused", "canary", "rolled_back"])
        self.assertEqual(phases[-1][2], "t")
        # a running experiment's definition cannot change under it; a rolled-back one can
        st, body = self.admin("POST", "/admin/experiments", definition("exp-l"))
        self.assertEqual(st, 201)

    def test_cli(self):
        path = os.path.join(self.st.tmp, "exp-cli.json")
        with open(path, "w") as f:
            json.dump(definition("exp-cli"), f)
        r = self.cli("apply", path)
        self.assertEqual((r.returncode, r.stdout), (0, "applied exp-cli (draft)\n"), r.stderr)
        r = self.cli("start", "exp-cli", "--reason", "first")
        self.assertEqual((r.returncode, r.stdout), (0, "exp-cli: start, status running (step 0)\n"))
        r = self.cli("hold", "exp-cli", "complex")
        self.assertEqual(r.returncode, 0)
        r = self.cli("resume", "exp-cli")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, "switchyard experiment: HTTP 409: cannot resume: the "
                                   "experiment is running, not paused\n")
        wait_for(lambda: "decision" in self.cli("status", "exp-cli").stdout, 10,
                 what="a first evaluation")
        r = self.cli("status", "exp-cli")
        self.assertIn("experiment  exp-cli", r.stdout)
        self.assertIn("phase       shadow", r.stdout)
        self.assertIn("held back   complex", r.stdout)
        r = self.cli("history", "exp-cli")
        self.assertIn("hold_back", r.stdout)
        r = self.cli("list")
        self.assertIn("exp-cli", r.stdout)
        bad = dict(definition("exp-cli2"), phases=[])
        with open(path, "w") as f:
            json.dump(bad, f)
        r = self.cli("apply", path)
        self.assertEqual(r.returncode, 1)
        self.assertIn("$.phases", r.stderr)
        r = self.cli("frobnicate")
        self.assertEqual(r.returncode, 2)
        r = self.cli("hold", "exp-cli")
        self.assertEqual((r.returncode, r.stderr),
                         (2, "switchyard experiment hold: expected NAME TASK\n"))

    def test_webhooks_signed_and_retried(self):
        Hook.received = []
        srv = httpserver.HTTPServer(("127.0.0.1", 0), Hook)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            d = definition("exp-w")
            d["notifications"] = {"webhooks": [
                {"url": f"http://127.0.0.1:{srv.server_port}/hook", "secret_env": "HOOK_SECRET"},
                {"url": "http://127.0.0.1:9/unreachable"}], "timeout_ms": 500, "max_attempts": 2}
            self.assertEqual(self.admin("POST", "/admin/experiments", d)[0], 201)
            self.admin("POST", "/admin/experiments/exp-w/start")
            wait_for(lambda: Hook.received, 10, what="a webhook delivery")
            headers, body = Hook.received[0]
            event = json.loads(body)
            self.assertEqual((event["event"], event["experiment"]), ("start", "exp-w"))
            sig = headers["X-Switchyard-Signature"]
            t = sig.split(",")[0][2:]
            want = hmac.new(b"hook-secret", f"{t}.".encode() + body, hashlib.sha256).hexdigest()
            self.assertEqual(sig, f"t={t},v1={want}")
            rows = wait_for(lambda: self.st.svc.psql(
                "SELECT attempts, last_error IS NOT NULL FROM notifications "
                "WHERE url LIKE '%unreachable' AND attempts >= 2"), 15, what="retries")
            self.assertEqual(rows[0], ["2", "t"])
        finally:
            srv.shutdown()
            srv.server_close()

    def test_leader_election_and_takeover(self):
        second = self.controller()
        first_is_leader = lambda: json.loads(http("GET", f"http://127.0.0.1:{self.ctl.port}/healthz")[2])["leader"]
        wait_for(first_is_leader, 5, what="the first controller to lead")
        time.sleep(1)
        st, body = self.admin("GET", "/healthz", ctl=second)
        self.assertFalse(body["leader"])
        # the standby serves the admin API too
        self.assertEqual(self.admin("GET", "/admin/experiments", ctl=second)[0], 200)
        self.ctl.kill()
        wait_for(lambda: self.admin("GET", "/healthz", ctl=second)[1]["leader"], 10,
                 what="the standby to take over")
        self.__class__.ctl = second


if __name__ == "__main__":
    unittest.main()
