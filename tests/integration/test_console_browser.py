"""The console in a real browser: Debian's chromium driven by puppeteer-core (npm, pinned in
tests/node/package.json) against a live stack -- Redis, PostgreSQL, the simulator, ingest,
a router and the controller, with `switchyard loadgen` sending traffic and feedback.

The page loads (401 and a login form without a session), shows the phase and the arms of the
running experiment with the numbers the admin API has, a pause clicked on the page is what
`switchyard experiment status` then reports, the viewer token sees the page but cannot change
anything, and screenshots are written to the build folder (console.png, console-phone.png,
console-viewer.png beside the switchyard binary).

chromium, node and npm are required: when one is missing the test fails (run
scripts/install-deps). When tests/node/node_modules lacks puppeteer-core, the test runs
`npm ci --prefix tests/node` first (needs the npm registry).
"""

import json
import os
import shutil
import subprocess
import unittest

from harness import Proc, http, source_dir, switchyard_bin, wait_for
from stack import Stack

TOKEN = "admin-token-for-browser-tests-01234"
VIEWER = "viewer-token-for-browser-tests-5678"
API_KEY = "sk-console-browser"
SECRET = "feedback-secret-console"
NAME = "console-demo"
TASKS = ("simple", "code", "reasoning", "complex")


def node_dir():
    return os.path.join(source_dir(), "tests", "node")


def require_tools():
    """Paths of node, npm and chromium; fails (never skips) when one is missing."""
    node, npm = shutil.which("node"), shutil.which("npm")
    chromium = shutil.which("chromium") or ("/usr/bin/chromium"
                                            if os.access("/usr/bin/chromium", os.X_OK) else None)
    missing = [n for n, p in (("node", node), ("npm", npm), ("chromium", chromium)) if not p]
    if missing:
        raise AssertionError(
            f"{' and '.join(missing)} not found: test_console_browser drives Debian's chromium "
            "with puppeteer-core on Node.js; run scripts/install-deps")
    return node, npm, chromium


