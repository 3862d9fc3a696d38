"""End to end, with compressed time: the real router, controller, ingest, Redis, PostgreSQL,
the simulator and `switchyard loadgen` sending labelled corpus prompts and simulated
feedback. The four scenarios of the controller issue:

1. every routed model as good as the default: shadow -> canary -> ramp -> full, no rollback;
2. one task type's routed model clearly worse: that task type is held back, the others
   reach full;
3. the routed arm losing users (sample-ratio mismatch): pause;
4. a manual rollback mid-ramp: everyone on the default model at once, and the controller
   does not re-advance.
"""

import json
import os
import subprocess
import threading
import time
import unittest

from harness import Proc, http, source_dir, switchyard_bin, wait_for
from stack import Stack

TOKEN = "admin-token-for-rollout-tests-0000"
API_KEY = "sk-rollout-test"
SECRET = "feedback-secret-rollout"

# Zero latency, the quality profiles of config/sim-models.json made equal where it matters.
TASKS = ("simple", "code", "reasoning", "complex")
QUALITY = {t: {"thumbs_down": 0.05, "rating": 4.5} for t in TASKS}
SIM_MODELS = {m: {"tier": tier, "completion_tokens": {"min": 10, "max": 40}, "quality": QUALITY}
              for m, tier in (("sim-premium", "premium"), ("sim-mid", "standard"),
                              ("sim-small", "economy"), ("sim-reasoner", "reasoning"))}


def definition(name, sim_url):
    with open(os.path.join(source_dir(), "experiments", "task-routing.fast.json")) as f:
        d = json.load(f)
    d["experiment"]["name"] = name
    d["experiment"]["salt"] = name
    d["experiment"]["holdout_pct"] = 10  # the full phase's control arm is the holdout
    d["providers"]["sim"]["base_url"] = sim_url
    d["attribution_window_s"] = 0  # count feedback at once: time is compressed
    d["feedback"]["attribution_window_s"] = 3600
    # the true task type decides the route, so the test does not depend on the model
    d["classifier_rules"] = {"patterns": [{"regex": "^#" + t, "task": t} for t in TASKS]}
    d["phases"] = [
        {"kind": "shadow", "min_duration_s": 2, "min_samples": 10, "min_labels": 0},
        {"kind": "canary", "routed_pct": 30, "min_duration_s": 2, "min_samples": 30},
        {"kind": "ramp", "routed_pct": 60, "min_duration_s": 2, "min_samples": 30},
        {"kind": "full", "min_duration_s": 2, "min_samples": 30},
    ]
    d["guardrails"] = [
        {"metric": "thumbs_down_rate", "margin": 0.15, "alpha": 0.05, "action": "hold_back_task",
         "min_samples": 30},
        {"metric": "error_rate", "margin": 0.1, "alpha": 0.01, "action": "rollback",
         "min_samples": 30},
    ]
    return d


class RolloutTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.st = Stack(sim_models=SIM_MODELS).start()
        cls.prompts = os.path.join(cls.st.tmp, "prompts.jsonl")
        with open(cls.prompts, "w") as f:
            for t in TASKS:
                for i in range(20):
                    f.write(json.dumps({"text": f"#{t} question number {i}", "label": t}) + "\n")
        try:
            env = cls.st.svc.env(SWITCHYARD_ADMIN_TOKEN=TOKEN)
            cls.ctl = cls.st._start(Proc("controller", ["--listen", "127.0.0.1:0",
                                                        "--tick-ms", "500"], env=env))
        except Exception:
            cls.st.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.st.stop()

    def admin(self, method, path, body=None):
        st, _, b = http(method, f"http://127.0.0.1:{self.ctl.port}{path}", body,
                        {"Authorization": f"Bearer {TOKEN}"})
        return st, json.loads(b) if b else None

    def start_experiment(self, name):
        d = definition(name, self.st.sim_url())
        router = self.st.router(d, ["--state-refresh-ms", "300"], name=f"router-{name}",
                                SWITCHYARD_API_KEY=API_KEY, SWITCHYARD_FEEDBACK_SECRET=SECRET,
                                SIM_API_KEY="unused")
        st, body = self.admin("POST", "/admin/experiments", d)
        self.assertEqual(st, 201, body)
        st, body = self.admin("POST", f"/admin/experiments/{name}/start")
        self.assertEqual(st, 200, body)
        return router

    def loadgen(self, router, seconds, *extra):
        args = [switchyard_bin(), "loadgen", "--url", f"http://127.0.0.1:{router.port}",
                "--api-key", API_KEY, "--rate", "250", "--duration", str(seconds),
                "--users", "400", "--mix", "simple=25,code=25,reasoning=25,complex=25",
                "--feedback-rate", "1", "--rating-share", "0", "--feedback-delay-ms", "10-50",
                "--feedback-secret", SECRET, "--sim-url", self.st.sim_url(), "--seed", "7",
                "--prompts", self.prompts,
                *extra]
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def experiment(self, name):
        st, body = self.admin("GET", f"/admin/experiments/{name}")
        self.assertEqual(st, 200)
        return body

    def actions(self, name):
        st, body = self.admin("GET", f"/admin/experiments/{name}/history")
        return [(d["action"], d["task_type"]) for d in reversed(body["decisions"])]

    def test_1_as_good_reaches_full(self):
        r = self.start_experiment("aa")
        lg = self.loadgen(r, 120)
        try:
            wait_for(lambda: self.experiment("aa")["status"] == "completed", 110,
                     what="the A/A experiment to complete")
        finally:
            lg.kill()
            lg.wait()
        acts = [a for a, _ in self.actions("aa")]
        self.assertEqual([a for a in acts if a in ("advance", "complete")],
                         ["advance", "advance", "advance", "complete"])
        self.assertNotIn("rollback", acts)
        self.assertNotIn("hold_back", acts)
        self.assertNotIn("pause", acts)

    def test_2_worse_task_is_held_back(self):
        r = self.start_experiment("worse-code")
        # code is routed to sim-mid (balanced): users hate its code answers
        lg = self.loadgen(r, 150, "--quality-override", "sim-mid:code:thumbs_down=0.7")
        try:
            wait_for(lambda: self.experiment("worse-code")["held_back"] == ["code"], 100,
                     what="code to be held back")
            wait_for(lambda: self.experiment("worse-code")["status"] == "completed", 100,
                     what="the other task types to reach full")
        finally:
            lg.kill()
            lg.wait()
        acts = self.actions("worse-code")
        self.assertIn(("hold_back", "code"), acts)
        self.assertNotIn("rollback", [a for a, _ in acts])
        st, hist = self.admin("GET", "/admin/experiments/worse-code/history")
        hb = [d for d in hist["decisions"] if d["action"] == "hold_back"][0]
        code = [t for t in hb["evidence"]["tasks"] if t["task"] == "code"][0]
        self.assertEqual(code["verdict"], "regress")
        g = code["guardrails"][0]
        self.assertEqual((g["metric"], g["status"]), ("thumbs_down_rate", "regression"))
        self.assertGreater(g["harm_lower"], 0.15)
        # routed code requests are back on the default model: those of the last 2 seconds
        # (code was held back in canary, at least ramp's and full's 2 s each before this),
        # read once ingest has stored some of them (it is asynchronous)
        since = self.st.svc.psql("SELECT now() - interval '2 seconds'")[0][0]
        rows = wait_for(lambda: self.st.svc.psql(
            "SELECT DISTINCT served_model FROM requests WHERE experiment = 'worse-code' AND "
            f"task_type = 'code' AND cohort = 'routed' AND ts > '{since}'"), 30,
            what="the last routed code requests' rows")
        self.assertEqual(rows, [["sim-premium"]])

    def test_3_routed_users_leaving_pauses(self):
        r = self.start_experiment("srm")
        stop = threading.Event()
        left = set()

        def user_loop(i):
            k = 0
            while not stop.is_set():
                u = f"srm-user-{i}-{k % 40}"
                task = TASKS[(k // 40 + i) % 4]  # each user moves through the task types
                k += 1
                if u in left:
                    continue
                # users are the units: a routed user who leaves never shows up in the other
                # task types, so per task type the routed arm has too few users
                st, h, _ = self.st.chat(r, {"messages": [{"role": "user",
                                                          "content": f"#{task} question"}]},
                                        user=u, key=API_KEY)
                if st == 200 and h.get("x-route-cohort") == "routed":
                    left.add(u)  # routed users give up after one answer
                time.sleep(0.005)

        threads = [threading.Thread(target=user_loop, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        try:
            wait_for(lambda: self.experiment("srm")["status"] == "paused", 100,
                     what="the sample-ratio mismatch to pause the experiment")
        finally:
            stop.set()
            for t in threads:
                t.join()
        st, hist = self.admin("GET", "/admin/experiments/srm/history")
        pause = [d for d in hist["decisions"] if d["action"] == "pause"][0]
        self.assertEqual(pause["actor"], "controller")
        srm = [t for t in pause["evidence"]["tasks"] if t["srm"]["mismatch"]]
        self.assertTrue(srm)
        self.assertLess(srm[0]["srm"]["p"], 0.001)

    def test_4_manual_rollback_mid_ramp(self):
        r = self.start_experiment("manual")
        lg = self.loadgen(r, 120)
        try:
            wait_for(lambda: self.experiment("manual")["step"] >= 2, 90, what="the ramp")
            st, body = self.admin("POST", "/admin/experiments/manual/rollback",
                                  {"reason": "on-call says no", "actor": "alice"})
            self.assertEqual((st, body["status"]), (200, "rolled_back"))
            # everyone on the default model at once: once the router has the new state
            # (published before the answer above), every user gets the default model
            wait_for(lambda: self.st.svc.redis("HGET", "sy:{manual}:state", "phase") ==
                     "rolled_back", 2, what="the state in Redis")
            self.st.wait_phase(r, "rolled_back", timeout=10)
            for i in range(40):
                st, h, _ = self.st.chat(r, {"messages": [{"role": "user", "content": "hi"}]},
                                        user=f"after-{i}", key=API_KEY)
                self.assertEqual((st, h["x-route-model"], h["x-route-phase"]),
                                 (200, "sim-premium", "rolled_back"))
            time.sleep(3)  # several ticks with traffic flowing: no re-advance
            x = self.experiment("manual")
            self.assertEqual(x["status"], "rolled_back")
        finally:
            lg.kill()
            lg.wait()
        acts = [(a, d) for a, d in self.actions("manual")]
        self.assertEqual(acts[-1][0], "rollback")
        st, hist = self.admin("GET", "/admin/experiments/manual/history")
        self.assertEqual(hist["decisions"][0]["actor"], "alice")


if __name__ == "__main__":
    unittest.main()
