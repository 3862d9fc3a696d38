"""switchyard loadgen against a real stack (Redis, PostgreSQL, sim, ingest, router).

The prompts are a small labelled file whose texts start with "#<label>", and the router's
classifier rules map that prefix to the task type, so the task type PostgreSQL records is
the prompt's true label. Two simulator models with distinct quality profiles serve: the
control cohort gets the default model (lg-good), the routed cohort lg-cheap, so both models
serve every task type. Each test uses its own API key, i.e. its own project in `requests`,
and a report's run_id prefixes its feedback ids, so tests do not see each other's rows.
Bounds are binomial (4.5 sigma): the run's randomness is seeded, but the router's timing is
not, so exact counts are not pinned.

SY_LOADGEN_BIN=build-asan/switchyard runs only loadgen from that binary (the stack from
SWITCHYARD_BIN).
"""

import json
import math
import os
import shutil
import signal
import subprocess
import tempfile
import unittest

from harness import switchyard_bin, wait_for
from stack import Stack

EXP = "lg-test"
SALT = "lg-salt"
SECRET = "lg-feedback-secret"
TASKS = ("simple", "code", "reasoning", "complex")

QUALITY = {
    "lg-good": {"simple": (0.05, 4.6), "code": (0.06, 4.5), "reasoning": (0.08, 4.4),
                "complex": (0.10, 4.3)},
    "lg-cheap": {"simple": (0.10, 4.2), "code": (0.35, 3.2), "reasoning": (0.45, 2.7),
                 "complex": (0.60, 2.2)},
}


def sim_model(name):
    return {"tier": "x", "completion_tokens": {"min": 8, "max": 32},
            "quality": {t: {"thumbs_down": td, "rating": r}
                        for t, (td, r) in QUALITY[name].items()}}


def router_config():
    def model(name, tier):
        return {"provider": "sim", "upstream": name, "tier": tier,
                "input_usd_per_mtok": 1, "output_usd_per_mtok": 1}
    return {
        "default_model": "lg-good",
        "experiment": {"name": EXP, "salt": SALT, "holdout_pct": 0},
        "providers": {"sim": {"base_url": "SIM", "timeout_ms": 10000}},
        "models": {"lg-good": model("lg-good", "premium"),
                   "lg-cheap": model("lg-cheap", "economy")},
        "routing": {t: {"eco": "lg-cheap", "balanced": "lg-cheap", "sport": "lg-cheap"}
                    for t in TASKS},
        "api_keys": [{"key": "sk-lg-a", "project": "lg-a"}, {"key": "sk-lg-b", "project": "lg-b"},
                     {"key": "sk-lg-c", "project": "lg-c"},
                     {"key": "sk-lg-labels", "project": "lg-labels"}],
        "classifier_rules": {"patterns": [{"regex": "^#" + t, "task": t} for t in TASKS]},
        "classifier_model": "/nonexistent/model",
        "feedback": {"projects": {"lg": {"secret_env": "SY_LG_SECRET"}}},
    }


def within(k, n, p, sigmas=4.5):
    """k successes of n trials is plausible for probability p."""
    return abs(k - n * p) <= sigmas * math.sqrt(n * p * (1 - p)) + 1


def read(path):
    with open(path) as f:
        return f.read()


def loadgen(*args, timeout=180):
    # SY_LOADGEN_BIN runs loadgen from another build (e.g. ASan) against the usual stack
    binary = os.environ.get("SY_LOADGEN_BIN") or switchyard_bin()
    return subprocess.run([binary, "loadgen", *args], capture_output=True, text=True,
                          timeout=timeout, env={k: v for k, v in os.environ.items()
                                                if not k.startswith("SWITCHYARD_")})


class LoadgenTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sy-lg-test-")
        cls.prompts = os.path.join(cls.tmp, "prompts.jsonl")
        with open(cls.prompts, "w") as f:
            for t in TASKS:
                for i in range(25):
                    f.write(json.dumps({"text": f"#{t} question {i}: \"quoted\" \\ text",
                                        "label": t, "source": "test", "licence": "MIT"}) + "\n")
            f.write(json.dumps({"text": "write me a poem", "label": "creative"}) + "\n")
        cls.st = Stack(sim_models={n: sim_model(n) for n in QUALITY}).start()
        try:
            cfg = router_config()
            cfg["providers"]["sim"]["base_url"] = cls.st.sim_url()
            cls.r = cls.st.router(cfg, ["--state-refresh-ms", "200"], SY_LG_SECRET=SECRET)
            wait_for(lambda: any(r.get("msg") == "database connected"
                                 for r in cls.r.log_records()), what="router database")
            # half of the users routed (lg-cheap), the other half control (lg-good)
            cls.st.set_state(EXP, 1, phase="ramp", routed_bp=5000, holdout_bp=0, salt=SALT)
            cls.st.wait_phase(cls.r, "ramp")
        except Exception:
            cls.st.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.st.stop()
        if os.environ.get("SY_KEEP") != "1":
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def url(self):
        return f"http://127.0.0.1:{self.r.port}"

    def run_loadgen(self, key, *extra):
        report_path = os.path.join(self.tmp, key + ".json")
        p = loadgen("--url", self.url(), "--api-key", key, "--prompts", self.prompts,
                    "--feedback-secret", SECRET, "--sim-url", self.st.sim_url(),
                    "--report-json", report_path, *extra)
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        rep = json.loads(p.stdout)
        with open(report_path) as f:
            self.assertEqual(json.load(f), rep)
        progress = [json.loads(line) for line in p.stderr.splitlines()
                    if line.startswith("{") and '"msg":"progress"' in line]
        self.assertTrue(progress, p.stderr[-2000:])
        for rec in progress:
            for k in ("sent", "answered", "status", "cohort", "task", "feedback_sent",
                      "feedback_failed", "p50_ms", "p99_ms"):
                self.assertIn(k, rec)
        return rep, progress

    def wait_rows(self, project, n):
        wait_for(lambda: self.st.count_rows(f"project = '{project}'") >= n, timeout=60,
                 what=f"{n} request rows of {project}")
        return self.st.count_rows(f"project = '{project}'")

    def psql(self, sql):
        return self.st.svc.psql(sql)

    def thumbs_by_cell(self, run_id):
        """(served_model, task_type) -> [thumbs, downs] from PostgreSQL."""
        rows = self.psql(
            "SELECT r.served_model, r.task_type, count(*), "
            "count(*) FILTER (WHERE f.value = 'down') "
            "FROM feedback f JOIN requests r USING (request_id) "
            f"WHERE f.kind = 'thumbs' AND f.feedback_id LIKE 'lg-{run_id}-%' "
            "GROUP BY 1, 2")
        return {(m, t): [int(n), int(d)] for m, t, n, d in rows}

    def test_traffic_mix_and_feedback(self):
        rep, progress = self.run_loadgen(
            "sk-lg-a", "--rate", "150", "--duration", "4", "--users", "300", "--seed", "7",
            "--feedback-rate", "0.6", "--feedback-delay-ms", "0-300", "--rating-share", "0.5",
            "--stream-share", "0.2", "--mode", "eco")
        req, fb = rep["requests"], rep["feedback"]
        n = req["sent"]
        self.assertGreater(n, 300)
        self.assertEqual(req["answered"], n, rep)
        self.assertEqual(req["scheduled"], n + req["skipped"])
        self.assertEqual((req["transport_errors"], req["start_failed"]), (0, 0))
        self.assertEqual(req["by_status"], {"200": n})
        self.assertEqual(set(req["by_model"]), {"lg-good", "lg-cheap"})
        self.assertEqual(set(req["by_cohort"]), {"control", "routed"})
        self.assertEqual(progress[-1]["answered"], n)

        # every answer is a row (ingest is asynchronous: wait, then require equality)
        self.assertEqual(self.wait_rows("lg-a", n), n)
        # the mix: 50/20/20/10 within a binomial bound; the rule classifier recorded the
        # true labels, so PostgreSQL's task types equal what loadgen sent per label
        mix = {"simple": .5, "code": .2, "reasoning": .2, "complex": .1}
        for t, p in mix.items():
            self.assertTrue(within(req["by_label"][t], n, p), (t, req["by_label"], n))
        db = dict(self.psql("SELECT task_type, count(*) FROM requests WHERE project = 'lg-a' "
                            "GROUP BY 1"))
        self.assertEqual({t: int(c) for t, c in db.items()},
                         {t: c for t, c in req["by_label"].items() if c})
        self.assertEqual(req["by_route_task"], {t: c for t, c in req["by_label"].items() if c})
        streams = int(self.psql("SELECT count(*) FROM requests WHERE project = 'lg-a' AND stream")
                      [0][0])
        self.assertTrue(within(streams, n, 0.2), (streams, n))
        modes = self.psql("SELECT DISTINCT mode FROM requests WHERE project = 'lg-a'")
        self.assertEqual(modes, [["eco"]])

        # feedback: everything queued was acknowledged and stored, nothing failed
        self.assertEqual(fb["failed"], 0, fb)
        self.assertEqual(fb["sent"], fb["items"])
        self.assertEqual(fb["items"], fb["thumbs"] + fb["ratings"])
        self.assertEqual(fb["thumbs"], fb["requests"])
        self.assertTrue(within(fb["requests"], n, 0.6), (fb["requests"], n))
        self.assertEqual(fb["unmapped_models"], {})
        rid = rep["run_id"]
        stored = int(self.psql(f"SELECT count(*) FROM feedback WHERE feedback_id LIKE "
                               f"'lg-{rid}-%'")[0][0])
        self.assertEqual(stored, fb["sent"])
        ratings = int(self.psql(f"SELECT count(*) FROM feedback WHERE kind = 'rating' AND "
                                f"feedback_id LIKE 'lg-{rid}-%'")[0][0])
        self.assertEqual(ratings, fb["ratings"])
        # every feedback item names a request of this run with a user
        orphans = int(self.psql(
            f"SELECT count(*) FROM feedback f WHERE f.feedback_id LIKE 'lg-{rid}-%' AND "
            f"(f.user_hash IS NULL OR NOT EXISTS (SELECT 1 FROM requests r WHERE "
            f"r.request_id = f.request_id AND r.project = 'lg-a'))")[0][0])
        self.assertEqual(orphans, 0)

        # thumbs-down per served model and true task type follow the simulator's profile
        cells = self.thumbs_by_cell(rid)
        self.assertEqual(len(cells), 8, cells)
        for (model, task), (k, d) in cells.items():
            p = QUALITY[model][task][0]
            self.assertTrue(within(d, k, p), (model, task, d, k, p))
            r = rep["feedback"]["by_model"][model][task]
            self.assertEqual((r["thumbs"], r["thumbs_down"]), (k, d))
            self.assertAlmostEqual(r["expected_thumbs_down"], p)
        # pooled over tasks the cheap model is worse: the difference of the two models'
        # thumbs-down rates is within 4.5 standard errors of its expectation (from these
        # cells' counts and the profile, about 0.2 +- 0.04); a flat profile would give 0
        pooled = {}
        for name in QUALITY:
            mine = [(k, d, QUALITY[m][t][0]) for (m, t), (k, d) in cells.items() if m == name]
            k = sum(c[0] for c in mine)
            pooled[name] = (k, sum(c[1] for c in mine) / k, sum(c[0] * c[2] for c in mine) / k)
        (kc, oc, ec), (kg, og, eg) = pooled["lg-cheap"], pooled["lg-good"]
        se = math.sqrt(ec * (1 - ec) / kc + eg * (1 - eg) / kg)
        self.assertLessEqual(abs((oc - og) - (ec - eg)), 4.5 * se, pooled)
        # ratings: two-point around the profile's mean (variance at most 1/4)
        rows = self.psql(
            "SELECT r.served_model, r.task_type, count(*), avg(f.rating) FROM feedback f "
            f"JOIN requests r USING (request_id) WHERE f.kind = 'rating' AND f.feedback_id "
            f"LIKE 'lg-{rid}-%' GROUP BY 1, 2")
        for model, task, k, mean in rows:
            want = QUALITY[model][task][1]
            self.assertLessEqual(abs(float(mean) - want), 4.5 * 0.5 / math.sqrt(int(k)) + 0.01,
                                 (model, task, mean, k))

    def test_quality_override(self):
        rep, _ = self.run_loadgen(
            "sk-lg-b", "--rate", "100", "--duration", "2", "--users", "300", "--seed", "8",
            "--feedback-rate", "1", "--feedback-delay-ms", "0", "--rating-share", "0",
            "--mix", "simple=1", "--quality-override", "lg-good:simple:thumbs_down=0.8",
            "--quality-override", "lg-cheap:*:thumbs_down=0,rating=1")
        fb = rep["feedback"]
        self.assertEqual(fb["failed"], 0, fb)
        self.assertEqual(fb["ratings"], 0)
        self.assertEqual(rep["requests"]["by_label"],
                         {"simple": rep["requests"]["sent"], "code": 0, "reasoning": 0,
                          "complex": 0})
        self.assertEqual(fb["by_model"]["lg-good"]["simple"]["expected_thumbs_down"], 0.8)
        self.assertEqual(fb["by_model"]["lg-cheap"]["simple"]["expected_thumbs_down"], 0)
        self.assertEqual(fb["by_model"]["lg-cheap"]["simple"]["expected_rating"], 1)
        wait_for(lambda: int(self.psql(f"SELECT count(*) FROM feedback WHERE feedback_id LIKE "
                                       f"'lg-{rep['run_id']}-%'")[0][0]) == fb["sent"],
                 what="feedback rows")
        self.wait_rows("lg-b", rep["requests"]["answered"])
        cells = self.thumbs_by_cell(rep["run_id"])
        k, d = cells[("lg-good", "simple")]
        self.assertGreater(k, 20)
        self.assertTrue(within(d, k, 0.8), (d, k))
        self.assertEqual(cells[("lg-cheap", "simple")][1], 0)

    def test_human_labels_are_the_corpus_labels(self):
        rep, _ = self.run_loadgen("sk-lg-labels", "--rate", "80", "--duration", "2", "--seed", "11",
                                  "--feedback-rate", "0", "--label-rate", "1")
        labels = rep["labels"]
        self.assertEqual(labels["failed"], 0)
        self.assertGreater(labels["sent"], 50)
        self.assertEqual(labels["sent"], labels["queued"])
        # the test's prompts carry their task type as a prefix the router's rules follow,
        # so the stored request's task type must equal the labeller's
        wait_for(lambda: int(self.psql("SELECT count(*) FROM labels WHERE labeller = 'loadgen' "
                                       "AND request_id IN (SELECT request_id FROM requests)")[0][0])
                 >= labels["sent"], 60, what="the labelled requests' rows")
        rows = self.psql("SELECT count(*), count(*) FILTER (WHERE l.task_type = r.task_type) "
                         "FROM labels l JOIN requests r USING (request_id) "
                         "WHERE l.labeller = 'loadgen'")
        self.assertEqual(int(rows[0][0]), labels["sent"])
        self.assertEqual(rows[0][0], rows[0][1])
        p = loadgen("--url", self.url(), "--api-key", "sk-lg-labels", "--prompts", self.prompts,
                    "--feedback-rate", "0", "--label-rate", "0.5")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--label-rate 0.5 needs --feedback-secret", p.stderr)

    def test_refused_feedback_is_counted(self):
        p = loadgen("--url", self.url(), "--api-key", "sk-lg-c", "--prompts", self.prompts,
                    "--feedback-secret", "not-the-secret", "--sim-url", self.st.sim_url(),
                    "--rate", "50", "--duration", "1", "--feedback-rate", "1",
                    "--feedback-delay-ms", "0-50")
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        fb = json.loads(p.stdout)["feedback"]
        self.assertGreater(fb["items"], 0)
        self.assertEqual((fb["sent"], fb["failed"]), (0, fb["items"]))
        self.assertIn("signature_mismatch", p.stderr)

    def test_unknown_served_model_gets_default_quality(self):
        # the simulator is not asked: every model is unmapped and counted as such
        p = loadgen("--url", self.url(), "--api-key", "sk-lg-c", "--prompts", self.prompts,
                    "--feedback-secret", SECRET, "--requests", "30", "--rate", "100",
                    "--feedback-rate", "1", "--feedback-delay-ms", "0", "--rating-share", "0")
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        rep = json.loads(p.stdout)
        fb = rep["feedback"]
        self.assertEqual(rep["requests"]["scheduled"], 30)
        self.assertEqual(sum(fb["unmapped_models"].values()), fb["thumbs"])
        self.assertEqual(fb["sent"], fb["items"])
        for m in fb["by_model"].values():
            self.assertFalse(m["quality_known"])
            for t in TASKS:
                if t in m:
                    self.assertEqual(m[t]["expected_thumbs_down"], 0.1)

    def test_feedback_survives_postgresql_restart(self):
        # feedback answered 503 + Retry-After while PostgreSQL is away is retried, not lost.
        # Traffic goes on until the retry has been seen (SIGINT then drains): a fixed short
        # run could end before a slow PostgreSQL shutdown had taken effect.
        report_path = os.path.join(self.tmp, "restart.json")
        binary = os.environ.get("SY_LOADGEN_BIN") or switchyard_bin()
        with open(os.path.join(self.tmp, "restart.err"), "w+") as err:
            p = subprocess.Popen(
                [binary, "loadgen", "--url", self.url(), "--api-key", "sk-lg-c", "--prompts",
                 self.prompts, "--feedback-secret", SECRET, "--sim-url", self.st.sim_url(),
                 "--rate", "40", "--duration", "600", "--feedback-rate", "1",
                 "--feedback-delay-ms", "0-100", "--report-json", report_path],
                stdout=subprocess.DEVNULL, stderr=err, text=True)
            try:
                wait_for(lambda: '"msg":"progress"' in read(err.name), timeout=30,
                         what="loadgen progress")
                self.st.svc.stop_pg()
                wait_for(lambda: p.poll() is not None or "feedback batch retry" in read(err.name),
                         timeout=60, what="a feedback retry")
                self.st.svc.start_pg()
                p.send_signal(signal.SIGINT)
                self.assertEqual(p.wait(timeout=180), 0)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            err.seek(0)
            log = err.read()
        with open(report_path) as f:
            fb = json.load(f)["feedback"]
        self.assertIn("feedback batch retry", log)
        self.assertGreater(fb["retries"], 0, fb)
        self.assertEqual(fb["failed"], 0, fb)
        self.assertEqual(fb["sent"], fb["items"])

    def test_sigint_drains_and_reports(self):
        binary = os.environ.get("SY_LOADGEN_BIN") or switchyard_bin()
        with open(os.path.join(self.tmp, "sigint.err"), "w+") as err:
            p = subprocess.Popen(
                [binary, "loadgen", "--url", self.url(), "--api-key", "sk-lg-c", "--prompts",
                 self.prompts, "--feedback-rate", "0", "--rate", "30", "--duration", "600"],
                stdout=subprocess.PIPE, stderr=err, text=True)
            try:
                wait_for(lambda: '"msg":"progress"' in read(err.name), timeout=30,
                         what="loadgen progress")
                p.send_signal(signal.SIGINT)
                out, _ = p.communicate(timeout=60)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        self.assertEqual(p.returncode, 0)
        req = json.loads(out)["requests"]
        self.assertGreater(req["sent"], 0)
        self.assertEqual(req["answered"], req["sent"])

    def test_same_seed_same_traffic(self):
        # nothing listens on port 9: every request fails fast, the offered traffic is the same
        def run(seed):
            p = loadgen("--url", "http://127.0.0.1:9", "--api-key", "k", "--feedback-rate", "0",
                        "--prompts", self.prompts, "--rate", "400", "--duration", "1",
                        "--concurrency", "100000", "--seed", str(seed))
            self.assertEqual(p.returncode, 0, p.stderr[-2000:])
            req = json.loads(p.stdout)["requests"]
            self.assertEqual(req["transport_errors"], req["sent"])
            return req["scheduled"], req["by_label"]
        self.assertEqual(run(5), run(5))
        self.assertNotEqual(run(5), run(6))

    def test_help_and_usage_errors(self):
        p = loadgen("--help")
        self.assertEqual(p.returncode, 0)
        self.assertIn("usage: switchyard loadgen", p.stdout)
        base = ["--url", "http://127.0.0.1:9", "--api-key", "k", "--feedback-rate", "0"]
        cases = [
            (["--bogus"], "unknown option '--bogus' (see --help)"),
            (["--rate"], "option '--rate' needs a value"),
            (base + ["--rate", "0"],
             "--rate: expected requests per second above 0 and at most 1000000 (got \"0\")"),
            (base + ["--rate=abc"],
             "--rate: expected requests per second above 0 and at most 1000000 (got \"abc\")"),
            (base + ["--duration", "1", "--requests", "5"],
             "--duration and --requests exclude each other"),
            (base + ["--requests", "0"],
             "--requests: expected an integer of 1 or more (got \"0\")"),
            (base + ["--users", "0"],
             "--users: expected an integer from 1 to 10000000 (got \"0\")"),
            (base + ["--mix", "simple=1,poetry=2"],
             "--mix: unknown task type \"poetry\" (use simple, code, reasoning, complex)"),
            (base + ["--mix", "simple=0"], "--mix: the weights must not all be 0"),
            (base + ["--mix", "simple=1,simple=2"], "--mix: task type \"simple\" given twice"),
            (base + ["--feedback-rate", "1.5"],
             "--feedback-rate: expected a share from 0 to 1 (got \"1.5\")"),
            (base + ["--feedback-delay-ms", "500-100"],
             "--feedback-delay-ms: expected MIN-MAX milliseconds with 0 <= MIN <= MAX <= "
             "3600000 (got \"500-100\")"),
            (base + ["--mode", "turbo"], "--mode: expected eco, balanced or sport (got \"turbo\")"),
            (base + ["--stream-share", "-1"],
             "--stream-share: expected a share from 0 to 1 (got \"-1\")"),
            (base + ["--quality-override", "m:code:thumbs_down=2"],
             "--quality-override: thumbs_down: expected a probability from 0 to 1 (got \"2\")"),
            (base + ["--quality-override", "m:poetry:thumbs_down=0.2"],
             "--quality-override: unknown task type \"poetry\" (use simple, code, reasoning, "
             "complex or *)"),
            (base + ["--quality-override", "m:code:latency=3"],
             "--quality-override: unknown key \"latency\" (use thumbs_down or rating)"),
            (["--api-key", "k"], "--url (or SWITCHYARD_URL) is required"),
            (["--url", "ftp://x", "--api-key", "k"],
             "--url: expected an http:// or https:// URL (got \"ftp://x\")"),
            (["--url", "http://x"], "--api-key (or SWITCHYARD_API_KEY) is required"),
            (["--url", "http://x", "--api-key", "k", "--feedback-rate", "0.1"],
             "--feedback-rate 0.1 needs --feedback-secret (or SWITCHYARD_FEEDBACK_SECRET); "
             "--feedback-rate 0 sends no feedback"),
            (base + ["--prompts", "/nonexistent/p.jsonl"],
             "--prompts: /nonexistent/p.jsonl: No such file or directory"),
            (base + ["extra"], "unexpected argument 'extra' (see --help)"),
        ]
        for args, msg in cases:
            with self.subTest(args=args):
                p = loadgen(*args)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertEqual(p.stderr, f"switchyard loadgen: {msg}\n")
                self.assertEqual(p.stdout, "")

    def test_bad_prompt_files(self):
        bad = os.path.join(self.tmp, "bad.jsonl")
        with open(bad, "w") as f:
            f.write(json.dumps({"text": "#simple hi", "label": "simple"}) + "\n")
            f.write("{not json\n")
        p = loadgen("--url", "http://127.0.0.1:9", "--api-key", "k", "--feedback-rate", "0",
                    "--prompts", bad)
        self.assertEqual(p.returncode, 2)
        self.assertEqual(p.stderr, f"switchyard loadgen: --prompts: {bad}:2: expected a JSON "
                                   "object with string fields text and label\n")
        only_simple = os.path.join(self.tmp, "simple.jsonl")
        with open(only_simple, "w") as f:
            f.write(json.dumps({"text": "#simple hi", "label": "simple"}) + "\n")
        p = loadgen("--url", "http://127.0.0.1:9", "--api-key", "k", "--feedback-rate", "0",
                    "--prompts", only_simple)
        self.assertEqual(p.returncode, 2)
        self.assertEqual(p.stderr, f"switchyard loadgen: --mix: {only_simple} has no prompts "
                                   "labelled code (the mix gives it weight 20)\n")


if __name__ == "__main__":
    unittest.main()
