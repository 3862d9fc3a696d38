"""switchyard sim: the real binary, over real sockets.

Each test starts its own simulator with --listen 127.0.0.1:0 and reads the bound port from
its JSON "listening" log line. python3 stdlib only; SWITCHYARD_BIN names the binary.
"""

import http.client
import json
import os
import socket
import subprocess
import tempfile
import threading
import time
import unittest


def _bin():
    b = os.environ.get("SWITCHYARD_BIN")
    if not b:
        src = os.environ.get("SY_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
        b = os.path.join(src, "build", "switchyard")
    return b


def _source_dir():
    return os.environ.get("SY_SOURCE_DIR") or os.path.abspath(
        os.path.join(os.path.dirname(__file__), "..", ".."))


class Sim:
    """A running `switchyard sim`; stderr is collected in self.log_lines."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([_bin(), "sim", "--listen", "127.0.0.1:0", *args],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.log_lines = []
        self.port = None
        deadline = time.monotonic() + 20
        while self.port is None:
            line = self.proc.stderr.readline()
            if not line:
                raise RuntimeError("sim exited before listening: " + "".join(self.log_lines))
            self.log_lines.append(line)
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if obj.get("msg") == "listening":
                self.port = obj["port"]
            if time.monotonic() > deadline:
                raise RuntimeError("sim did not report its port")
        self._drain = threading.Thread(target=self._read_rest, daemon=True)
        self._drain.start()

    def _read_rest(self):
        for line in self.proc.stderr:
            self.log_lines.append(line)

    def stop(self):
        self.proc.terminate()
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self._drain.join(timeout=5)
        self.proc.stderr.close()
        return rc

    def request(self, method, path, body=None, headers=None, timeout=10):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            hdrs = {"Content-Type": "application/json"}
            hdrs.update(headers or {})
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp, data
        finally:
            conn.close()

    def chat(self, body, headers=None, timeout=10):
        status, resp, data = self.request("POST", "/v1/chat/completions", body, headers, timeout)
        return status, resp, data

    def raw(self, payload, timeout=5):
        """Send raw bytes; return everything read until the server closes (or timeout)."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        out = b""
        closed = False
        try:
            s.sendall(payload)
            while True:
                try:
                    b = s.recv(65536)
                except ConnectionResetError:
                    closed = True
                    break
                except socket.timeout:
                    break
                if not b:
                    closed = True
                    break
                out += b
        finally:
            s.close()
        return out, closed

    def stats(self):
        status, _, data = self.request("GET", "/healthz")
        assert status == 200
        return json.loads(data)["stats"]


def post_bytes(body, headers=()):
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    head = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    for h in headers:
        head += h + "\r\n"
    head += "Content-Length: %d\r\n\r\n" % len(body)
    return head.encode() + body


def msgs(text="Say hello"):
    return [{"role": "user", "content": text}]


def parse_sse(data):
    """'data: ...\\n\\n' events -> list of decoded JSON objects, plus whether [DONE] came."""
    events, done = [], False
    text = data.decode()
    assert text.endswith("\n\n"), text[-200:]
    for block in text.split("\n\n")[:-1]:
        assert block.startswith("data: "), block
        payload = block[len("data: "):]
        if payload == "[DONE]":
            done = True
            continue
        assert not done, "event after [DONE]"
        events.append(json.loads(payload))
    return events, done


def error_of(data):
    obj = json.loads(data)
    assert set(obj) == {"error"}, obj
    assert set(obj["error"]) == {"message", "type", "param", "code"}, obj
    return obj["error"]


class SimTestCase(unittest.TestCase):
    args = ()

    def setUp(self):
        self.sim = Sim(*self.args)

    def tearDown(self):
        rc = self.sim.stop()
        self.assertEqual(rc, 0, "".join(self.sim.log_lines[-20:]))


class TestCompletion(SimTestCase):
    def test_plain_round_trip(self):
        status, resp, data = self.sim.chat({"model": "sim-instant", "messages": msgs()})
        self.assertEqual(status, 200)
        self.assertEqual(resp.getheader("Content-Type"), "application/json")
        obj = json.loads(data)
        self.assertEqual(set(obj), {"id", "object", "created", "model", "choices", "usage",
                                    "system_fingerprint"})
        self.assertTrue(obj["id"].startswith("chatcmpl-"))
        self.assertEqual(obj["object"], "chat.completion")
        self.assertIsInstance(obj["created"], int)
        self.assertEqual(obj["model"], "sim-instant")
        self.assertEqual(len(obj["choices"]), 1)
        choice = obj["choices"][0]
        self.assertEqual(choice["index"], 0)
        self.assertEqual(choice["message"]["role"], "assistant")
        self.assertIsNone(choice["logprobs"])
        self.assertEqual(choice["finish_reason"], "stop")
        # pinned in tests/unit/test_sim_chat.c as well
        self.assertEqual(choice["message"]["content"], "stream ramp so low we and quality tokens")
        self.assertEqual(obj["usage"], {"prompt_tokens": 10, "completion_tokens": 8,
                                        "total_tokens": 18})

    def test_deterministic_across_requests_and_seeds(self):
        body = {"model": "sim-mid", "messages": [{"role": "system", "content": "be brief"},
                                                {"role": "user", "content": "Explain TCP"}]}
        hdr = {"X-Sim-Latency-Ms": "0", "X-Sim-Fault": "none"}
        first = [json.loads(self.sim.chat(body, hdr)[2]) for _ in range(3)]
        other = Sim("--seed", "999")
        try:
            first.append(json.loads(other.chat(body, hdr)[2]))
        finally:
            self.assertEqual(other.stop(), 0)
        for o in first[1:]:
            self.assertEqual(o["choices"][0]["message"]["content"],
                             first[0]["choices"][0]["message"]["content"])
            self.assertEqual(o["usage"], first[0]["usage"])
        self.assertEqual(len({o["id"] for o in first[:3]}), 3, "ids must differ")
        u = first[0]["usage"]
        self.assertEqual(u["prompt_tokens"], 3 + (4 + 2) + (4 + 3))
        self.assertTrue(40 <= u["completion_tokens"] <= 400)
        self.assertEqual(len(first[0]["choices"][0]["message"]["content"].split(" ")),
                         u["completion_tokens"])
        # another prompt gives another answer
        other_body = dict(body, messages=msgs("Explain UDP"))
        o = json.loads(self.sim.chat(other_body, hdr)[2])
        self.assertNotEqual(o["choices"][0]["message"]["content"],
                            first[0]["choices"][0]["message"]["content"])

    def test_max_tokens_caps_with_length(self):
        for key in ("max_tokens", "max_completion_tokens"):
            status, _, data = self.sim.chat({"model": "sim-instant", "messages": msgs(), key: 3})
            self.assertEqual(status, 200)
            obj = json.loads(data)
            self.assertEqual(obj["choices"][0]["finish_reason"], "length")
            self.assertEqual(obj["usage"]["completion_tokens"], 3)
            self.assertEqual(obj["choices"][0]["message"]["content"], "stream ramp so")

    def test_content_parts(self):
        body = {"model": "sim-instant", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "Say "}, {"type": "text", "text": "hello"}]}]}
        obj = json.loads(self.sim.chat(body)[2])
        self.assertEqual(obj["choices"][0]["message"]["content"],
                         "stream ramp so low we and quality tokens")

    def test_latency_header(self):
        t0 = time.monotonic()
        status, _, _ = self.sim.chat({"model": "sim-instant", "messages": msgs()},
                                     {"X-Sim-Latency-Ms": "300"})
        self.assertEqual(status, 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.29)

    def test_keepalive_many_requests(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.sim.port, timeout=10)
        for i in range(50):
            conn.request("POST", "/v1/chat/completions",
                         body=json.dumps({"model": "sim-instant", "messages": msgs(str(i))}))
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            json.loads(resp.read())
        conn.close()
        self.assertEqual(self.sim.stats()["completions"], 50)