def ensure_node_modules(npm):
    d = node_dir()
    if os.path.isfile(os.path.join(d, "node_modules", "puppeteer-core", "package.json")):
        return
    r = subprocess.run([npm, "ci", "--prefix", d, "--no-audit", "--no-fund"],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise AssertionError(f"npm ci --prefix tests/node failed ({r.returncode}):\n"
                             f"{r.stdout}\n{r.stderr}")


def definition(sim_url):
    with open(os.path.join(source_dir(), "experiments", "task-routing.fast.json")) as f:
        d = json.load(f)
    d["experiment"].update(name=NAME, salt=NAME, holdout_pct=10)
    d["providers"]["sim"]["base_url"] = sim_url
    d["attribution_window_s"] = 0
    d["classifier_rules"] = {"patterns": [{"regex": "^#" + t, "task": t} for t in TASKS]}
    # shadow briefly, then a canary that stays put while the browser looks at it
    d["phases"] = [
        {"kind": "shadow", "min_duration_s": 1, "min_samples": 10, "min_labels": 0},
        {"kind": "canary", "routed_pct": 40, "min_duration_s": 3600, "min_samples": 30},
        {"kind": "full", "min_duration_s": 10, "min_samples": 30},
    ]
    d["guardrails"] = [
        {"metric": "thumbs_down_rate", "margin": 0.15, "alpha": 0.05, "action": "hold_back_task",
         "min_samples": 30},
        {"metric": "error_rate", "margin": 0.1, "alpha": 0.01, "action": "rollback",
         "min_samples": 30},
        {"metric": "latency_p95_share", "margin": 0.1, "alpha": 0.05, "action": "warn",
         "min_samples": 30},
    ]
    return d


class ConsoleBrowserTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # the toolchain first: missing is a failure with instructions, not a skip
        cls.node, npm, cls.chromium = require_tools()
        ensure_node_modules(npm)
        cls.st = Stack().start()
        cls.loadgen = None
        try:
            cls.prompts = os.path.join(cls.st.tmp, "prompts.jsonl")
            with open(cls.prompts, "w") as f:
                for t in TASKS:
                    for i in range(20):
                        f.write(json.dumps({"text": f"#{t} question {i}", "label": t}) + "\n")
            env = cls.st.svc.env(SWITCHYARD_ADMIN_TOKEN=TOKEN, SWITCHYARD_VIEWER_TOKEN=VIEWER)
            cls.ctl = cls.st._start(Proc("controller", ["--listen", "127.0.0.1:0", "--tick-ms",
                                                        "500"], env=env))
            d = definition(cls.st.sim_url())
            cls.router = cls.st.router(d, ["--state-refresh-ms", "300"],
                                       SWITCHYARD_API_KEY=API_KEY,
                                       SWITCHYARD_FEEDBACK_SECRET=SECRET, SIM_API_KEY="unused")
            assert cls.admin("POST", "/admin/experiments", d)[0] == 201
            assert cls.admin("POST", f"/admin/experiments/{NAME}/start", {"reason": "browser"})[0] == 200
            cls.loadgen = subprocess.Popen(
                [switchyard_bin(), "loadgen", "--url", f"http://127.0.0.1:{cls.router.port}",
                 "--api-key", API_KEY, "--rate", "120", "--duration", "240", "--users", "400",
                 "--mix", "simple=40,code=30,reasoning=20,complex=10", "--feedback-rate", "0.8",
                 "--rating-share", "0.3", "--feedback-delay-ms", "10-50", "--feedback-secret",
                 SECRET, "--sim-url", cls.st.sim_url(), "--seed", "11", "--prompts", cls.prompts],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # canary with routed traffic evaluated: what the browser should find
            wait_for(cls.canary_with_routed_traffic, 60, interval=0.5,
                     what="the canary step with routed requests evaluated")
            cls.result = cls.run_browser()
        except Exception:
            cls.stop_all()
            raise

    @classmethod
    def stop_all(cls):
        if cls.loadgen and cls.loadgen.poll() is None:
            cls.loadgen.terminate()
            try:
                cls.loadgen.wait(15)
            except subprocess.TimeoutExpired:
                cls.loadgen.kill()
                cls.loadgen.wait(10)
        cls.st.stop()

    @classmethod
    def tearDownClass(cls):
        cls.stop_all()

    @classmethod
    def admin(cls, method, path, body=None):
        st, _, b = http(method, f"http://127.0.0.1:{cls.ctl.port}{path}", body,
                        {"Authorization": f"Bearer {TOKEN}"})
        return st, json.loads(b) if b else None

    @classmethod
    def canary_with_routed_traffic(cls):
        st, x = cls.admin("GET", f"/admin/experiments/{NAME}")
        ev = x.get("last_evaluation") or {}
        return (x["step"] == 1 and ev.get("phase") == "canary"
                and sum(t["n_t"] for t in ev.get("tasks", [])) >= 40)

    @classmethod
    def run_browser(cls):
        cls.shots = os.path.dirname(switchyard_bin())
        argv = [cls.node, os.path.join(node_dir(), "console_browser.mjs"),
                "--url", f"http://127.0.0.1:{cls.ctl.port}/", "--admin-token", TOKEN,
                "--viewer-token", VIEWER, "--experiment", NAME, "--chromium", cls.chromium,
                "--screenshot-dir", cls.shots]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=240)
        if not r.stdout.strip():
            raise AssertionError(f"console_browser.mjs printed nothing (exit {r.returncode}):\n"
                                 f"{r.stderr}")
        res = json.loads(r.stdout.strip().splitlines()[-1])
        res["_exit"], res["_stderr"] = r.returncode, r.stderr
        return res

    def cli(self, *args):
        env = dict(os.environ, SWITCHYARD_ADMIN_URL=f"http://127.0.0.1:{self.ctl.port}",
                   SWITCHYARD_ADMIN_TOKEN=TOKEN)
        return subprocess.run([switchyard_bin(), "experiment", *args], env=env,
                              capture_output=True, text=True, timeout=30)

    def test_1_browser_ran_everything(self):
        self.assertEqual(self.result["_exit"], 0,
                         json.dumps(self.result, indent=1) + self.result["_stderr"])
        with open(os.path.join(node_dir(), "package.json")) as f:
            pinned = json.load(f)["dependencies"]["puppeteer-core"]
        self.assertRegex(pinned, r"^\d+\.\d+\.\d+$", "puppeteer-core must be pinned exactly")
        self.assertEqual(self.result["puppeteer_version"], pinned)
        self.assertIn("Chrome/", self.result["browser_version"])
        self.assertEqual(self.result["page_errors"], [])

    def test_2_without_a_session_only_the_login_form(self):
        self.assertEqual(self.result["first_status"], 401)
        self.assertTrue(self.result["login_form_only"])
        self.assertEqual(self.result["wrong_token_message"], "That token is not valid.")

    def test_3_shows_phase_and_arms_of_the_running_experiment(self):
        v = self.result["admin_view"]
        self.assertEqual((v["name"], v["status"], v["phase"], v["routed"], v["who"]),
                         (NAME, "running", "canary", "40%", "admin"))
        self.assertGreaterEqual(v["timeline_rects"], 2)  # shadow, canary
        self.assertGreaterEqual(v["decisions"], 3)  # apply, start, advance
        self.assertRegex(v["savings"], r"^-?\d+\.\d%$")
        self.assertTrue(v["tasks"], v)
        for task, t in v["tasks"].items():
            with self.subTest(task=task):
                self.assertEqual(t["control"][0], "control")
                self.assertEqual(t["routed"][0], "routed")
                self.assertTrue(any(g.startswith("thumbs_down_rate:") for g in t["guardrails"]), t)
                self.assertTrue(t["srm"].startswith("Sample ratio:"), t)
                self.assertTrue(t["balance"].startswith("Feedback balance:"), t)
        # the routed arms' samples are numbers the admin API gives for the same step
        st, arms = self.admin("GET", f"/admin/experiments/{NAME}/arms")
        shown = {k: int(t["routed"][1].replace(",", "")) for k, t in v["tasks"].items()}
        now = {t["task"]: t["routed"]["n"] for t in arms["tasks"]}
        for k, n in shown.items():
            self.assertLessEqual(n, now[k])  # traffic kept coming after the page read it
        # real numbers, not an empty page: some routed arm had samples when it was read (a
        # task type the classifier rarely picks may still have none at 40 % routed)
        self.assertGreater(sum(shown.values()), 0, shown)
        self.assertEqual(v["overflow"], 0)

    def test_4_cookie_is_httponly_and_strict(self):
        self.assertEqual(self.result["cookie"],
                         {"httpOnly": True, "sameSite": "Strict", "path": "/", "secure": False})
        self.assertEqual(self.result["document_cookie"], "")  # the script cannot read it

    def test_5_pause_clicked_on_the_page_is_what_the_cli_sees(self):
        self.assertTrue(self.result["dialog_needs_reason"])
        self.assertRegex(self.result["notice"],
                         r"^Decision #\d+: pause \(canary → paused\) by console: pause by "
                         r"console: paused from the browser test$")
        self.assertEqual(self.result["status_after_pause"], "paused")
        r = self.cli("status", NAME)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("status      paused (step 1)", r.stdout)
        st, hist = self.admin("GET", f"/admin/experiments/{NAME}/history")
        pauses = [d for d in hist["decisions"] if d["action"] == "pause"]
        self.assertEqual([(d["actor"], d["reason"]) for d in pauses],
                         [("console", "pause by console: paused from the browser test")])

    def test_6_logout_ends_the_session(self):
        self.assertEqual(self.result["after_logout"], 401)

    def test_7_viewer_sees_but_cannot_pause_or_resume(self):
        v = self.result["viewer_view"]
        self.assertEqual((v["name"], v["status"], v["who"]), (NAME, "paused", "viewer (read only)"))
        self.assertTrue(v["tasks"])
        self.assertTrue(self.result["viewer_buttons_disabled"])
        self.assertEqual(self.result["viewer_post"],
                         {"status": 403, "code": "read_only_session", "role": "viewer"})
        r = self.cli("status", NAME)
        self.assertIn("status      paused (step 1)", r.stdout)  # the viewer's resume did nothing

    def test_8_screenshots_in_the_build_folder(self):
        for name in ("console.png", "console-phone.png", "console-viewer.png"):
            with self.subTest(name=name):
                p = os.path.join(self.shots, name)
                with open(p, "rb") as f:
                    self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
                self.assertGreater(os.path.getsize(p), 20000)
        self.assertLessEqual(self.result["phone_overflow_px"], 0)


if __name__ == "__main__":
    unittest.main()
