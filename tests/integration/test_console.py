"""The controller's web console over HTTP (the browser test is test_console_browser.py):
the page and its assets, login and logout, the session cookie's attributes, CSRF and
Origin checks on every state change, the viewer token, the console's JSON (arms exactly
as the evaluation read them, savings over time, the phase history), /metrics, and the
exact status of every bad input -- against a real controller, PostgreSQL and Redis.
"""

import json
import os
import re
import subprocess
import unittest

from harness import Proc, http, source_dir, switchyard_bin, wait_for
from stack import Stack

TOKEN = "admin-token-for-console-tests-0123"
VIEWER = "viewer-token-for-console-tests-45"


def definition(name):
    with open(os.path.join(source_dir(), "experiments", "task-routing.fast.json")) as f:
        d = json.load(f)
    d["experiment"]["name"] = name
    d["attribution_window_s"] = 0
    return d


class ConsoleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.st = Stack(ingest=False).start()
        try:
            env = cls.st.svc.env(SWITCHYARD_ADMIN_TOKEN=TOKEN, SWITCHYARD_VIEWER_TOKEN=VIEWER)
            cls.ctl = cls.st._start(Proc("controller", ["--listen", "127.0.0.1:0",
                                                        "--tick-ms", "300"], env=env))
            cls.base = f"http://127.0.0.1:{cls.ctl.port}"
            st, _, _ = cls.bearer("POST", "/admin/experiments", definition("con"))
            assert st == 201, st
        except Exception:
            cls.st.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.st.stop()

    @classmethod
    def bearer(cls, method, path, body=None, token=TOKEN):
        return http(method, cls.base + path, body, {"Authorization": f"Bearer {token}"})

    def req(self, method, path, body=None, **headers):
        h = {k.replace("_", "-"): v for k, v in headers.items()}
        st, hdrs, b = http(method, self.base + path, body, h)
        ctype = hdrs.get("content-type", "")
        return st, hdrs, json.loads(b) if b and ctype.startswith("application/json") else b

    def login(self, token=TOKEN):
        st, hdrs, body = self.req("POST", "/console/login", {"token": token})
        self.assertEqual(st, 200, body)
        m = re.match(r"sy_console=([0-9a-f]{64}); ", hdrs["set-cookie"])
        self.assertTrue(m, hdrs["set-cookie"])
        return f"sy_console={m.group(1)}", body["csrf_token"]

    def code(self, resp):
        st, _, body = resp
        return st, body["error"]["code"] if isinstance(body, dict) and "error" in body else None

    # ---- the page and its assets ----

    def test_page_without_credentials_is_401_and_holds_no_data(self):
        st, hdrs, body = self.req("GET", "/")
        self.assertEqual(st, 401)
        self.assertEqual(hdrs["content-type"], "text/html; charset=utf-8")
        self.assertIn(b'id="login-form"', body)
        # the page is the static file, byte for byte: no data without credentials
        with open(os.path.join(source_dir(), "controller", "console", "index.html"), "rb") as f:
            self.assertEqual(body, f.read())
        csp = hdrs["content-security-policy"]
        self.assertIn("default-src 'none'", csp)
        self.assertIn("script-src 'self'", csp)
        self.assertIn("frame-ancestors 'none'", csp)
        self.assertEqual(hdrs["x-content-type-options"], "nosniff")
        self.assertEqual(hdrs["x-frame-options"], "DENY")
        st, _, _ = self.req("GET", "/", Authorization="Bearer wrong-token-wrong-token")
        self.assertEqual(st, 401)

    def test_assets_are_the_source_files_compiled_in(self):
        for name, ctype in (("app.js", "text/javascript; charset=utf-8"),
                            ("app.css", "text/css; charset=utf-8")):
            st, hdrs, body = self.req("GET", f"/console/{name}")
            self.assertEqual((st, hdrs["content-type"]), (200, ctype))
            with open(os.path.join(source_dir(), "controller", "console", name), "rb") as f:
                self.assertEqual(body, f.read())
        cookie, _ = self.login()
        st, _, body = self.req("GET", "/", Cookie=cookie)
        with open(os.path.join(source_dir(), "controller", "console", "index.html"), "rb") as f:
            self.assertEqual((st, body), (200, f.read()))
        self.assertEqual(self.code(self.req("POST", "/console/app.js")),
                         (405, "method_not_allowed"))
        self.assertEqual(self.code(self.req("GET", "/console/nope.js")), (404, "unknown_url"))
        self.assertEqual(self.code(self.req("GET", "/console/login")), (405, "method_not_allowed"))

    # ---- login ----

    def test_login_sets_a_strict_httponly_cookie(self):
        st, hdrs, body = self.req("POST", "/console/login", {"token": TOKEN})
        self.assertEqual(st, 200)
        self.assertEqual(body["role"], "admin")
        self.assertEqual(body["expires_in"], 43200)
        self.assertRegex(body["csrf_token"], r"^[0-9a-f]{64}$")
        self.assertRegex(hdrs["set-cookie"], r"^sy_console=[0-9a-f]{64}; HttpOnly; "
                                             r"SameSite=Strict; Path=/; Max-Age=43200$")
        self.assertEqual(hdrs["cache-control"], "no-store")
        cookie = hdrs["set-cookie"].split(";")[0]
        st, _, s = self.req("GET", "/console/session", Cookie=cookie)
        self.assertEqual((st, s["role"], s["csrf_token"]), (200, "admin", body["csrf_token"]))
        self.assertGreater(s["expires_in"], 43000)
        # two logins are two sessions with their own CSRF tokens
        _, csrf2 = self.login()
        self.assertNotEqual(csrf2, body["csrf_token"])
        # other cookies around ours are fine
        st, _, _ = self.req("GET", "/admin/experiments", Cookie=f"a=b; {cookie}; c=d")
        self.assertEqual(st, 200)

    def test_bad_logins(self):
        self.assertEqual(self.code(self.req("POST", "/console/login", {"token": "nope" * 5})),
                         (401, "invalid_token"))
        self.assertEqual(self.code(self.req("POST", "/console/login", {"tok": TOKEN})),
                         (400, "missing_token"))
        self.assertEqual(self.code(self.req("POST", "/console/login", {"token": 5})),
                         (400, "missing_token"))
        self.assertEqual(self.code(self.req("POST", "/console/login", "token=" + TOKEN)),
                         (400, "invalid_json"))
        self.assertEqual(self.code(self.req("POST", "/console/login")), (400, "invalid_json"))
        big = json.dumps({"token": TOKEN, "pad": "x" * 5000})
        self.assertEqual(self.code(self.req("POST", "/console/login", big,
                                            Content_Type="application/json")),
                         (413, "body_too_large"))
        self.assertEqual(self.code(self.req("POST", "/console/login", {"token": TOKEN},
                                            Origin="https://evil.example")),
                         (403, "origin_mismatch"))
        # the same origin as Host is fine
        st, _, _ = self.req("POST", "/console/login", {"token": TOKEN},
                            Origin=f"http://127.0.0.1:{self.ctl.port}")
        self.assertEqual(st, 200)

    # ---- credentials on the admin API ----

    def test_bad_cookies_are_401(self):
        for value in ("zzz", "0" * 64, "A" * 64, "g" * 64, "", "0" * 65):
            with self.subTest(value=value):
                st, hdrs, body = self.req("GET", "/admin/experiments", Cookie=f"sy_console={value}")
                self.assertEqual((st, body["error"]["code"]), (401, "invalid_session"))
                st, hdrs, body = self.req("GET", "/", Cookie=f"sy_console={value}")
                self.assertEqual(st, 401)
                self.assertEqual(hdrs["set-cookie"], "sy_console=; HttpOnly; SameSite=Strict; "
                                                     "Path=/; Max-Age=0")
        self.assertEqual(self.code(self.req("GET", "/admin/experiments", Cookie="other=1")),
                         (401, "invalid_admin_token"))
        self.assertEqual(self.code(self.req("GET", "/console/session")),
                         (401, "invalid_admin_token"))

    def test_state_changes_need_csrf_and_origin(self):
        cookie, csrf = self.login()
        path = "/admin/experiments/con/hold"
        body = {"task": "code", "reason": "console test"}
        self.assertEqual(self.code(self.req("POST", path, body, Cookie=cookie)),
                         (403, "csrf_token_missing"))
        self.assertEqual(self.code(self.req("POST", path, body, Cookie=cookie, X_CSRF_Token="")),
                         (403, "csrf_token_missing"))
        self.assertEqual(self.code(self.req("POST", path, body, Cookie=cookie,
                                            X_CSRF_Token="0" * 64)),
                         (403, "csrf_token_invalid"))
        self.assertEqual(self.code(self.req("POST", path, body, Cookie=cookie, X_CSRF_Token=csrf,
                                            Origin="http://evil.example")),
                         (403, "origin_mismatch"))
        self.assertEqual(self.code(self.req("POST", path, body, Cookie=cookie, X_CSRF_Token=csrf,
                                            Origin="null")),
                         (403, "origin_mismatch"))
        # another session's token is not this one's
        _, other = self.login()
        self.assertEqual(self.code(self.req("POST", path, body, Cookie=cookie, X_CSRF_Token=other)),
                         (403, "csrf_token_invalid"))
        # nothing happened so far
        st, _, hist = self.req("GET", "/admin/experiments/con/history", Cookie=cookie)
        self.assertNotIn("hold_back", [d["action"] for d in hist["decisions"]])
        # unknown experiment and action, with every credential right
        self.assertEqual(self.code(self.req("POST", "/admin/experiments/nope/pause", {},
                                            Cookie=cookie, X_CSRF_Token=csrf)),
                         (404, "experiment_not_found"))
        self.assertEqual(self.code(self.req("POST", "/admin/experiments/con/explode", {},
                                            Cookie=cookie, X_CSRF_Token=csrf)),
                         (404, "unknown_action"))
        self.assertEqual(self.code(self.req("POST", path, "{nope", Cookie=cookie,
                                            X_CSRF_Token=csrf)), (400, "invalid_json"))
        # done right: applied, and recorded as the console's
        st, _, x = self.req("POST", path, body, Cookie=cookie, X_CSRF_Token=csrf,
                            Origin=f"http://127.0.0.1:{self.ctl.port}")
        self.assertEqual(st, 200, x)
        self.assertIn("code", x["human_held"])
        st, _, hist = self.req("GET", "/admin/experiments/con/history", Cookie=cookie)
        d = hist["decisions"][0]
        self.assertEqual((d["action"], d["task_type"], d["actor"], d["reason"]),
                         ("hold_back", "code", "console", "hold by console: console test"))
        st, _, x = self.req("POST", "/admin/experiments/con/release", body, Cookie=cookie,
                            X_CSRF_Token=csrf)
        self.assertEqual(st, 200, x)

    def test_viewer_reads_everything_and_changes_nothing(self):
        cookie, csrf = self.login(VIEWER)
        st, _, s = self.req("GET", "/console/session", Cookie=cookie)
        self.assertEqual(s["role"], "viewer")
        for path in ("/", "/admin/experiments", "/admin/experiments/con",
                     "/admin/experiments/con/history", "/admin/experiments/con/arms",
                     "/admin/experiments/con/savings"):
            with self.subTest(path=path):
                self.assertEqual(self.req("GET", path, Cookie=cookie)[0], 200)
                self.assertEqual(self.bearer("GET", path, token=VIEWER)[0], 200)
        for verb in ("pause", "resume", "promote", "rollback", "start"):
            with self.subTest(verb=verb):
                self.assertEqual(self.code(self.req("POST", f"/admin/experiments/con/{verb}", {},
                                                    Cookie=cookie, X_CSRF_Token=csrf)),
                                 (403, "read_only_session"))
                st, _, b = self.bearer("POST", f"/admin/experiments/con/{verb}", {},
                                       token=VIEWER)
                self.assertEqual((st, json.loads(b)["error"]["code"]), (403, "read_only_token"))
        st, _, b = self.bearer("POST", "/admin/experiments", definition("viewer-made"),
                               token=VIEWER)
        self.assertEqual(st, 403)
        self.assertEqual(self.bearer("GET", "/admin/experiments/viewer-made")[0], 404)
        # a viewer may end its own session
        st, hdrs, b = self.req("POST", "/console/logout", {}, Cookie=cookie, X_CSRF_Token=csrf)
        self.assertEqual(st, 200)

    def test_logout(self):
        cookie, csrf = self.login()
        self.assertEqual(self.code(self.req("POST", "/console/logout", {}, Cookie=cookie)),
                         (403, "csrf_token_missing"))
        self.assertEqual(self.code(self.req("GET", "/console/logout", Cookie=cookie)),
                         (405, "method_not_allowed"))
        st, hdrs, body = self.req("POST", "/console/logout", {}, Cookie=cookie, X_CSRF_Token=csrf)
        self.assertEqual((st, body), (200, {"logged_out": True}))
        self.assertTrue(hdrs["set-cookie"].startswith("sy_console=; "))
        self.assertIn("Max-Age=0", hdrs["set-cookie"])
        self.assertEqual(self.code(self.req("GET", "/console/session", Cookie=cookie)),
                         (401, "invalid_session"))
        self.assertEqual(self.code(self.req("POST", "/console/logout", {}, Cookie=cookie,
                                            X_CSRF_Token=csrf)), (401, "invalid_session"))

    # ---- the console's JSON ----

    def test_unknown_experiment_is_404_everywhere(self):
        for verb in ("", "/history", "/arms", "/savings"):
            with self.subTest(verb=verb):
                st, _, b = self.bearer("GET", f"/admin/experiments/nope{verb}")
                self.assertEqual((st, json.loads(b)["error"]["code"]), (404, "experiment_not_found"))
        st, hdrs, _ = self.bearer("POST", "/admin/experiments/con/arms")
        self.assertEqual((st, hdrs["allow"]), (405, "GET"))

    def test_arms_are_the_numbers_the_evaluation_used(self):
        st, _, _ = self.bearer("POST", "/admin/experiments", definition("arms"))
        self.assertEqual(st, 201)
        st, _, b = self.bearer("GET", "/admin/experiments/arms/arms")
        self.assertEqual((st, json.loads(b)["tasks"], json.loads(b)["since"]), (200, [], None))
        st, _, b = self.bearer("GET", "/admin/experiments/arms/savings")
        self.assertEqual((st, json.loads(b)["points"]), (200, []))
        st, _, _ = self.bearer("POST", "/admin/experiments/arms/start", {"reason": "arms test"})
        self.assertEqual(st, 200)
        # requests of the shadow step, written as the ingest would (the trigger rolls them up)
        self.st.svc.psql(
            "INSERT INTO requests (request_id, ts, experiment, phase, routed_bp, cohort, "
            "task_type, status, cost_usd, baseline_cost_usd, latency_us) "
            "SELECT 'arms-' || i, now(), 'arms', 'shadow', 0, "
            "CASE WHEN i % 4 = 0 THEN 'holdout' WHEN i % 4 = 1 THEN 'shadow' ELSE 'control' END, "
            "CASE WHEN i % 3 = 0 THEN 'code' ELSE 'simple' END, "
            "CASE WHEN i % 50 = 0 THEN 502 ELSE 200 END, 0.002, 0.002, 1000 * (100 + i) "
            "FROM generate_series(0, 299) i")

        def evaluated():
            st, _, b = self.bearer("GET", "/admin/experiments/arms")
            ev = json.loads(b)["last_evaluation"] or {}
            return ev if sum(t["n_c"] for t in ev.get("tasks", [])) == 300 else None
        ev = wait_for(evaluated, 10, what="an evaluation of the inserted requests")
        st, _, b = self.bearer("GET", "/admin/experiments/arms/arms")
        arms = json.loads(b)
        self.assertEqual((arms["phase"], arms["routed_bp"], ev["phase"]), ("shadow", 0, "shadow"))
        self.assertEqual([t["task"] for t in arms["tasks"]], ["simple", "code"])
        by_task = {t["task"]: t for t in ev["tasks"]}
        for t in arms["tasks"]:
            with self.subTest(task=t["task"]):
                self.assertEqual(t["control"]["n"], by_task[t["task"]]["n_c"])
                self.assertEqual(t["routed"]["n"], by_task[t["task"]]["n_t"])
        code = next(t for t in arms["tasks"] if t["task"] == "code")["control"]
        self.assertEqual(code["n"], 100)
        self.assertEqual(code["errors"], 2)  # i % 3 == 0 and i % 50 == 0: 0 and 150
        self.assertAlmostEqual(code["error_rate"], 0.02)
        self.assertAlmostEqual(code["cost_per_request"], 0.002)
        self.assertAlmostEqual(code["latency_mean_ms"], 100 + 148.5)  # i = 0, 3, ... 297
        self.assertIsNone(code["thumbs_down_rate"])
        st, _, b = self.bearer("GET", "/admin/experiments/arms/savings")
        sav = json.loads(b)
        self.assertEqual(sav["bucket_s"], 60)
        self.assertEqual(sum(p["n"] for p in sav["points"]), 300)
        self.assertAlmostEqual(sum(p["cost"] for p in sav["points"]), 0.6)
        self.assertAlmostEqual(sum(p["baseline"] for p in sav["points"]), 0.6)
        self.assertEqual(sum(p["routed_n"] for p in sav["points"]), 0)
        st, _, b = self.bearer("GET", "/admin/experiments/arms/history")
        phases = json.loads(b)["phases"]
        self.assertEqual([(p["phase"], p["routed_pct"], p["action"], p["task_type"])
                          for p in phases], [("shadow", 0, "start", None)])
        self.assertIsNone(phases[0]["left_at"])

    # ---- /metrics ----

    def test_metrics(self):
        st, hdrs, body = self.req("GET", "/metrics")
        self.assertEqual(st, 200)
        self.assertTrue(hdrs["content-type"].startswith("text/plain; version=0.0.4"))
        text = body.decode()
        for line in ("# TYPE switchyard_controller_leader gauge", "switchyard_controller_leader 1",
                     "switchyard_controller_db_up 1",
                     'switchyard_experiment_status{experiment="con",status="draft"} 1',
                     'switchyard_experiment_status{experiment="con",status="running"} 0',
                     "switchyard_controller_tick_interval_seconds 0.300"):
            self.assertIn(line + "\n", text)
        self.assertRegex(text, r"\nswitchyard_controller_ticks_total [1-9]\d*\n")
        self.assertRegex(text, r"\nswitchyard_experiments_running \d+\n")
        self.assertRegex(text, r"\nswitchyard_controller_last_tick_timestamp_seconds 1\d{9}\.\d{3}\n")
        self.assertEqual(self.code(self.req("POST", "/metrics")), (405, "method_not_allowed"))

    # ---- options ----

    def test_viewer_token_must_be_long_and_not_the_admin_token(self):
        for viewer in ("short", TOKEN):
            with self.subTest(viewer=viewer):
                r = subprocess.run([switchyard_bin(), "controller", "--listen", "127.0.0.1:0"],
                                   env=self.st.svc.env(SWITCHYARD_ADMIN_TOKEN=TOKEN,
                                                       SWITCHYARD_VIEWER_TOKEN=viewer),
                                   capture_output=True, text=True, timeout=10)
                self.assertEqual(r.returncode, 2)
                self.assertIn("SWITCHYARD_VIEWER_TOKEN must hold a viewer token of at least 16 "
                              "characters, not the admin token", r.stderr)
        for args, msg in ((["--session-ttl-s", "5"], "--session-ttl-s must be an integer"),
                          (["--console-origin", "ops.example.com"], "--console-origin must be")):
            with self.subTest(args=args):
                r = subprocess.run([switchyard_bin(), "controller", *args],
                                   env=self.st.svc.env(SWITCHYARD_ADMIN_TOKEN=TOKEN),
                                   capture_output=True, text=True, timeout=10)
                self.assertEqual(r.returncode, 2)
                self.assertIn(msg, r.stderr)

    def test_secure_cookie_and_configured_origin(self):
        env = self.st.svc.env(SWITCHYARD_ADMIN_TOKEN=TOKEN)
        with Proc("controller", ["--listen", "127.0.0.1:0", "--console-secure-cookie",
                                 "--console-origin", "https://ops.example.com",
                                 "--session-ttl-s", "600"], env=env) as p:
            url = f"http://127.0.0.1:{p.port}/console/login"
            st, hdrs, _ = http("POST", url, {"token": TOKEN},
                               {"Origin": f"http://127.0.0.1:{p.port}"})
            self.assertEqual(st, 403)  # Host's origin is not the configured one
            st, hdrs, body = http("POST", url, {"token": TOKEN},
                                  {"Origin": "https://ops.example.com"})
            self.assertEqual(st, 200)
            self.assertTrue(hdrs["set-cookie"].endswith("; Max-Age=600; Secure"),
                            hdrs["set-cookie"])


if __name__ == "__main__":
    unittest.main()