class TestStreaming(SimTestCase):
    def stream(self, include_usage=None, model="sim-instant", extra=None, headers=None):
        body = {"model": model, "messages": msgs(), "stream": True}
        if include_usage is not None:
            body["stream_options"] = {"include_usage": include_usage}
        body.update(extra or {})
        status, resp, data = self.sim.chat(body, headers)
        self.assertEqual(status, 200, data)
        self.assertEqual(resp.getheader("Content-Type"), "text/event-stream")
        self.assertEqual(resp.getheader("Transfer-Encoding"), "chunked")
        return parse_sse(data)

    def check_chunks(self, events, with_usage):
        ids = {e["id"] for e in events}
        self.assertEqual(len(ids), 1)
        for e in events:
            self.assertEqual(e["object"], "chat.completion.chunk")
            self.assertEqual(e["model"], "sim-instant")
            self.assertEqual("usage" in e, with_usage)
        first, last = events[0], events[-1]
        self.assertEqual(first["choices"][0]["delta"], {"role": "assistant", "content": ""})
        if with_usage:
            usage_chunk = last
            finish = events[-2]
            self.assertEqual(usage_chunk["choices"], [])
            self.assertEqual(usage_chunk["usage"], {"prompt_tokens": 10, "completion_tokens": 8,
                                                    "total_tokens": 18})
            content_chunks = events[1:-2]
            for e in events[:-1]:
                self.assertIsNone(e["usage"])
        else:
            finish = last
            content_chunks = events[1:-1]
        self.assertEqual(finish["choices"][0]["finish_reason"], "stop")
        self.assertEqual(finish["choices"][0]["delta"], {})
        text = "".join(e["choices"][0]["delta"]["content"] for e in content_chunks)
        for e in content_chunks:
            self.assertIsNone(e["choices"][0]["finish_reason"])
        self.assertEqual(text, "stream ramp so low we and quality tokens")
        self.assertEqual(len(content_chunks), 2)  # 8 tokens, 4 per chunk

    def test_stream_without_usage(self):
        events, done = self.stream()
        self.assertTrue(done)
        self.check_chunks(events, False)
        events, done = self.stream(include_usage=False)
        self.assertTrue(done)
        self.check_chunks(events, False)

    def test_stream_with_usage(self):
        events, done = self.stream(include_usage=True)
        self.assertTrue(done)
        self.check_chunks(events, True)

    def test_stream_matches_plain(self):
        body = {"model": "sim-premium", "messages": msgs("write a poem"), "max_tokens": 100}
        hdr = {"X-Sim-Latency-Ms": "0", "X-Sim-Fault": "none"}
        plain = json.loads(self.sim.chat(body, hdr)[2])
        _, _, data = self.sim.chat(dict(body, stream=True), hdr)
        events, done = parse_sse(data)
        self.assertTrue(done)
        text = "".join(e["choices"][0]["delta"].get("content", "") for e in events)
        self.assertEqual(text, plain["choices"][0]["message"]["content"])
        self.assertEqual(events[-1]["choices"][0]["finish_reason"],
                         plain["choices"][0]["finish_reason"])

    def test_paced_stream(self):
        # sim-small: 250 tokens/s, 8 tokens a chunk -> one chunk every 32 ms
        t0 = time.monotonic()
        status, _, data = self.sim.chat(
            {"model": "sim-small", "messages": msgs(), "stream": True, "max_tokens": 40},
            {"X-Sim-Latency-Ms": "0", "X-Sim-Fault": "none"})
        elapsed = time.monotonic() - t0
        self.assertEqual(status, 200)
        events, done = parse_sse(data)
        self.assertTrue(done)
        self.assertEqual(len(events), 1 + 5 + 1)
        self.assertGreaterEqual(elapsed, 4 * 0.032 * 0.9)

    def test_client_leaves_mid_stream(self):
        # sim-reasoner streams slowly (50 tokens/s): leave after the first bytes
        s = socket.create_connection(("127.0.0.1", self.sim.port), timeout=5)
        s.sendall(post_bytes({"model": "sim-reasoner", "messages": msgs(), "stream": True},
                             ["X-Sim-Latency-Ms: 0", "X-Sim-Fault: none"]))
        self.assertIn(b"data: ", s.recv(65536))
        s.close()
        deadline = time.monotonic() + 5
        while self.sim.stats()["client_gone"] < 1:
            self.assertLess(time.monotonic(), deadline, "client_gone never counted")
            time.sleep(0.02)
        self.assertEqual(self.sim.stats()["streams"], 0)


