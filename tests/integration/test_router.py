"""Router thin path against real Redis, PostgreSQL, the simulator and the ingester.

One request travels router -> Redis cohort record -> provider -> answer -> event spool ->
ingest -> PostgreSQL row; every refusal and provider failure has its exact status and body.
"""

import json
import os
import socket
import subprocess
import tempfile
import time
import unittest

from harness import http, switchyard_bin, wait_for
from stack import Stack, bucket as stack_bucket, user_hash

KEY = "sk-test-router"
SALT = "salt-1"


def bucket(user, salt=SALT):
    return stack_bucket(user, salt)


def router_config(sim_port, default_model="big", timeout_ms=5000, provider_port=None,
                  dispatch=None):
    port = provider_port or sim_port
    models = {
        "big": ("sim-instant", "premium", 2.5, 10.0),
        "small": ("sim-instant", "economy", 0.1, 0.4),
        "f500": ("fault-500", "premium", 2.5, 10.0),
        "f429": ("fault-429", "premium", 2.5, 10.0),
        "ftimeout": ("fault-timeout", "premium", 2.5, 10.0),
        "fclose": ("fault-close", "premium", 2.5, 10.0),
        "fmid": ("fault-midstream", "premium", 2.5, 10.0),
    }
    return {
        "default_model": default_model,
        "experiment": {"name": "exp-test", "salt": SALT, "holdout_pct": 5},
        "providers": {"sim": {"base_url": f"http://127.0.0.1:{port}/v1",
                              "connect_timeout_ms": 1000, "timeout_ms": timeout_ms}},
        "models": {name: {"provider": "sim", "upstream": up, "tier": tier,
                          "input_usd_per_mtok": pin, "output_usd_per_mtok": pout}
                   for name, (up, tier, pin, pout) in models.items()},
        "api_keys": [{"key": KEY, "project": "proj-a"},
                     {"key_env": "SY_TEST_SECOND_KEY", "project": "proj-b"}],
        "dispatch": dispatch or {"retry_backoff_ms": 10},
    }


def chat_body(text="hello there", **extra):
    b = {"model": "auto", "messages": [{"role": "user", "content": text}]}
    b.update(extra)
    return b


def auth(**extra):
    h = {"Authorization": f"Bearer {KEY}"}
    h.update(extra)
    return h


class RouterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.st = Stack().start()  # Redis, PostgreSQL (migrated), simulator, ingest
        cls.svc, cls.sim = cls.st.svc, cls.st.sim
        try:
            cls.router = cls.start_router()
        except Exception:
            cls.st.stop()
            raise

    @classmethod
    def start_router(cls, name="router", extra_args=(), **cfg_kw):
        return cls.st.router(router_config(cls.sim.port, **cfg_kw), extra_args, name=name,
                             SY_TEST_SECOND_KEY="sk-second")

    @classmethod
    def tearDownClass(cls):
        cls.st.stop()

    def url(self, path, router=None):
        return f"http://127.0.0.1:{(router or self.router).port}{path}"

    def post(self, body, headers=None, router=None, timeout=10):
        return http("POST", self.url("/v1/chat/completions", router), body,
                    headers if headers is not None else auth(), timeout=timeout)

    def row(self, request_id, timeout=15):
        """The requests row for request_id, once ingest has stored it."""
        cols = ("request_id,project,user_hash,bucket,experiment,phase,cohort,served_model,"
                "provider,stream,status,error,attempts,tokens_in,tokens_out,cost_usd,"
                "baseline_cost_usd,latency_us,upstream_us,overhead_us,redis_fallback,mode")
        rows = wait_for(lambda: self.svc.psql(
            f"SELECT {cols} FROM requests WHERE request_id = '{request_id}'"),
            timeout, what=f"row {request_id}")
        self.assertEqual(len(rows), 1)
        return dict(zip(cols.split(","), rows[0]))

    def assert_error(self, resp, status, code, message, param=None, etype="invalid_request_error"):
        st, _, body = resp
        self.assertEqual(st, status, body)
        self.assertEqual(json.loads(body), {"error": {"message": message, "type": etype,
                                                      "param": param, "code": code}})

    # ---- the round trip ----

    def test_round_trip_records_cohort_and_row(self):
        user = "alice@example.com"
        st, h, body = self.post(chat_body("what is the capital of France?"),
                                auth(**{"X-User-Id": user}))
        self.assertEqual(st, 200, body)
        resp = json.loads(body)
        self.assertEqual(resp["object"], "chat.completion")
        self.assertEqual(resp["choices"][0]["message"]["role"], "assistant")
        usage = resp["usage"]
        rid = h["x-request-id"]
        self.assertRegex(rid, r"^req_[0-9a-f]{28}$")
        b = bucket(user)
        cohort = "holdout" if b < 500 else "control"
        self.assertEqual(h["x-route-cohort"], cohort)
        self.assertEqual(h["x-route-model"], "big")
        self.assertEqual(h["x-route-phase"], "off")

        # Redis: the user's record, keyed by the hashed id, with the same bucket
        key = f"sy:{{exp-test}}:user:{user_hash(user)}"
        rec = self.svc.redis("HGET", key, "bucket")
        self.assertEqual(int(rec), b)
        self.assertEqual(self.svc.redis("HGET", key, "cohort"), cohort)
        # exposure fields: phase : routed share : task type : cohort
        fields = self.svc.redis("HKEYS", "sy:{exp-test}:exposures").split("\n")
        self.assertIn(f"off:0:{h['x-route-task']}:{cohort}", fields)

        # PostgreSQL: one row, cost from the catalog price (2.5 / 10 USD per million)
        row = self.row(rid)
        # the id starts with the request's ts in milliseconds: ids rise with time
        ms = self.svc.psql("SELECT floor(extract(epoch FROM ts) * 1000)::bigint FROM requests "
                           f"WHERE request_id = '{rid}'")
        self.assertEqual(int(rid[4:16], 16), int(ms[0][0]))
        self.assertEqual(row["project"], "proj-a")
        self.assertEqual(row["user_hash"], user_hash(user))
        self.assertEqual(int(row["bucket"]), b)
        self.assertEqual(row["cohort"], cohort)
        self.assertEqual(row["experiment"], "exp-test")
        self.assertEqual(row["served_model"], "big")
        self.assertEqual(row["provider"], "sim")
        self.assertEqual(row["status"], "200")
        self.assertEqual(row["mode"], "balanced")
        self.assertEqual(int(row["tokens_in"]), usage["prompt_tokens"])
        self.assertEqual(int(row["tokens_out"]), usage["completion_tokens"])
        want = (usage["prompt_tokens"] * 2.5 + usage["completion_tokens"] * 10.0) / 1e6
        self.assertAlmostEqual(float(row["cost_usd"]), want, places=9)
        self.assertAlmostEqual(float(row["baseline_cost_usd"]), want, places=9)
        self.assertEqual(row["redis_fallback"], "f")
        self.assertGreater(int(row["latency_us"]), 0)
        self.assertEqual(int(row["latency_us"]),
                         int(row["upstream_us"]) + int(row["overhead_us"]))

    def test_holdout_users_are_holdout(self):
        users = [f"user-{i}" for i in range(5000)]
        held = [u for u in users if bucket(u) < 500][:3]
        eligible = [u for u in users if bucket(u) >= 500][:3]
        for u in held:
            st, h, _ = self.post(chat_body(), auth(**{"X-User-Id": u}))
            self.assertEqual((st, h["x-route-cohort"]), (200, "holdout"))
        for u in eligible:
            st, h, _ = self.post(chat_body(), auth(**{"X-User-Id": u}))
            self.assertEqual((st, h["x-route-cohort"]), (200, "control"))

    def test_user_from_body_then_key(self):
        st, h, _ = self.post(chat_body(user="body-user"))
        self.assertEqual(st, 200)
        self.assertEqual(self.row(h["x-request-id"])["user_hash"], user_hash("body-user"))
        st, h, _ = self.post(chat_body(), {"Authorization": "Bearer sk-second"})
        self.assertEqual(st, 200)
        row = self.row(h["x-request-id"])
        self.assertEqual(row["project"], "proj-b")
        self.assertEqual(row["user_hash"], user_hash("project:proj-b"))

    def test_models_and_health(self):
        st, _, body = http("GET", self.url("/v1/models"))
        self.assertEqual(st, 200)
        data = json.loads(body)
        self.assertEqual(data["object"], "list")
        ids = {m["id"]: m for m in data["data"]}
        self.assertIn("big", ids)
        self.assertTrue(ids["big"]["switchyard"]["default"])
        self.assertEqual(ids["small"]["switchyard"]["input_usd_per_mtok"], 0.1)
        st, _, body = http("GET", self.url("/healthz"))
        self.assertEqual((st, json.loads(body)), (200, {"status": "ok"}))
        st, _, body = http("GET", self.url("/readyz"))
        self.assertEqual(st, 200)
        self.assertTrue(json.loads(body)["redis"])

    # ---- streaming ----

    def sse(self, body):
        events = [e for e in body.decode().split("\n\n") if e.strip()]
        self.assertEqual(events[-1], "data: [DONE]")
        return [json.loads(e[len("data: "):]) for e in events[:-1]]

    def test_stream_passes_through_and_strips_usage(self):
        st, h, body = self.post(chat_body("stream me", stream=True))
        self.assertEqual(st, 200, body)
        self.assertEqual(h["content-type"], "text/event-stream")
        self.assertEqual(h["transfer-encoding"], "chunked")
        chunks = self.sse(body)
        self.assertTrue(all(c["object"] == "chat.completion.chunk" for c in chunks))
        self.assertTrue(all(c["choices"] for c in chunks), "usage chunk must be stripped")
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
        row = self.row(h["x-request-id"])
        self.assertEqual(row["stream"], "t")
        self.assertGreater(int(row["tokens_out"]), 0)  # captured although the client did not ask
        self.assertGreater(len(text), 0)

        st, h, body = self.post(chat_body("stream me", stream=True,
                                          stream_options={"include_usage": True}))
        self.assertEqual(st, 200)
        chunks = self.sse(body)
        self.assertEqual(chunks[-1]["choices"], [])
        usage = chunks[-1]["usage"]
        row = self.row(h["x-request-id"])
        self.assertEqual(int(row["tokens_in"]), usage["prompt_tokens"])
        self.assertEqual(int(row["tokens_out"]), usage["completion_tokens"])

    # ---- refusals: exact status and body ----

    def test_bad_input(self):
        self.assert_error(self.post(b"{not json"), 400, "invalid_json",
                          "request body is not valid JSON: string or '}' expected near 'not'"
                          " (line 1, column 4)")
        self.assert_error(self.post(b"[]"), 400, "invalid_type",
                          "request body must be a JSON object")
        self.assert_error(self.post({"model": "x"}), 400, "missing_required_parameter",
                          "missing required parameter: 'messages'", "messages")
        self.assert_error(self.post({"messages": "hi"}), 400, "invalid_type",
                          "'messages' must be an array", "messages")
        self.assert_error(self.post({"messages": []}), 400, "empty_array",
                          "'messages' must contain at least one message", "messages")
        self.assert_error(self.post({"messages": [42]}), 400, "invalid_type",
                          "'messages[0]' must be an object", "messages")
        self.assert_error(self.post({"messages": [{"content": "x"}]}), 400,
                          "missing_required_parameter", "'messages[0].role' must be a string",
                          "messages")
        self.assert_error(self.post({"messages": [{"role": "user", "content": 5}]}), 400,
                          "invalid_type",
                          "'messages[0].content' must be a string or an array of parts",
                          "messages")
        self.assert_error(self.post(chat_body(model=7)), 400, "invalid_type",
                          "'model' must be a string", "model")
        self.assert_error(self.post(chat_body(stream="yes")), 400, "invalid_type",
                          "'stream' must be a boolean", "stream")
        self.assert_error(self.post(chat_body(user=["x"])), 400, "invalid_type",
                          "'user' must be a string", "user")
        self.assert_error(self.post(chat_body(), auth(**{"X-User-Id": "u" * 300})), 400,
                          "invalid_user_id", "X-User-Id must be 1 to 256 bytes")

    def test_oversized_body(self):
        big = b'{"messages":[{"role":"user","content":"' + b"a" * (1 << 20) + b'"}]}'
        self.assert_error(self.post(big), 413, "request_too_large",
                          f"request body of {len(big)} bytes exceeds the limit of 1048576 bytes")

    def test_auth(self):
        self.assert_error(self.post(chat_body(), {}), 401, "missing_api_key",
                          "missing API key: send it as 'Authorization: Bearer <key>'",
                          etype="authentication_error")
        self.assert_error(self.post(chat_body(), {"Authorization": "Basic abc"}), 401,
                          "missing_api_key",
                          "missing API key: send it as 'Authorization: Bearer <key>'",
                          etype="authentication_error")
        self.assert_error(self.post(chat_body(), {"Authorization": "Bearer sk-wrong"}), 401,
                          "invalid_api_key", "invalid API key", etype="authentication_error")
        self.assert_error(self.post(chat_body(), {"Authorization": f"Bearer {KEY}x"}), 401,
                          "invalid_api_key", "invalid API key", etype="authentication_error")

    def test_unknown_path_and_method(self):
        self.assert_error(http("GET", self.url("/v1/nothing")), 404, "unknown_url",
                          "unknown request URL: GET /v1/nothing")
        st, h, body = http("GET", self.url("/v1/chat/completions"))
        self.assertEqual(h["allow"], "POST")
        self.assert_error((st, h, body), 405, "method_not_allowed",
                          "method GET is not allowed on /v1/chat/completions (allowed: POST)")
        self.assert_error(http("DELETE", self.url("/v1/models")), 405, "method_not_allowed",
                          "method DELETE is not allowed on /v1/models (allowed: GET, HEAD)")

    def test_http_framing_errors(self):
        def raw(data):
            with socket.create_connection(("127.0.0.1", self.router.port), timeout=5) as s:
                s.sendall(data)
                out = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        return out
                    out += chunk

        r = raw(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
                b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        self.assertTrue(r.startswith(b"HTTP/1.1 411 Length Required\r\n"), r)
        r = raw(b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        self.assertTrue(r.startswith(b"HTTP/1.1 431 "), r[:100])
        r = raw(b"GARBAGE\r\n\r\n")
        self.assertTrue(r.startswith(b"HTTP/1.1 400 Bad Request\r\n"), r)
        self.assertIn(b'"message":"malformed request line"', r)
        r = raw(b"GET /healthz HTTP/2.0\r\n\r\n")
        self.assertTrue(r.startswith(b"HTTP/1.1 505 "), r)
        r = raw(b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 5\r\n"
                b"Content-Length: 6\r\n\r\nhello!")
        self.assertIn(b'"message":"conflicting Content-Length headers"', r)
        # keep-alive with pipelining: two answers on one connection, in order
        r = raw(b"GET /healthz HTTP/1.1\r\n\r\nGET /nothing HTTP/1.1\r\nConnection: close\r\n\r\n")
        self.assertEqual(r.count(b"HTTP/1.1 "), 2)
        self.assertLess(r.index(b"200 OK"), r.index(b"404 Not Found"))
        # header names in any case (HTTP/1.1 says so; Node's fetch sends lower case)
        body = json.dumps(chat_body("hello in any case")).encode()
        r = raw(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json"
                b"\r\nAUTHORIZATION: Bearer " + KEY.encode() + b"\r\nx-USER-id: case@example.com"
                b"\r\ncOnNeCtIoN: close\r\ncontent-LENGTH: " + str(len(body)).encode() +
                b"\r\n\r\n" + body)
        self.assertTrue(r.startswith(b"HTTP/1.1 200 OK\r\n"), r[:200])
        cohort = "holdout" if bucket("case@example.com") < 500 else "control"
        self.assertIn(f"X-Route-Cohort: {cohort}\r\n".encode(), r)
        r = raw(b"POST /v1/chat/completions HTTP/1.1\r\ntransfer-encoding: chunked"
                b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        self.assertTrue(r.startswith(b"HTTP/1.1 411 Length Required\r\n"), r)
        r = raw(b"POST /v1/chat/completions HTTP/1.1\r\ncontent-length: 5\r\n"
                b"CONTENT-LENGTH: 6\r\n\r\nhello!")
        self.assertIn(b'"message":"conflicting Content-Length headers"', r)

    # ---- provider failures ----

    def failing_router(self, model, **kw):
        name = f"router-{model}"
        if not hasattr(self.__class__, name):
            setattr(self.__class__, name, self.start_router(name, default_model=model, **kw))
        return getattr(self.__class__, name)

    def test_provider_500_is_502(self):
        r = self.failing_router("f500")
        st, h, body = self.post(chat_body(), router=r)
        # a provider's retries (2 by default) first: three attempts, then the answer
        self.assert_error((st, h, body), 502, "upstream_error",
                          "provider sim answered HTTP 500 for model f500 (after 3 attempts)",
                          etype="api_error")
        self.assertEqual(h["x-route-model"], "f500")
        row = self.row(h["x-request-id"])
        self.assertEqual((row["status"], row["error"], row["attempts"]),
                         ("502", "upstream_error", "3"))
        self.assertEqual(float(row["cost_usd"]), 0.0)

    def test_provider_429_is_502(self):
        # Retry-After (7 s) does not fit the request's deadline (3 s): no waiting, no retry
        r = self.failing_router("f429", dispatch={"request_timeout_ms": 3000})
        st, h, body = self.post(chat_body(), router=r)
        self.assert_error((st, h, body), 502, "upstream_rate_limited",
                          "provider sim answered HTTP 429 for model f429", etype="api_error")
        self.assertEqual(self.row(h["x-request-id"])["attempts"], "1")

    def test_provider_timeout_is_504(self):
        r = self.failing_router("ftimeout", timeout_ms=300)
        st, h, body = self.post(chat_body(), router=r)
        self.assertEqual(st, 504, body)
        err = json.loads(body)["error"]
        self.assertEqual((err["type"], err["code"]), ("api_error", "upstream_timeout"))
        self.assertTrue(err["message"].startswith(
            "provider sim did not answer in time for model ftimeout: "), err["message"])
        row = self.row(h["x-request-id"])
        self.assertEqual((row["status"], row["error"]), ("504", "upstream_timeout"))

    def test_provider_close_is_502(self):
        st, h, body = self.post(chat_body(), router=self.failing_router("fclose"))
        self.assertEqual(st, 502, body)
        err = json.loads(body)["error"]
        self.assertEqual(err["code"], "upstream_error")
        self.assertTrue(err["message"].startswith("provider sim failed for model fclose: "))

    def test_provider_unreachable_is_502(self):
        # a port nobody listens on: kept bound (never listening) during the test, so no
        # other process can start listening there meanwhile
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = s.getsockname()[1]
            r = self.start_router("router-dead", default_model="big", provider_port=dead)
            st, h, body = self.post(chat_body(), router=r)
        self.assertEqual(st, 502, body)
        err = json.loads(body)["error"]
        self.assertEqual(err["code"], "upstream_unreachable")
        self.assertTrue(err["message"].startswith("provider sim failed for model big: "))

    def test_midstream_failure_reported_in_band(self):
        st, h, body = self.post(chat_body(stream=True), router=self.failing_router("fmid"))
        self.assertEqual(st, 200)  # the status line was sent before the provider died
        events = [e for e in body.decode().split("\n\n") if e.strip()]
        last = json.loads(events[-1][len("data: "):])
        self.assertEqual(last["error"]["code"], "upstream_error")
        row = self.row(h["x-request-id"])
        # never retried once a byte reached the client: one attempt
        self.assertEqual((row["status"], row["error"], row["attempts"]),
                         ("502", "upstream_failed_mid_stream", "1"))


class CapturingProvider:
    """A provider that records the raw request bodies it receives and answers every
    request with a small completion (usage included)."""

    def __init__(self):
        import http.server
        import threading
        bodies = self.bodies = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
                out = json.dumps({"id": "c1", "object": "chat.completion", "model": "x",
                                  "choices": [{"index": 0, "finish_reason": "stop",
                                               "message": {"role": "assistant", "content": "ok"}}],
                                  "usage": {"prompt_tokens": 3, "completion_tokens": 1,
                                            "total_tokens": 4}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


class RouterForwardTest(unittest.TestCase):
    """What the provider receives: the client's body with the routed model's upstream name."""

    @classmethod
    def setUpClass(cls):
        cls.st = Stack().start()
        cls.provider = CapturingProvider()
        try:
            cfg = router_config(cls.st.sim.port, provider_port=cls.provider.port)
            cls.router = cls.st.router(cfg, SY_TEST_SECOND_KEY="sk-second")
        except Exception:
            cls.provider.stop()
            cls.st.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.provider.stop()
        cls.st.stop()

    def forward(self, raw):
        n = len(self.provider.bodies)
        st, h, body = http("POST", f"http://127.0.0.1:{self.router.port}/v1/chat/completions",
                           raw, auth(**{"Content-Type": "application/json"}))
        self.assertEqual(st, 200, body)
        self.assertEqual(h["x-route-model"], "big")
        self.assertEqual(len(self.provider.bodies), n + 1)
        return self.provider.bodies[-1]

    def test_body_bytes_kept_with_model_replaced(self):
        # whitespace, key order, number spellings, escapes and a nested "model" stay as sent
        raw = ('{ "messages" : [ {"role":"user", "content":"caf\\u00e9 \\"q\\" \\/"} ],\n'
               '  "temperature": 0.70, "n": 1E0, "tools": [{"model": "inner"}],\n'
               '  "model" : "auto", "user": "u1" }\n').encode()
        want = raw.replace(b'"model" : "auto"', b'"model" : "sim-instant"')
        self.assertEqual(self.forward(raw), want)

    def test_model_added_when_absent(self):
        raw = b'{"messages":[{"role":"user","content":"hi"}]}'
        self.assertEqual(self.forward(raw),
                         b'{"messages":[{"role":"user","content":"hi"}],"model":"sim-instant"}')

    def test_duplicate_keys_are_re_serialised(self):
        # the router judged the last "content" (jansson keeps the last duplicate):
        # the provider must get that one only, not bytes it might read otherwise
        raw = (b'{"model":"auto","messages":[{"role":"user","content":"first",'
               b'"content":"second"}]}')
        got = self.forward(raw)
        self.assertEqual(got, b'{"model":"sim-instant","messages":[{"role":"user",'
                              b'"content":"second"}]}')


class RouterCliTest(unittest.TestCase):
    def run_router(self, *args, env=None):
        return subprocess.run([switchyard_bin(), "router", *args], capture_output=True, text=True,
                              timeout=30, env=env)

    def test_help_and_flags(self):
        r = self.run_router("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("usage: switchyard router --config FILE", r.stdout)
        r = self.run_router("--bogus")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr, "switchyard router: unknown option '--bogus' (see --help)\n")
        r = self.run_router()
        self.assertEqual(r.returncode, 2)
        self.assertIn("--config FILE is required", r.stderr)
        r = self.run_router("--config", "/nonexistent.json")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr, "switchyard router: cannot read config /nonexistent.json: "
                                   "No such file or directory\n")
        r = self.run_router("--config", "x", "--max-body", "-5")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--max-body must be an integer from 1", r.stderr)

    def test_bad_config_is_refused_with_paths(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            cfg = router_config(1)
            cfg["models"]["big"]["provider"] = "nope"
            cfg["typo"] = True
            json.dump(cfg, f)
        try:
            r = self.run_router("--config", f.name)
            self.assertEqual(r.returncode, 2)
            self.assertIn('$.models.big.provider: unknown provider "nope"', r.stderr)
            self.assertIn("$.typo: unknown key", r.stderr)
            # a key named by key_env must be present in the environment
            cfg = router_config(1)
            with open(f.name, "w") as g:
                json.dump(cfg, g)
            env = dict(os.environ)
            env.pop("SY_TEST_SECOND_KEY", None)
            r = self.run_router("--config", f.name, env=env)
            self.assertEqual(r.returncode, 2)
            self.assertIn("$.api_keys[1].key_env: environment variable SY_TEST_SECOND_KEY is "
                          "not set or empty", r.stderr)
        finally:
            os.unlink(f.name)


if __name__ == "__main__":
    unittest.main()
