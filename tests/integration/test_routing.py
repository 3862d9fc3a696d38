"""The gateway: cohorts by phase from the live experiment state, the routing table, modes,
model overrides, failover, the circuit breaker, racing, streaming disconnects, reload,
limits and workers -- against real Redis, PostgreSQL and the simulator.
"""

import json
import os
import signal
import socket
import time
import unittest

from harness import http, wait_for
from stack import KEY, Stack, bucket, is_routed, user_hash

EXP = "exp-r"
SALT = "salt-r"

SIM_MODELS = {
    "instant": {"tier": "x", "completion_tokens": {"min": 10, "max": 30}},
    "fail": {"error_rate": 1, "errors": {"500": 1}},
    "slow": {"latency_ms": {"median": 1500, "p95": 1600, "max": 2000},
             "completion_tokens": {"min": 10, "max": 30}},
    "drip": {"tokens_per_second": 20, "tokens_per_chunk": 1,
             "completion_tokens": {"min": 400, "max": 400}},
}

RULES = {"code_fence": True,
         "patterns": [{"regex": "^#code", "task": "code"},
                      {"regex": "^#reasoning", "task": "reasoning"},
                      {"regex": "^#complex", "task": "complex"},
                      {"regex": "^#simple", "task": "simple"}]}


def model(provider, upstream, tier, pin, pout):
    return {"provider": provider, "upstream": upstream, "tier": tier,
            "input_usd_per_mtok": pin, "output_usd_per_mtok": pout}


def config(sim_url, **over):
    cfg = {
        "default_model": "big",
        "experiment": {"name": EXP, "salt": SALT, "holdout_pct": 5},
        "providers": {"a": {"base_url": sim_url, "timeout_ms": 10000},
                      "b": {"base_url": sim_url, "timeout_ms": 10000}},
        "models": {
            "big": model("a", "instant", "premium", 2.5, 10.0),
            "big-b": model("b", "instant", "premium", 2.5, 10.0),
            "mid": model("a", "instant", "standard", 0.4, 1.6),
            "small": model("a", "instant", "economy", 0.1, 0.4),
            "think": model("a", "instant", "reasoning", 1.1, 4.4),
        },
        "routing": {
            "simple": {"eco": "small", "balanced": "small", "sport": "mid"},
            "code": {"eco": "mid", "balanced": "mid", "sport": "big"},
            "reasoning": {"eco": "mid", "balanced": "think", "sport": "think"},
            "complex": {"eco": "mid", "balanced": "big", "sport": "big"},
        },
        "api_keys": [{"key": KEY, "project": "p", "allow_model_prefer": True},
                     {"key": "sk-plain", "project": "q"}],
        "classifier_rules": RULES,
        "classifier_model": "/nonexistent/model",
    }
    cfg.update(over)
    return cfg


def body(text, **extra):
    b = {"model": "auto", "messages": [{"role": "user", "content": text}]}
    b.update(extra)
    return b


def users(n, pred):
    out = []
    i = 0
    while len(out) < n:
        u = f"user-{i}"
        if pred(bucket(u, SALT)):
            out.append(u)
        i += 1
    return out


class PhaseTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.st = Stack(sim_models=SIM_MODELS).start()
        try:
            cls.r = cls.st.router(config(cls.st.sim_url()), ["--state-refresh-ms", "200"])
        except Exception:
            cls.st.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.st.stop()

    version = 1

    def set_state(self, **fields):
        PhaseTest.version += 1
        fields.setdefault("salt", SALT)
        fields.setdefault("holdout_bp", 500)
        self.st.set_state(EXP, PhaseTest.version, **fields)
        self.st.wait_phase(self.r, fields["phase"])
        # a second field change (same phase) must be applied too: wait for the version
        # (the router logs every new version it applies)
        version = str(PhaseTest.version)
        wait_for(lambda: any(r.get("msg") == "experiment state applied" and
                             str(r.get("version")) == version for r in self.r.log_records()),
                 10, what=f"router to apply state version {version}")

    def ask(self, user, text="#simple what is 2+2?", **headers):
        st, h, b = self.st.chat(self.r, body(text), user=user, **headers)
        self.assertEqual(st, 200, b)
        return h

    def test_off_everyone_default(self):
        self.set_state(phase="off")
        for u in users(3, lambda b: b >= 500):
            h = self.ask(u)
            self.assertEqual((h["x-route-cohort"], h["x-route-model"], h["x-route-phase"]),
                             ("control", "big", "off"))
            self.assertEqual(h["x-route-task"], "simple")  # classified for every cohort

    def test_shadow_logs_would_have(self):
        self.set_state(phase="shadow")
        u = users(1, lambda b: b >= 500)[0]
        h = self.ask(u, "#code fix my loop")
        self.assertEqual((h["x-route-cohort"], h["x-route-model"], h["x-route-task"]),
                         ("shadow", "big", "code"))
        row = self.st.row(h["x-request-id"])
        self.assertEqual((row["served_model"], row["would_have_model"], row["task_type"]),
                         ("big", "mid", "code"))
        self.assertEqual(row["phase"], "shadow")
        held = users(1, lambda b: b < 500)[0]
        h = self.ask(held, "#code fix my loop")
        self.assertEqual((h["x-route-cohort"], h["x-route-model"]), ("holdout", "big"))
        self.assertEqual(self.st.row(h["x-request-id"])["would_have_model"], "")

    def test_canary_and_ramp_are_monotone(self):
        sample = users(200, lambda b: b >= 500)
        routed_at = {}
        for share in (1000, 5000):
            self.set_state(phase="canary" if share == 1000 else "ramp", routed_bp=share)
            routed_at[share] = set()
            for u in sample:
                want = is_routed(bucket(u, SALT), 500, share)
                h = self.ask(u)
                self.assertEqual(h["x-route-cohort"], "routed" if want else "control", u)
                self.assertEqual(h["x-route-model"], "small" if want else "big")
                if want:
                    routed_at[share].add(u)
        self.assertTrue(routed_at[1000])
        self.assertTrue(routed_at[1000] < routed_at[5000])  # raising the share only adds

    def test_full_holdout_and_modes(self):
        self.set_state(phase="full", routed_bp=10000)
        u = users(1, lambda b: b >= 500)[0]
        expect = {("#simple", "eco"): "small", ("#simple", "sport"): "mid",
                  ("#reasoning", "balanced"): "think", ("#complex", "balanced"): "big",
                  ("#code", "eco"): "mid", ("```\nx=1\n```", "balanced"): "mid"}
        for (text, mode), m in expect.items():
            h = self.ask(u, text + " please", X_Route_Mode=mode)
            self.assertEqual((h["x-route-cohort"], h["x-route-model"]), ("routed", m),
                             (text, mode))
        h = self.ask(users(1, lambda b: b < 500)[0])
        self.assertEqual((h["x-route-cohort"], h["x-route-model"]), ("holdout", "big"))
        st, _, b = self.st.chat(self.r, body("#simple hi"), user=u, X_Route_Mode="turbo")
        self.assertEqual(st, 400)
        self.assertEqual(json.loads(b)["error"], {
            "message": 'unknown X-Route-Mode "turbo": use eco, balanced or sport',
            "type": "invalid_request_error", "param": None, "code": "invalid_route_mode"})
        # unclassifiable text fails open to the default model
        h = self.ask(u, "no tag here at all")
        self.assertEqual((h["x-route-model"], h["x-route-task"]), ("big", "none"))
        self.assertIn("switchyard_classifier_failopen_total", self.st.metrics(self.r))

    def test_tool_bearing_request_is_not_simple(self):
        self.set_state(phase="full", routed_bp=10000)
        u = users(1, lambda b: b >= 500)[0]
        tools = [{"type": "function", "function": {"name": "get_weather",
                                                   "parameters": {"type": "object"}}}]
        for extra, task, m in (({"tools": tools}, "complex", "big"),
                               ({"tools": tools, "tool_choice": "none"}, "simple", "small")):
            st, h, b = self.st.chat(self.r, body("#simple what is the weather?", **extra), user=u)
            self.assertEqual(st, 200, b)
            self.assertEqual((h["x-route-task"], h["x-route-model"]), (task, m), extra)
        # a rule's task is the rule's: tools do not change a code prompt
        st, h, b = self.st.chat(self.r, body("#code fix it", tools=tools), user=u)
        self.assertEqual((h["x-route-task"], h["x-route-model"]), ("code", "mid"))

    def test_held_back_task_goes_default(self):
        self.set_state(phase="full", routed_bp=10000, held_back="code,complex")
        u = users(1, lambda b: b >= 500)[0]
        h = self.ask(u, "#code fix it")
        self.assertEqual((h["x-route-cohort"], h["x-route-model"]), ("routed", "big"))
        h = self.ask(u, "#simple hi")
        self.assertEqual(h["x-route-model"], "small")

    def test_paused_and_rolled_back(self):
        for phase in ("paused", "rolled_back"):
            self.set_state(phase=phase, routed_bp=10000)
            for u in users(5, lambda b: b >= 500):
                h = self.ask(u)
                self.assertEqual((h["x-route-model"], h["x-route-phase"]), ("big", phase))
                self.assertNotEqual(h["x-route-cohort"], "routed")

    def test_forced_cohorts(self):
        self.set_state(phase="canary", routed_bp=0)
        u = users(1, lambda b: b >= 500)[0]
        held = users(1, lambda b: b < 500)[0]
        fkey = f"sy:{{{EXP}}}:forced"
        self.st.svc.redis("HSET", fkey, user_hash(u), "routed", user_hash(held), "control")
        try:
            self.set_state(phase="canary", routed_bp=0)
            # the forced cohorts are read by their own command after the state's
            wait_for(lambda: any(r.get("msg") == "forced cohorts loaded" and r.get("users") == 2
                                 for r in self.r.log_records()), 10, what="forced cohorts")
            h = self.ask(u)
            self.assertEqual((h["x-route-cohort"], h["x-route-model"]), ("routed", "small"))
            h = self.ask(held)
            self.assertEqual(h["x-route-cohort"], "control")
        finally:
            self.st.svc.redis("DEL", fkey)

    def test_bad_state_is_refused_and_last_kept(self):
        self.set_state(phase="full", routed_bp=10000)
        self.st.svc.redis("HSET", f"sy:{{{EXP}}}:state", "phase", "warp")
        self.st.svc.redis("PUBLISH", f"sy:{{{EXP}}}:state", "x")
        wait_for(lambda: any(r.get("msg") == "experiment state refused, keeping the last one"
                             for r in self.r.log_records()), 5, what="refusal log")
        u = users(1, lambda b: b >= 500)[0]
        self.assertEqual(self.ask(u)["x-route-cohort"], "routed")

    def test_model_prefer(self):
        self.set_state(phase="off")
        h = self.ask("u-prefer", X_Model_Prefer="think")
        self.assertEqual(h["x-route-model"], "think")
        st, _, b = self.st.chat(self.r, body("#simple x"), user="u", key="sk-plain",
                                X_Model_Prefer="think")
        self.assertEqual(st, 403)
        self.assertEqual(json.loads(b)["error"], {
            "message": "this API key may not choose the model (X-Model-Prefer)",
            "type": "permission_error", "param": None, "code": "model_prefer_not_allowed"})
        st, _, b = self.st.chat(self.r, body("#simple x"), user="u", X_Model_Prefer="gpt-9")
        self.assertEqual(st, 400)
        self.assertEqual(json.loads(b)["error"]["message"],
                         'X-Model-Prefer names unknown model "gpt-9" (see GET /v1/models)')

    def test_exposures_counted_per_phase(self):
        self.set_state(phase="shadow")
        field = "shadow:0:simple:shadow"  # phase : routed share : task type : cohort
        before = int(self.st.svc.redis("HGET", f"sy:{{{EXP}}}:exposures", field) or 0)
        new = users(3, lambda b: b >= 500 and b % 7 == 3)
        for u in new:
            self.ask(u + "-exp")
        for u in new:  # again: a user counts once per phase
            self.ask(u + "-exp")
        after = int(self.st.svc.redis("HGET", f"sy:{{{EXP}}}:exposures", field))
        eligible = sum(1 for u in new if bucket(u + "-exp", SALT) >= 500)
        self.assertEqual(after - before, eligible)


class DispatchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.st = Stack(sim_models=SIM_MODELS).start()

    @classmethod
    def tearDownClass(cls):
        cls.st.stop()

    def router(self, models, default, routing=None, dispatch=None, args=()):
        cfg = config(self.st.sim_url(), models=models, default_model=default,
                     routing=routing or {}, dispatch=dispatch or {})
        return self.st.router(cfg, args)

    def test_failover_to_same_tier_other_provider(self):
        r = self.router({"flaky": model("a", "fail", "premium", 2.5, 10.0),
                         "cheapish": model("b", "instant", "economy", 0.1, 0.4),
                         "steady": model("b", "instant", "premium", 3.0, 12.0)}, "flaky")
        st, h, b = self.st.chat(r, body("hello"), user="u1")
        self.assertEqual(st, 200, b)
        self.assertEqual(h["x-route-model"], "steady")
        row = self.st.row(h["x-request-id"])
        # three tries at a (the first and its two retries), then b
        self.assertEqual((row["attempts"], row["served_model"], row["provider"], row["fallback"]),
                         ("4", "steady", "b", "tier"))
        resp = json.loads(b)
        want = (resp["usage"]["prompt_tokens"] * 3.0 + resp["usage"]["completion_tokens"] * 12.0) / 1e6
        self.assertAlmostEqual(float(row["cost_usd"]), want, places=9)
        m = self.st.metrics(r)
        self.assertIn("switchyard_failovers_total 1", m)
        self.assertIn("switchyard_retries_total 2", m)

    def test_nothing_left_is_502_with_attempts(self):
        r = self.router({"f1": model("a", "fail", "premium", 2.5, 10.0),
                         "f2": model("b", "fail", "premium", 2.5, 10.0)}, "f1")
        st, h, b = self.st.chat(r, body("hello"), user="u1")
        self.assertEqual(st, 502)
        self.assertEqual(json.loads(b)["error"], {
            "message": "provider b answered HTTP 500 for model f2 (after 6 attempts: "
                       "f1@a 3x HTTP 500, f2@b 3x HTTP 500)",
            "type": "api_error", "param": None, "code": "upstream_error"})

    def test_circuit_breaker_opens_and_recovers(self):
        r = self.router({"flaky": model("a", "fail", "premium", 2.5, 10.0),
                         "steady": model("b", "instant", "premium", 2.5, 10.0)}, "flaky",
                        dispatch={"breaker_failures": 2, "breaker_cooldown_ms": 1500})
        # requests back to back, rows looked up afterwards: waiting for ingest in between
        # could let the 1.5 s cooldown pass before the third and fourth requests
        def ask_all(users):
            ids = []
            for u in users:
                st, h, _ = self.st.chat(r, body("hello"), user=u)
                self.assertEqual((st, h["x-route-model"]), (200, "steady"))
                ids.append(h["x-request-id"])
            return [int(self.st.row(i)["attempts"]) for i in ids]
        # the first request's first try and its retry open a's circuit: it moves on to b
        self.assertEqual(ask_all([f"u{i}" for i in range(4)]), [3, 1, 1, 1])
        self.assertIn('switchyard_circuit_state{provider="a"} 1', self.st.metrics(r))
        time.sleep(1.7)  # half-open: one probe goes to a again, fails, opens again
        self.assertEqual(ask_all(["u9", "u10"]), [2, 1])

    def test_every_circuit_open_is_502_without_an_attempt(self):
        r = self.router({"f1": model("a", "fail", "premium", 2.5, 10.0)}, "f1",
                        dispatch={"breaker_failures": 1, "breaker_cooldown_ms": 600000})
        st, h, b = self.st.chat(r, body("hello"), user="u1")
        self.assertEqual((st, json.loads(b)["error"]["code"]), (502, "upstream_error"))
        st, h, b = self.st.chat(r, body("hello"), user="u2")
        self.assertEqual(st, 502)
        self.assertEqual(json.loads(b)["error"], {
            "message": "no provider available for model f1: circuit open for provider a",
            "type": "api_error", "param": None, "code": "no_provider_available"})
        self.assertEqual(self.st.row(h["x-request-id"])["attempts"], "0")

    def test_sport_race_first_answer_wins(self):
        r = self.router({"big": model("a", "instant", "premium", 2.5, 10.0),
                         "tortoise": model("a", "slow", "premium", 2.0, 8.0),
                         "hare": model("b", "instant", "premium", 3.0, 12.0)}, "big",
                        routing={"simple": {"sport": "tortoise"}},
                        dispatch={"race_sport": True})
        self.st.set_state(EXP, 100, phase="full", routed_bp=10000, holdout_bp=0, salt=SALT)
        self.st.wait_phase(r, "full")
        st, h, b = self.st.chat(r, body("#simple quick"), user="racer", X_Route_Mode="sport")
        self.assertEqual((st, h["x-route-model"]), (200, "hare"), b)
        row = self.st.row(h["x-request-id"])
        usage = json.loads(b)["usage"]
        want = (usage["prompt_tokens"] * 3.0 + usage["completion_tokens"] * 12.0
                + usage["prompt_tokens"] * 2.0) / 1e6  # the loser's prompt is paid too
        self.assertAlmostEqual(float(row["cost_usd"]), want, places=9)
        self.assertEqual(row["attempts"], "2")
        self.assertIn("switchyard_races_total 1", self.st.metrics(r))

    def test_stream_client_disconnect_cancels_upstream(self):
        r = self.router({"drip": model("a", "drip", "premium", 2.5, 10.0)}, "drip")
        s = socket.create_connection(("127.0.0.1", r.port), timeout=5)
        payload = json.dumps(body("tell me a long story", stream=True)).encode()
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                  + KEY.encode() + b"\r\nContent-Type: application/json\r\nContent-Length: "
                  + str(len(payload)).encode() + b"\r\n\r\n" + payload)
        first = s.recv(65536)
        self.assertIn(b"200 OK", first)
        rid = [l.split(b": ")[1].decode() for l in first.split(b"\r\n")
               if l.lower().startswith(b"x-request-id")][0]
        s.close()
        row = self.st.row(rid)
        self.assertEqual((row["status"], row["error"]), ("499", "client_closed_request"))
        # the simulator saw its client (the router) go away long before the 20 s answer ended
        def sim_saw_it():
            st, _, b = http("GET", f"http://127.0.0.1:{self.st.sim.port}/healthz")
            return json.loads(b)["stats"]["client_gone"] >= 1
        wait_for(sim_saw_it, 5, what="upstream cancellation")

    def test_reload_on_sighup(self):
        models = {"big": model("a", "instant", "premium", 2.5, 10.0),
                  "other": model("a", "instant", "premium", 1.0, 1.0)}
        r = self.router(models, "big")
        st, h, _ = self.st.chat(r, body("hi"), user="u")
        self.assertEqual(h["x-route-model"], "big")
        cfg = config(self.st.sim_url(), models=models, default_model="other", routing={})
        with open(r.config_path, "w") as f:
            json.dump(cfg, f)
        r.signal(signal.SIGHUP)
        wait_for(lambda: self.st.chat(r, body("hi"), user="u")[1]["x-route-model"] == "other",
                 5, what="reload")
        with open(r.config_path, "w") as f:
            f.write("{broken")
        r.signal(signal.SIGHUP)
        wait_for(lambda: any(x.get("msg") == "reload refused, keeping the running config"
                             for x in r.log_records()), 5, what="refusal")
        self.assertEqual(self.st.chat(r, body("hi"), user="u")[1]["x-route-model"], "other")


class LimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.st = Stack(sim_models=SIM_MODELS, ingest=False).start()

    @classmethod
    def tearDownClass(cls):
        cls.st.stop()

    def test_slow_client_cannot_hold_a_connection(self):
        r = self.st.router(config(self.st.sim_url()),
                           ["--header-timeout-ms", "300", "--idle-timeout-ms", "400"])
        s = socket.create_connection(("127.0.0.1", r.port), timeout=5)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finishes the head
        data = s.recv(65536)
        self.assertTrue(data.startswith(b"HTTP/1.1 408 Request Timeout"), data)
        self.assertIn(b"request head not received within 300 ms", data)
        s.close()
        s = socket.create_connection(("127.0.0.1", r.port), timeout=5)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(b"200 OK", s.recv(65536))
        self.assertEqual(s.recv(65536), b"")  # idle keep-alive closed by the server
        s.close()

    def test_connection_limit_pauses_accepting(self):
        r = self.st.router(config(self.st.sim_url()), ["--max-conns", "3"])
        held = [socket.create_connection(("127.0.0.1", r.port), timeout=5) for _ in range(3)]
        for s in held:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertIn(b"200 OK", s.recv(65536))
        extra = socket.create_connection(("127.0.0.1", r.port), timeout=5)
        extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        extra.settimeout(0.5)
        with self.assertRaises(socket.timeout):
            extra.recv(65536)  # not served while three are open
        held[0].close()
        extra.settimeout(5)
        self.assertIn(b"200 OK", extra.recv(65536))
        for s in held[1:] + [extra]:
            s.close()

    def test_workers_share_the_port_and_drain(self):
        cfg = self.st.write_config("workers", config(self.st.sim_url()))
        from harness import Proc
        # --workers needs a fixed port: one that was free a moment ago may be taken before
        # the router binds it (another test, an outgoing connection), so try a few
        # (a worker that cannot bind logs "cannot listen"; the router then exits 1)
        def listening():
            recs = p.log_records()
            if any(x.get("msg") == "cannot listen" for x in recs):
                return "taken"
            return sum(1 for x in recs if x.get("msg") == "listening") == 2 and "ok"
        for attempt in range(5):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            p = Proc("router", ["--config", cfg, "--listen", f"127.0.0.1:{port}", "--workers",
                                "2"], env=self.st.svc.env()).start(wait=False)
            if wait_for(listening, 15, what="two workers") == "ok":
                break
            p.stop()
            self.assertLess(attempt, 4, p.logs())
        try:
            pids = {x["pid"] for x in p.log_records() if x.get("msg") == "listening"}
            self.assertEqual(len(pids), 2)
            for i in range(20):
                st, _, _ = http("POST", f"http://127.0.0.1:{port}/v1/chat/completions",
                                body("#simple hi"), {"Authorization": f"Bearer {KEY}"})
                self.assertEqual(st, 200)
            # metrics are shared: either worker reports all 20
            st, _, m = http("GET", f"http://127.0.0.1:{port}/metrics")
            total = sum(int(float(l.rsplit(" ", 1)[1])) for l in m.decode().splitlines()
                        if l.startswith("switchyard_requests_total{"))
            self.assertEqual(total, 20)
            # a worker that dies is replaced, and the port keeps answering
            victim = sorted(pids)[0]
            os.kill(victim, signal.SIGKILL)
            wait_for(lambda: len({x["pid"] for x in p.log_records()
                                  if x.get("msg") == "listening"} - pids) == 1, 15,
                     what="a new worker")
            died = [x for x in p.log_records() if x.get("msg") == "worker died, starting another"]
            self.assertEqual([(x["pid"], x["signal"]) for x in died], [(victim, 9)])
            for i in range(10):
                st, _, _ = http("POST", f"http://127.0.0.1:{port}/v1/chat/completions",
                                body("#simple hi"), {"Authorization": f"Bearer {KEY}"})
                self.assertEqual(st, 200)
        finally:
            self.assertEqual(p.stop(), 0)

    def test_workers_exit_1_when_none_can_listen(self):
        # the port is taken (listening, without SO_REUSEPORT): no worker can bind it, so
        # the supervisor says so and exits 1 instead of starting workers forever
        cfg = self.st.write_config("taken", config(self.st.sim_url()))
        from harness import Proc
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            p = Proc("router", ["--config", cfg, "--listen", f"127.0.0.1:{port}", "--workers",
                                "2"], env=self.st.svc.env()).start(wait=False)
            try:
                self.assertEqual(p.wait(timeout=30), 1, p.logs())
            finally:
                p.stop()
        recs = p.log_records()
        msgs = [x.get("msg") for x in recs]
        self.assertEqual(msgs[-1], "no worker could start, exiting", p.logs())
        self.assertEqual(recs[-1]["workers"], 2)
        self.assertNotIn("listening", msgs)
        self.assertGreaterEqual(msgs.count("cannot listen"), 2)
        taken = [x for x in recs if x.get("msg") == "cannot listen"][0]
        self.assertEqual((taken["port"], taken["reason"]), (str(port), "Address already in use"))
        for x in recs:
            if x.get("msg") == "worker could not start":
                self.assertGreaterEqual(x["retry_in_ms"], 100)


if __name__ == "__main__":
    unittest.main()