class TestBackpressure(unittest.TestCase):
    def test_slow_reader_gets_everything(self):
        # 32768 tokens unpaced: about 1.8 MB of events, far more than the 64 KiB the
        # simulator queues before it waits for the socket to drain
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "m.json")
            with open(path, "w") as f:
                json.dump({"models": {"long": {"completion_tokens": {"min": 32768,
                                                                    "max": 32768}}}}, f)
            sim = Sim("--models", path)
            try:
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.settimeout(20)
                s.connect(("127.0.0.1", sim.port))
                s.sendall(post_bytes({"model": "long", "messages": msgs(), "stream": True,
                                      "stream_options": {"include_usage": True}}))
                time.sleep(0.5)  # let the simulator hit the high-water mark
                f = s.makefile("rb")
                status = f.readline()
                self.assertEqual(status, b"HTTP/1.1 200 OK\r\n")
                while f.readline() != b"\r\n":
                    pass
                body = b""
                while True:  # de-chunk
                    size = int(f.readline().strip(), 16)
                    if size == 0:
                        f.readline()
                        break
                    body += f.read(size)
                    f.readline()
                f.close()
                s.close()
                events, done = parse_sse(body)
                self.assertTrue(done)
                self.assertEqual(events[-1]["usage"]["completion_tokens"], 32768)
                text = "".join(e["choices"][0]["delta"].get("content", "")
                               for e in events[:-1])
                self.assertEqual(len(text.split(" ")), 32768)
                self.assertEqual(sim.stats()["streams"], 1)
            finally:
                self.assertEqual(sim.stop(), 0)


