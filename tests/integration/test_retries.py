"""Retries, the request deadline and the fallback to the default model (issue 13, parts 1-2),
against a scripted provider: each model answers its n-th request as its script says, so
every count below is exact. Real Redis, PostgreSQL and ingest; the rows are checked.

Script items (the last one repeats):
    ok        200 with a completion (usage 40 prompt / 7 completion tokens), or an SSE
              stream when the request asks for one
    500 503   that status with an OpenAI error body
    503u      503 whose body carries usage (100 prompt tokens): an attempt that consumed
    401       a status that retrying cannot mend
    429:S     429 with Retry-After: S
    hang      nothing for 30 s
"""

import json
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from stack import KEY, Stack

EXP = "exp-retry"
SALT = "salt-retry"
PRICE_IN, PRICE_OUT = 2.0, 8.0


def completion(model):
    return {"id": "chatcmpl-s", "object": "chat.completion", "created": 1700000000,
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok " + model},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 40, "completion_tokens": 7, "total_tokens": 47}}


class ScriptedProvider:
    def __init__(self, scripts):
        self.scripts = scripts
        self.seen = {}  # model -> requests so far
        self.lock = threading.Lock()
        prov = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                model = req["model"]
                with prov.lock:
                    n = prov.seen.get(model, 0)
                    prov.seen[model] = n + 1
                script = prov.scripts[model]
                item = script[min(n, len(script) - 1)]
                self.answer(item, model, req.get("stream") is True)

            def send(self, status, body, **headers):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k.replace("_", "-"), v)
                self.end_headers()
                self.wfile.write(data)

            def answer(self, item, model, stream):
                err = {"error": {"message": "scripted " + item, "type": "server_error",
                                 "param": None, "code": None}}
                if item == "ok" and not stream:
                    self.send(200, completion(model))
                elif item == "ok":
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    chunks = [{"choices": [{"index": 0, "delta": {"role": "assistant",
                                                                  "content": "ok"}}]},
                              {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
                              {"choices": [], "usage": completion(model)["usage"]}]
                    for c in chunks:
                        ev = b"data: " + json.dumps(c).encode() + b"\n\n"
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(ev), ev))
                    self.wfile.write(b"e\r\ndata: [DONE]\n\n\r\n0\r\n\r\n")
                elif item in ("500", "503", "401"):
                    self.send(int(item), err)
                elif item == "503u":
                    self.send(503, dict(err, usage={"prompt_tokens": 100, "completion_tokens": 0}))
                elif item.startswith("429:"):
                    self.send(429, err, Retry_After=item[4:])
                elif item == "hang":
                    time.sleep(30)
                else:
                    raise ValueError(item)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def count(self, model):
        with self.lock:
            return self.seen.get(model, 0)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


SCRIPTS = {
    "flaky": ["500", "503", "ok"],          # two transient failures, then an answer
    "flaky-s": ["503", "ok"],               # the same for a stream
    "limited": ["429:1", "ok"],             # rate limited for one second
    "down": ["503"],                        # never answers
    "consumer": ["503u", "ok"],             # a failure that consumed tokens
    "locked": ["401"],                      # retrying cannot mend it
    "hang": ["hang"],
    "good": ["ok"],
}


def model(provider, tier="premium", upstream=None):
    m = {"provider": provider, "tier": tier,
         "input_usd_per_mtok": PRICE_IN, "output_usd_per_mtok": PRICE_OUT}
    if upstream:
        m["upstream"] = upstream
    return m


def config(port, default_model="good", routing=None, dispatch=None, models=None):
    base = f"http://127.0.0.1:{port}/v1"
    return {
        "default_model": default_model,
        "experiment": {"name": EXP, "salt": SALT, "holdout_pct": 0},
        "providers": {"p": {"base_url": base, "timeout_ms": 10000},
                      "q": {"base_url": base, "timeout_ms": 10000, "retries": 0}},
        "models": models or {name: model("p") for name in SCRIPTS},
        "routing": routing or {},
        "dispatch": dict({"retry_backoff_ms": 20}, **(dispatch or {})),
        "api_keys": [{"key": KEY, "project": "p", "allow_model_prefer": True}],
        "classifier_rules": {"patterns": [{"regex": ".", "task": "simple"}]},
        "classifier_model": "/nonexistent/model",
    }


def body(text="hello", **extra):
    return dict({"model": "auto", "messages": [{"role": "user", "content": text}]}, **extra)


class RetryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.st = Stack().start()
        cls.prov = ScriptedProvider(SCRIPTS)

    @classmethod
    def tearDownClass(cls):
        cls.prov.close()
        cls.st.stop()

    def metric(self, r, name):
        for line in self.st.metrics(r).splitlines():
            if line.startswith(name + " "):
                return int(line.split()[1])
        self.fail("no metric " + name)

    def router_for(self, default_model, **kw):
        return self.st.router(config(self.prov.port, default_model=default_model, **kw))

    def test_transient_failures_are_retried_at_the_same_provider(self):
        r = self.router_for("flaky")
        st, h, b = self.st.chat(r, body(), user="u1")
        self.assertEqual(st, 200, b)
        self.assertEqual(json.loads(b)["choices"][0]["message"]["content"], "ok flaky")
        row = self.st.row(h["x-request-id"])
        self.assertEqual((row["attempts"], row["served_model"], row["fallback"], row["status"]),
                         ("3", "flaky", "", "200"))
        self.assertEqual(self.prov.count("flaky"), 3)
        self.assertEqual(self.metric(r, "switchyard_retries_total"), 2)
        self.assertEqual(self.metric(r, "switchyard_failovers_total"), 0)

    def test_stream_is_retried_before_its_first_byte(self):
        r = self.router_for("flaky-s")
        st, h, b = self.st.chat(r, body(stream=True), user="u1")
        self.assertEqual(st, 200, b)
        self.assertTrue(b.endswith(b"data: [DONE]\n\n"), b)
        row = self.st.row(h["x-request-id"])
        self.assertEqual((row["attempts"], row["stream"], row["tokens_in"]), ("2", "t", "40"))

    def test_retry_after_is_waited_when_it_fits_the_deadline(self):
        r = self.router_for("limited")
        st, h, b = self.st.chat(r, body(), user="u1")
        self.assertEqual(st, 200, b)
        row = self.st.row(h["x-request-id"])
        self.assertEqual(row["attempts"], "2")
        self.assertGreaterEqual(int(row["latency_us"]), 1000000)  # Retry-After: 1 was kept

    def test_a_failure_that_consumed_tokens_is_billed(self):
        r = self.router_for("consumer")
        st, h, b = self.st.chat(r, body(), user="u1")
        self.assertEqual(st, 200, b)
        row = self.st.row(h["x-request-id"])
        want = (100 * PRICE_IN + 40 * PRICE_IN + 7 * PRICE_OUT) / 1e6
        self.assertEqual(row["attempts"], "2")
        self.assertAlmostEqual(float(row["cost_usd"]), want, places=12)

    def test_a_client_error_is_not_retried(self):
        r = self.router_for("locked")
        st, h, b = self.st.chat(r, body(), user="u1")
        self.assertEqual(st, 502)
        self.assertEqual(json.loads(b)["error"], {
            "message": "provider p answered HTTP 401 for model locked", "type": "api_error",
            "param": None, "code": "upstream_error"})
        self.assertEqual(self.st.row(h["x-request-id"])["attempts"], "1")

    def test_one_deadline_bounds_the_request(self):
        r = self.router_for("hang", dispatch={"request_timeout_ms": 700})
        t0 = time.monotonic()
        st, h, b = self.st.chat(r, body(), user="u1")
        self.assertLess(time.monotonic() - t0, 10)  # not the provider's 10 s timeout
        self.assertEqual(st, 504, b)
        err = json.loads(b)["error"]
        self.assertEqual((err["code"], err["type"]), ("upstream_timeout", "api_error"))
        self.assertTrue(err["message"].startswith(
            "provider p did not answer in time for model hang: "), err)
        row = self.st.row(h["x-request-id"])
        self.assertEqual((row["status"], row["attempts"]), ("504", "1"))

    def test_routed_request_falls_back_to_the_default_model(self):
        r = self.router_for("good", routing={"simple": {"balanced": "down"}})
        self.st.set_state(EXP, 10, phase="full", routed_bp=10000, holdout_bp=0, salt=SALT)
        self.st.wait_phase(r, "full")
        before = self.prov.count("down")
        st, h, b = self.st.chat(r, body(), user="u-routed")
        self.assertEqual(st, 200, b)
        self.assertEqual((h["x-route-cohort"], h["x-route-model"]), ("routed", "good"))
        row = self.st.row(h["x-request-id"])
        self.assertEqual((row["served_model"], row["fallback"], row["attempts"], row["cohort"]),
                         ("good", "default", "4", "routed"))
        self.assertEqual(self.prov.count("down") - before, 3)
        self.assertEqual(self.metric(r, "switchyard_fallback_default_total"), 1)
        # a model asked for by name gets no substitute outside its tier
        st, h, b = self.st.chat(r, body(), user="u-routed", X_Model_Prefer="down")
        self.assertEqual(st, 502, b)
        self.assertEqual(json.loads(b)["error"]["message"],
                         "provider p answered HTTP 503 for model down (after 3 attempts)")

    def test_every_candidate_failed_names_what_was_tried(self):
        models = {"down": model("p"), "down-q": model("q", upstream="down"),
                  "good": model("p", "other")}
        r = self.router_for("good", models=models, routing={"simple": {"balanced": "down"}})
        self.st.set_state(EXP, 11, phase="full", routed_bp=10000, holdout_bp=0, salt=SALT)
        self.st.wait_phase(r, "full")
        # by name: down, then its tier on another provider (q, retries 0), no default
        st, h, b = self.st.chat(r, body(), user="u-all", X_Model_Prefer="down")
        self.assertEqual(st, 502, b)
        self.assertEqual(json.loads(b)["error"]["message"],
                         "provider q answered HTTP 503 for model down-q (after 4 attempts: "
                         "down@p 3x HTTP 503, down-q@q 1x HTTP 503)")


if __name__ == "__main__":
    unittest.main()