class TestFaults(SimTestCase):
    def test_500(self):
        for model, hdr in (("fault-500", {}), ("sim-instant", {"X-Sim-Fault": "500"})):
            status, _, data = self.sim.chat({"model": model, "messages": msgs()}, hdr)
            self.assertEqual(status, 500)
            self.assertEqual(error_of(data), {
                "message": "The server had an error while processing your request. Sorry about "
                           "that! (simulated)",
                "type": "server_error", "param": None, "code": None})

    def test_429_with_retry_after(self):
        status, resp, data = self.sim.chat({"model": "fault-429", "messages": msgs()})
        self.assertEqual(status, 429)
        self.assertEqual(resp.getheader("Retry-After"), "7")
        self.assertEqual(error_of(data), {
            "message": "Rate limit reached for fault-429 (simulated) on requests per min (RPM). "
                       "Please try again in 7s.",
            "type": "requests", "param": None, "code": "rate_limit_exceeded"})
        status, resp, _ = self.sim.chat({"model": "sim-instant", "messages": msgs()},
                                        {"X-Sim-Fault": "429"})
        self.assertEqual(status, 429)
        self.assertEqual(resp.getheader("Retry-After"), "1")

    def test_timeout_never_answers(self):
        for model, hdr in (("fault-timeout", {}), ("sim-instant", {"X-Sim-Fault": "timeout"})):
            with self.assertRaises(socket.timeout):
                self.sim.chat({"model": model, "messages": msgs()}, hdr, timeout=0.5)
        deadline = time.monotonic() + 5
        while True:
            st = self.sim.stats()
            if st["client_gone"] >= 2:
                break
            self.assertLess(time.monotonic(), deadline, st)
            time.sleep(0.02)
        self.assertEqual(st["fault_timeout"], 2)

    def test_close_without_response(self):
        for model, hdr in (("fault-close", []), ("sim-instant", ["X-Sim-Fault: close"]),
                           ("fault-midstream", [])):  # midstream on a plain request = close
            out, closed = self.sim.raw(post_bytes({"model": model, "messages": msgs()}, hdr))
            self.assertTrue(closed)
            self.assertEqual(out, b"")

    def test_midstream(self):
        for model, hdr in (("fault-midstream", []),
                           ("sim-instant", ["X-Sim-Fault: midstream", "X-Sim-Latency-Ms: 0"])):
            out, closed = self.sim.raw(post_bytes(
                {"model": model, "messages": msgs(), "stream": True}, hdr))
            self.assertTrue(closed)
            head, _, body = out.partition(b"\r\n\r\n")
            self.assertTrue(head.startswith(b"HTTP/1.1 200 OK"), head)
            self.assertIn(b"Transfer-Encoding: chunked", head)
            self.assertIn(b"data: ", body)  # some chunks arrived
            self.assertNotIn(b"[DONE]", body)
            self.assertFalse(body.endswith(b"0\r\n\r\n"), "stream must not end cleanly")
        self.assertEqual(self.sim.stats()["fault_midstream"], 2)

    def test_latency_then_500(self):
        t0 = time.monotonic()
        status, _, _ = self.sim.chat({"model": "sim-instant", "messages": msgs()},
                                     {"X-Sim-Fault": "500", "X-Sim-Latency-Ms": "200"})
        self.assertEqual(status, 500)
        self.assertGreaterEqual(time.monotonic() - t0, 0.19)

    def test_bad_sim_headers(self):
        status, _, data = self.sim.chat({"model": "sim-instant", "messages": msgs()},
                                        {"X-Sim-Fault": "502"})
        self.assertEqual(status, 400)
        self.assertEqual(error_of(data), {
            "message": "Invalid X-Sim-Fault header: '502'. Supported values are: '500', '429', "
                       "'timeout', 'close', 'midstream', and 'none'.",
            "type": "invalid_request_error", "param": None, "code": "invalid_sim_header"})
        status, _, data = self.sim.chat({"model": "sim-instant", "messages": msgs()},
                                        {"X-Sim-Latency-Ms": "-5"})
        self.assertEqual(status, 400)
        self.assertEqual(error_of(data)["message"],
                         "Invalid X-Sim-Latency-Ms header: '-5'. Expected an integer from 0 to "
                         "600000.")


class TestBadInput(SimTestCase):
    def check(self, status, data, want_status, message, param, code,
              type_="invalid_request_error"):
        self.assertEqual(status, want_status, data)
        self.assertEqual(error_of(data), {"message": message, "type": type_, "param": param,
                                          "code": code})

    def test_malformed_json(self):
        status, _, data = self.sim.chat('{"model": "sim-instant", "messages": [')
        self.check(status, data, 400,
                   "We could not parse the JSON body of your request. (HINT: This likely means "
                   "you aren't using your HTTP library correctly. The OpenAI API expects a JSON "
                   "payload, but what was sent was not valid JSON.)", None, None)

    def test_body_not_object(self):
        status, _, data = self.sim.chat("[]")
        self.check(status, data, 400,
                   "Invalid type for 'body': expected an object, but got an array instead.",
                   "body", "invalid_type")

    def test_missing_model(self):
        status, _, data = self.sim.chat({"messages": msgs()})
        self.check(status, data, 400, "Missing required parameter: 'model'.", "model",
                   "missing_required_parameter")

    def test_missing_messages(self):
        status, _, data = self.sim.chat({"model": "sim-instant"})
        self.check(status, data, 400, "Missing required parameter: 'messages'.", "messages",
                   "missing_required_parameter")

    def test_wrong_typed_messages(self):
        status, _, data = self.sim.chat({"model": "sim-instant", "messages": {"role": "user"}})
        self.check(status, data, 400,
                   "Invalid type for 'messages': expected an array, but got an object instead.",
                   "messages", "invalid_type")
        status, _, data = self.sim.chat({"model": "sim-instant", "messages": []})
        self.check(status, data, 400,
                   "Invalid 'messages': empty array. Expected an array with minimum length 1, "
                   "but got an empty array instead.", "messages", "empty_array")
        status, _, data = self.sim.chat({"model": "sim-instant",
                                         "messages": [{"role": "user", "content": 5}]})
        self.check(status, data, 400,
                   "Invalid type for 'messages[0].content': expected one of a string or array "
                   "of objects, but got an integer instead.", "messages[0].content",
                   "invalid_type")
        status, _, data = self.sim.chat({"model": "sim-instant",
                                         "messages": [{"role": "robot", "content": "x"}]})
        self.check(status, data, 400,
                   "Invalid value: 'robot'. Supported values are: 'system', 'developer', "
                   "'user', 'assistant', 'tool', and 'function'.", "messages[0].role",
                   "invalid_value")

    def test_quoted_value_cut_inside_a_character(self):
        # the message quotes at most 64 bytes of the role: 'a' + 31 two-byte characters
        # and the first byte of the 32nd; that byte must not reach the JSON raw
        role = "a" + "\u00e9" * 40
        status, _, data = self.sim.chat({"model": "sim-instant",
                                         "messages": [{"role": role, "content": "x"}]})
        data.decode("utf-8")  # strict: raises on a split character
        self.check(status, data, 400,
                   "Invalid value: 'a" + "\u00e9" * 31 + "\ufffd'. Supported values are: "
                   "'system', 'developer', 'user', 'assistant', 'tool', and 'function'.",
                   "messages[0].role", "invalid_value")

    def test_unknown_model(self):
        status, _, data = self.sim.chat({"model": "gpt-9", "messages": msgs()})
        self.check(status, data, 404,
                   "The model `gpt-9` does not exist or you do not have access to it.", None,
                   "model_not_found")
        status, _, data = self.sim.request("GET", "/v1/models/gpt-9")
        self.check(status, data, 404,
                   "The model `gpt-9` does not exist or you do not have access to it.", None,
                   "model_not_found")

    def test_wrong_method(self):
        status, resp, data = self.sim.request("GET", "/v1/chat/completions")
        self.check(status, data, 405,
                   "Method GET is not allowed on /v1/chat/completions. Allowed: POST.", None,
                   "method_not_allowed")
        self.assertEqual(resp.getheader("Allow"), "POST")
        status, resp, data = self.sim.request("DELETE", "/v1/models")
        self.assertEqual(status, 405)
        self.assertEqual(resp.getheader("Allow"), "GET")

    def test_unknown_path(self):
        status, _, data = self.sim.request("POST", "/v1/completions", "{}")
        self.check(status, data, 404, "Invalid URL (POST /v1/completions)", None, "unknown_url")

    def test_oversized_body(self):
        out, _ = self.sim.raw(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                              b"Content-Type: application/json\r\n"
                              b"Content-Length: 2000000\r\n\r\n")
        head, _, body = out.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 413 "), head)
        self.assertEqual(error_of(body), {
            "message": "request body of 2000000 bytes exceeds the limit of 1048576 bytes",
            "type": "invalid_request_error", "param": None, "code": "request_too_large"})

    def test_counters(self):
        self.sim.chat({"model": "gpt-9", "messages": msgs()})
        self.sim.chat({"model": "sim-instant", "messages": msgs()})
        st = self.sim.stats()
        self.assertEqual(st["invalid"], 1)
        self.assertEqual(st["completions"], 1)
        self.assertEqual(st["requests"], 3)  # the /healthz itself counts


class TestModels(SimTestCase):
    def test_models_list(self):
        status, resp, data = self.sim.request("GET", "/v1/models")
        self.assertEqual(status, 200)
        obj = json.loads(data)
        self.assertEqual(obj["object"], "list")
        ids = [m["id"] for m in obj["data"]]
        self.assertEqual(ids, ["sim-premium", "sim-mid", "sim-small", "sim-reasoner",
                               "sim-instant", "fault-500", "fault-429", "fault-timeout",
                               "fault-close", "fault-midstream"])
        for m in obj["data"]:
            self.assertEqual(m["object"], "model")
            self.assertEqual(m["owned_by"], "switchyard-sim")
            self.assertIsInstance(m["created"], int)
            q = m["switchyard"]["quality"]
            self.assertEqual(set(q), {"simple", "code", "reasoning", "complex"})
            for t in q.values():
                self.assertTrue(0 <= t["thumbs_down"] <= 1)
                self.assertTrue(1 <= t["rating"] <= 5)
        small = obj["data"][2]["switchyard"]
        self.assertEqual(small["tier"], "economy")
        self.assertEqual(small["quality"]["complex"], {"thumbs_down": 0.3, "rating": 3.0})
        self.assertEqual(small["input_usd_per_mtok"], 0.1)
        status, _, data = self.sim.request("GET", "/v1/models/sim-small")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(data), obj["data"][2])

    def test_healthz(self):
        status, _, data = self.sim.request("GET", "/healthz")
        self.assertEqual(status, 200)
        obj = json.loads(data)
        self.assertEqual(obj["status"], "ok")
        self.assertEqual(obj["models"], 10)


class TestCli(unittest.TestCase):
    def run_sim(self, *args):
        return subprocess.run([_bin(), "sim", *args], capture_output=True, text=True, timeout=30)

    def test_help(self):
        r = self.run_sim("--help")
        self.assertEqual(r.returncode, 0)
        self.assertTrue(r.stdout.startswith("usage: switchyard sim [options]"))
        for flag in ("--listen", "--models", "--seed", "--log-level", "X-Sim-Fault"):
            self.assertIn(flag, r.stdout)

    def test_unknown_flag(self):
        r = self.run_sim("--bogus")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr, "switchyard sim: unknown option '--bogus' (see --help)\n")

    def test_bad_values(self):
        cases = [
            (["--listen", "nowhere"],
             "switchyard sim: --listen: expected HOST:PORT with PORT 0-65535, got 'nowhere'\n"),
            (["--listen=1.2.3.4:70000"],
             "switchyard sim: --listen: expected HOST:PORT with PORT 0-65535, got "
             "'1.2.3.4:70000'\n"),
            (["--seed", "x"], "switchyard sim: --seed: expected an unsigned integer, got 'x'\n"),
            (["--log-level", "loud"],
             "switchyard sim: --log-level: expected debug, info, warn or error, got 'loud'\n"),
            (["--models"], "switchyard sim: option '--models' needs a value\n"),
        ]
        for args, err in cases:
            r = self.run_sim(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertEqual(r.stderr, err)

    def test_bad_models_file(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "m.json")
            cases = [
                ('{"models":{"a":{"error_rate":2}}}',
                 "$.models.a.error_rate: expected a number from 0 to 1"),
                ('{"models":{"a":{"quality":{"code":{"rating":9}}}}}',
                 "$.models.a.quality.code.rating: expected a number from 1 to 5"),
                ('{"models":{"a":{"latency_ms":{"median":10,"p95":5}}}}',
                 "$.models.a.latency_ms.p95: must not be below median (10)"),
                ('{"models":{}}', "$.models: must define at least one model"),
                ('{"model":{}}', "$.model: unknown key"),
            ]
            for text, err in cases:
                with open(path, "w") as f:
                    f.write(text)
                r = self.run_sim("--models", path)
                self.assertEqual(r.returncode, 2, text)
                self.assertEqual(r.stderr, "switchyard sim: %s: %s\n" % (path, err))
            r = self.run_sim("--models", os.path.join(d, "missing.json"))
            self.assertEqual(r.returncode, 2)
            self.assertEqual(r.stderr, "switchyard sim: %s: cannot open %s: No such file or "
                                       "directory\n" % ((os.path.join(d, "missing.json"),) * 2))

    def test_models_file(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "m.json")
            with open(path, "w") as f:
                json.dump({"models": {"tiny": {"tier": "economy",
                                               "completion_tokens": {"min": 3, "max": 3}}}}, f)
            sim = Sim("--models", path)
            try:
                status, _, data = sim.request("GET", "/v1/models")
                self.assertEqual([m["id"] for m in json.loads(data)["data"]], ["tiny"])
                status, _, data = sim.chat({"model": "tiny", "messages": msgs()})
                self.assertEqual(status, 200)
                self.assertEqual(json.loads(data)["usage"]["completion_tokens"], 3)
            finally:
                self.assertEqual(sim.stop(), 0)

    def test_shipped_config_loads(self):
        path = os.path.join(_source_dir(), "config", "sim-models.json")
        sim = Sim("--models", path)
        try:
            self.assertEqual(len(json.loads(sim.request("GET", "/v1/models")[2])["data"]), 10)
        finally:
            self.assertEqual(sim.stop(), 0)

    def test_debug_logs_each_request(self):
        sim = Sim("--log-level", "debug")
        try:
            sim.chat({"model": "sim-instant", "messages": msgs()})
        finally:
            self.assertEqual(sim.stop(), 0)
        reqs = [json.loads(l) for l in sim.log_lines if '"msg":"request"' in l]
        self.assertEqual(len(reqs), 1)
        self.assertEqual(reqs[0]["model"], "sim-instant")
        self.assertEqual(reqs[0]["completion_tokens"], 8)
        stopped = [json.loads(l) for l in sim.log_lines if '"msg":"stopped"' in l]
        self.assertEqual(stopped[0]["completions"], 1)


if __name__ == "__main__":
    unittest.main()
