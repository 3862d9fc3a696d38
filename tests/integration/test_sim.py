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
                       "'529', 'timeout', 'close', 'midstream', and 'none'.",
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
                               "sim-claude", "sim-instant", "sim-claude-instant", "fault-500",
                               "fault-429", "fault-timeout", "fault-close", "fault-midstream"])
        for m in obj["data"]:
            self.assertEqual(m["object"], "model")
            self.assertEqual(m["owned_by"], "switchyard-sim")
            self.assertIsInstance(m["created"], int)
            q = m["switchyard"]["quality"]
            self.assertEqual(set(q), {"simple", "code", "reasoning", "complex"})
            for t in q.values():
                self.assertTrue(0 <= t["thumbs_down"] <= 1)
                self.assertTrue(1 <= t["rating"] <= 5)
        for m in obj["data"]:
            anth = m["id"].startswith("sim-claude")
            self.assertEqual(m["switchyard"]["wire"], "anthropic" if anth else "openai")
            self.assertEqual(m["switchyard"]["cache_hit_rate"] > 0, anth)
        claude = obj["data"][4]["switchyard"]
        self.assertEqual((claude["tier"], claude["input_usd_per_mtok"],
                          claude["cached_input_usd_per_mtok"], claude["cache_hit_rate"]),
                         ("premium", 3.0, 0.3, 0.5))
        small = obj["data"][2]["switchyard"]
        self.assertEqual(small["tier"], "economy")
        self.assertEqual(small["cached_input_usd_per_mtok"], 0)
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
        self.assertEqual(obj["models"], 12)


# ---------- Anthropic Messages wire, tool calls, cached tokens ----------

M64 = (1 << 64) - 1
WORDS = ("the model answer is a simple result of routing each request to cheaper tier when "
         "quality holds and latency stays low we compute tokens from prompt hash so same input "
         "gives output switch yard sends traffic through cohorts shadow canary ramp full holdout "
         "control arm metric cost savings error rate stream chunk delta finish usage provider "
         "gateway simulated reply with clear steps in order").split()
AV = {"anthropic-version": "2023-06-01"}


def mix64(x):
    """splitmix64's finaliser, as common/hash.h."""
    x = (x + 0x9e3779b97f4a7c15) & M64
    x = ((x ^ (x >> 30)) * 0xbf58476d1ce4e5b9) & M64
    x = ((x ^ (x >> 27)) * 0x94d049bb133111eb) & M64
    return x ^ (x >> 31)


def prompt_hash(msgs):
    """The documented prompt hash of (role, text) messages: FNV-1a 64 over role NUL text NUL."""
    h = 0xcbf29ce484222325
    for role, text in msgs:
        for c in role.encode() + b"\0" + text.encode() + b"\0":
            h = ((h ^ c) * 0x100000001b3) & M64
    return h


def auto_calls(text):
    """The documented auto rule for a one-user-message prompt: splitmix64(hash) odd."""
    return mix64(prompt_hash([("user", text)])) & 1 == 1


def arg_word(text, k=0):
    return WORDS[mix64((prompt_hash([("user", text)]) + k) & M64) & 63]


def prompts_by_auto():
    """A prompt 'auto' answers with a tool call, and one it answers with text."""
    call = next("q%d" % i for i in range(100) if auto_calls("q%d" % i))
    text = next("q%d" % i for i in range(100) if not auto_calls("q%d" % i))
    return call, text


def parse_named_sse(data):
    """'event: NAME\\ndata: JSON\\n\\n' blocks -> [(NAME, obj)]; NAME is also obj["type"]."""
    text = data.decode()
    assert text.endswith("\n\n"), text[-200:]
    out = []
    for block in text.split("\n\n")[:-1]:
        ev, _, payload = block.partition("\n")
        assert ev.startswith("event: "), block
        assert payload.startswith("data: "), block
        obj = json.loads(payload[len("data: "):])
        assert obj["type"] == ev[len("event: "):], block
        out.append((ev[len("event: "):], obj))
    return out


def anthropic_error_of(data):
    obj = json.loads(data)
    assert set(obj) == {"type", "error"} and obj["type"] == "error", obj
    assert set(obj["error"]) == {"type", "message"}, obj
    return obj["error"]


WEATHER_ANTHROPIC = [{"name": "get_weather", "description": "weather in a place",
                      "input_schema": {"type": "object",
                                       "properties": {"location": {"type": "string"},
                                                      "days": {"type": "integer"}},
                                       "required": ["location", "days"]}},
                     {"name": "get_time", "input_schema": {"type": "object"}}]
WEATHER_OPENAI = [{"type": "function", "function": {"name": t["name"],
                                                    "parameters": t["input_schema"]}}
                  for t in WEATHER_ANTHROPIC]


def messages_request(sim, body, headers=None, version=True, timeout=10):
    hdrs = dict(AV) if version else {}
    hdrs.update(headers or {})
    return sim.request("POST", "/v1/messages", body, hdrs, timeout)


class TestAnthropic(SimTestCase):
    def msg(self, body, headers=None):
        return messages_request(self.sim, body, headers)

    def test_plain(self):
        status, resp, data = self.msg({"model": "sim-claude-instant", "max_tokens": 100,
                                       "messages": msgs()})
        self.assertEqual(status, 200, data)
        self.assertEqual(resp.getheader("Content-Type"), "application/json")
        obj = json.loads(data)
        self.assertEqual(set(obj), {"id", "type", "role", "model", "content", "stop_reason",
                                    "stop_sequence", "usage"})
        self.assertRegex(obj["id"], r"^msg_[0-9a-f]{24}$")
        self.assertEqual((obj["type"], obj["role"], obj["model"]),
                         ("message", "assistant", "sim-claude-instant"))
        self.assertEqual(obj["stop_reason"], "end_turn")
        self.assertIsNone(obj["stop_sequence"])
        # pinned in tests/unit/test_sim_messages.c: 10 prompt tokens, 32 output tokens
        self.assertEqual(obj["usage"], {"input_tokens": 10, "cache_creation_input_tokens": 0,
                                        "cache_read_input_tokens": 0, "output_tokens": 32})
        self.assertEqual(len(obj["content"]), 1)
        self.assertEqual(obj["content"][0]["type"], "text")
        text = obj["content"][0]["text"]
        self.assertEqual(len(text.split(" ")), 32)
        self.assertTrue(text.startswith("the gives each compute cheaper"), text)

        # max_tokens caps with stop_reason max_tokens
        status, _, data = self.msg({"model": "sim-claude-instant", "max_tokens": 3,
                                    "messages": msgs()})
        obj = json.loads(data)
        self.assertEqual(obj["stop_reason"], "max_tokens")
        self.assertEqual(obj["usage"]["output_tokens"], 3)
        self.assertEqual(obj["content"][0]["text"], "the gives each")
        self.assertEqual(self.sim.stats()["completions"], 2)

    def test_stream(self):
        body = {"model": "sim-claude-instant", "max_tokens": 100, "messages": msgs()}
        plain = json.loads(self.msg(body)[2])
        status, resp, data = self.msg(dict(body, stream=True))
        self.assertEqual(status, 200, data)
        self.assertEqual(resp.getheader("Content-Type"), "text/event-stream")
        self.assertEqual(resp.getheader("Transfer-Encoding"), "chunked")
        events = parse_named_sse(data)
        names = [n for n, _ in events]
        self.assertEqual(names[:3], ["message_start", "content_block_start", "ping"])
        self.assertEqual(names[-3:], ["content_block_stop", "message_delta", "message_stop"])
        deltas = events[3:-3]
        self.assertEqual({n for n, _ in deltas}, {"content_block_delta"})
        self.assertEqual(len(deltas), 8)  # 32 tokens, 4 a chunk
        start = events[0][1]["message"]
        self.assertRegex(start["id"], r"^msg_[0-9a-f]{24}$")
        self.assertEqual((start["content"], start["stop_reason"], start["stop_sequence"]),
                         ([], None, None))
        self.assertEqual(start["usage"], {"input_tokens": 10, "cache_creation_input_tokens": 0,
                                          "cache_read_input_tokens": 0, "output_tokens": 1})
        self.assertEqual(events[1][1], {"type": "content_block_start", "index": 0,
                                        "content_block": {"type": "text", "text": ""}})
        text = ""
        for _, d in deltas:
            self.assertEqual(d["index"], 0)
            self.assertEqual(d["delta"]["type"], "text_delta")
            text += d["delta"]["text"]
        self.assertEqual(text, plain["content"][0]["text"])
        self.assertEqual(events[-3][1], {"type": "content_block_stop", "index": 0})
        self.assertEqual(events[-2][1], {"type": "message_delta",
                                         "delta": {"stop_reason": "end_turn",
                                                   "stop_sequence": None},
                                         "usage": {"output_tokens": 32}})
        self.assertEqual(len(text.split(" ")), events[-2][1]["usage"]["output_tokens"])
        self.assertEqual(self.sim.stats()["streams"], 1)

    def test_paced_stream(self):
        # sim-claude: 70 tokens/s, 4 a chunk -> one delta every 57 ms
        t0 = time.monotonic()
        status, _, data = self.msg({"model": "sim-claude", "max_tokens": 20, "stream": True,
                                    "messages": msgs()},
                                   {"X-Sim-Latency-Ms": "0", "X-Sim-Fault": "none"})
        self.assertEqual(status, 200)
        self.assertEqual(len(parse_named_sse(data)), 3 + 5 + 3)
        self.assertGreaterEqual(time.monotonic() - t0, 4 * 0.057 * 0.9)

    def test_same_prompt_costs_the_same_on_both_wires(self):
        convo = [{"role": "user", "content": "Explain TCP"},
                 {"role": "assistant", "content": "A stream protocol."},
                 {"role": "user", "content": [{"type": "text", "text": "And UDP?"}]}]
        o = json.loads(self.sim.chat({"model": "sim-instant", "messages":
                                      [{"role": "system", "content": "be brief"}] + convo})[2])
        a = json.loads(self.msg({"model": "sim-claude-instant", "max_tokens": 1000,
                                 "system": [{"type": "text", "text": "be brief"}],
                                 "messages": convo})[2])
        u = a["usage"]
        self.assertEqual(o["usage"]["prompt_tokens"],
                         u["input_tokens"] + u["cache_read_input_tokens"])
        self.assertEqual(o["usage"]["prompt_tokens"], 3 + 6 + 7 + 9 + 6)

    def test_tool_use(self):
        body = {"model": "sim-claude-instant", "max_tokens": 100, "messages": msgs(),
                "tools": WEATHER_ANTHROPIC, "tool_choice": {"type": "any"}}
        status, _, data = self.msg(body)
        self.assertEqual(status, 200, data)
        obj = json.loads(data)
        self.assertEqual(obj["stop_reason"], "tool_use")
        self.assertEqual(len(obj["content"]), 1)
        block = obj["content"][0]
        self.assertEqual(set(block), {"type", "id", "name", "input"})
        self.assertEqual(block["type"], "tool_use")
        self.assertRegex(block["id"], r"^toolu_[0-9a-f]{24}$")
        self.assertEqual(block["name"], "get_weather")
        self.assertEqual(block["input"], {"location": arg_word("Say hello"), "days": 1})
        args = json.dumps(block["input"], separators=(",", ":"))
        self.assertEqual(obj["usage"]["output_tokens"], 1 + (len("get_weather") + len(args) + 3) // 4)

        # streamed: tool_use block start, input_json_delta pieces that make the same input
        status, _, data = self.msg(dict(body, stream=True))
        events = parse_named_sse(data)
        self.assertEqual([n for n, _ in events[:3]], ["message_start", "content_block_start",
                                                      "ping"])
        cb = events[1][1]["content_block"]
        self.assertEqual((cb["type"], cb["name"], cb["input"]), ("tool_use", "get_weather", {}))
        self.assertRegex(cb["id"], r"^toolu_[0-9a-f]{24}$")
        deltas = events[3:-3]
        self.assertGreaterEqual(len(deltas), 3)
        for n, d in deltas:
            self.assertEqual(n, "content_block_delta")
            self.assertEqual(d["delta"]["type"], "input_json_delta")
        partial = "".join(d["delta"]["partial_json"] for _, d in deltas)
        self.assertEqual(json.loads(partial), block["input"])
        self.assertEqual(events[-2][1]["delta"]["stop_reason"], "tool_use")
        self.assertEqual(events[-2][1]["usage"]["output_tokens"], obj["usage"]["output_tokens"])

        # a named tool; none; a tool result last
        obj = json.loads(self.msg(dict(body, tool_choice={"type": "tool",
                                                          "name": "get_time"}))[2])
        self.assertEqual((obj["content"][0]["name"], obj["content"][0]["input"]),
                         ("get_time", {}))
        obj = json.loads(self.msg(dict(body, tool_choice={"type": "none"}))[2])
        self.assertEqual((obj["stop_reason"], obj["content"][0]["type"]), ("end_turn", "text"))
        after = msgs() + [
            {"role": "assistant", "content": [{"type": "tool_use", "id": block["id"],
                                               "name": "get_weather", "input": block["input"]}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": block["id"],
                                          "content": "sunny"}]}]
        obj = json.loads(self.msg(dict(body, messages=after))[2])
        self.assertEqual((obj["stop_reason"], obj["content"][0]["type"]), ("end_turn", "text"))

    def test_tool_use_auto(self):
        call, text = prompts_by_auto()
        for prompt, want in ((call, "tool_use"), (text, "end_turn")):
            for choice in (None, {"type": "auto"}):
                body = {"model": "sim-claude-instant", "max_tokens": 100,
                        "messages": msgs(prompt), "tools": WEATHER_ANTHROPIC}
                if choice:
                    body["tool_choice"] = choice
                obj = json.loads(self.msg(body)[2])
                self.assertEqual(obj["stop_reason"], want, prompt)

    def test_cached_tokens(self):
        long_prompt = msgs("a" * 4400)  # 3 + 4 + 1100 = 1107 prompt tokens
        body = {"model": "sim-claude-instant", "max_tokens": 5, "messages": long_prompt}
        obj = json.loads(self.msg(body)[2])
        # cache_hit_rate 0.5: floor(553.5) = 553, down to a multiple of 128: 512
        self.assertEqual(obj["usage"], {"input_tokens": 1107 - 512,
                                        "cache_creation_input_tokens": 0,
                                        "cache_read_input_tokens": 512, "output_tokens": 5})
        events = parse_named_sse(self.msg(dict(body, stream=True))[2])
        self.assertEqual(events[0][1]["message"]["usage"]["cache_read_input_tokens"], 512)
        self.assertEqual(events[0][1]["message"]["usage"]["input_tokens"], 595)
        # below 1024 prompt tokens nothing is cached
        obj = json.loads(self.msg(dict(body, messages=msgs("a" * 4000)))[2])
        self.assertEqual((obj["usage"]["input_tokens"], obj["usage"]["cache_read_input_tokens"]),
                         (1007, 0))

    def test_no_key_needed(self):
        # as with Authorization on the OpenAI side, x-api-key is not checked
        status, _, _ = self.msg({"model": "sim-claude-instant", "max_tokens": 5,
                                 "messages": msgs()}, {"x-api-key": "anything"})
        self.assertEqual(status, 200)


class TestAnthropicBadInput(SimTestCase):
    def check(self, body, want_status, want_type, message, headers=None, version=True):
        status, _, data = messages_request(self.sim, body, headers, version)
        self.assertEqual(status, want_status, data)
        self.assertEqual(anthropic_error_of(data), {"type": want_type, "message": message})

    def test_missing_version_header(self):
        self.check({"model": "sim-claude-instant", "max_tokens": 5, "messages": msgs()}, 400,
                   "invalid_request_error", "anthropic-version: header is required",
                   version=False)

    def test_malformed_json(self):
        self.check('{"model": "sim-claude-instant", "messages": [', 400,
                   "invalid_request_error",
                   "The request body is not valid JSON: ']' expected near end of file: "
                   "line 1 column 45 (char 45)")

    def test_fields(self):
        ok = {"model": "sim-claude-instant", "max_tokens": 5, "messages": msgs()}
        cases = [
            ({k: v for k, v in ok.items() if k != "max_tokens"}, "max_tokens: Field required"),
            (dict(ok, max_tokens=0), "max_tokens: Input should be greater than or equal to 1"),
            (dict(ok, max_tokens="5"), "max_tokens: Input should be a valid integer"),
            ({k: v for k, v in ok.items() if k != "model"}, "model: Field required"),
            (dict(ok, messages=[]), "messages: at least one message is required"),
            (dict(ok, messages=[{"role": "robot", "content": "x"}]),
             "messages.0.role: Input should be 'user' or 'assistant'"),
            (dict(ok, messages=[{"role": "system", "content": "x"}]),
             "messages: Unexpected role \"system\". The Messages API accepts a top-level "
             "`system` parameter, not \"system\" as an input message role."),
            (dict(ok, messages=[{"role": "user", "content": [{"type": "text"}]}]),
             "messages.0.content.0.text.text: Field required"),
            (dict(ok, stream="yes"), "stream: Input should be a valid boolean"),
            (dict(ok, stream_options={"include_usage": True}),
             "stream_options: Extra inputs are not permitted"),
            (dict(ok, tools=[{"name": "f"}]), "tools.0.input_schema: Field required"),
            (dict(ok, tools=WEATHER_ANTHROPIC, tool_choice={"type": "required"}),
             "tool_choice: Input tag 'required' found using 'type' does not match any of the "
             "expected tags: 'auto', 'any', 'tool', 'none'"),
        ]
        for body, message in cases:
            self.check(body, 400, "invalid_request_error", message)
        self.assertEqual(self.sim.stats()["invalid"], len(cases))

    def test_unknown_and_wrong_wire_models(self):
        self.check({"model": "gpt-9", "max_tokens": 5, "messages": msgs()}, 404,
                   "not_found_error", "model: gpt-9")
        # an OpenAI-wire model is unknown to the Anthropic endpoint ...
        self.check({"model": "sim-instant", "max_tokens": 5, "messages": msgs()}, 404,
                   "not_found_error", "model: sim-instant")
        # ... and an Anthropic-wire one to the OpenAI endpoint
        status, _, data = self.sim.chat({"model": "sim-claude-instant", "messages": msgs()})
        self.assertEqual(status, 404)
        self.assertEqual(error_of(data), {
            "message": "The model `sim-claude-instant` does not exist or you do not have access "
                       "to it.", "type": "invalid_request_error", "param": None,
            "code": "model_not_found"})

    def test_bad_sim_header_in_anthropic_shape(self):
        self.check({"model": "sim-claude-instant", "max_tokens": 5, "messages": msgs()}, 400,
                   "invalid_request_error",
                   "Invalid X-Sim-Fault header: '502'. Supported values are: '500', '429', "
                   "'529', 'timeout', 'close', 'midstream', and 'none'.",
                   headers={"X-Sim-Fault": "502"})

    def test_wrong_method(self):
        status, resp, data = self.sim.request("GET", "/v1/messages")
        self.assertEqual(status, 405)
        self.assertEqual(resp.getheader("Allow"), "POST")


class TestAnthropicFaults(unittest.TestCase):
    """Every fault kind from the catalog (error_rate 1, one weight), in Anthropic's shape."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        models = {}
        for kind in ("500", "429", "529", "timeout", "close", "midstream"):
            models["a-" + kind] = {"wire": "anthropic", "error_rate": 1, "errors": {kind: 1},
                                   "retry_after_s": 3, "completion_tokens": {"min": 40,
                                                                             "max": 80}}
        models["o-529"] = {"error_rate": 1, "errors": {"529": 1}}
        cls.path = os.path.join(cls.tmp.name, "faults.json")
        with open(cls.path, "w") as f:
            json.dump({"models": models}, f)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        self.sim = Sim("--models", self.path)

    def tearDown(self):
        self.assertEqual(self.sim.stop(), 0)

    def body(self, model, stream=False):
        return {"model": model, "max_tokens": 100, "messages": msgs(), "stream": stream}

    def raw(self, body):
        data = json.dumps(body).encode()
        head = ("POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                "anthropic-version: 2023-06-01\r\nContent-Length: %d\r\n\r\n" % len(data))
        return self.sim.raw(head.encode() + data)

    def test_error_replies(self):
        for model, status, etype, message in (
                ("a-500", 500, "api_error", "Internal server error"),
                ("a-429", 429, "rate_limit_error",
                 "Number of requests has exceeded your per-minute rate limit for a-429 "
                 "(simulated). Please try again in 3s."),
                ("a-529", 529, "overloaded_error", "Overloaded")):
            for stream in (False, True):
                st, resp, data = messages_request(self.sim, self.body(model, stream))
                self.assertEqual(st, status, data)
                self.assertEqual(anthropic_error_of(data), {"type": etype, "message": message})
                if status == 429:
                    self.assertEqual(resp.getheader("Retry-After"), "3")
        st = self.sim.stats()
        self.assertEqual((st["fault_500"], st["fault_429"], st["fault_529"]), (2, 2, 2))

    def test_529_on_the_openai_wire_is_503(self):
        status, _, data = self.sim.chat({"model": "o-529", "messages": msgs()})
        self.assertEqual(status, 503)
        self.assertEqual(error_of(data), {
            "message": "That model is currently overloaded with other requests. You can retry "
                       "your request, or contact us through our help center at help.openai.com "
                       "if the error persists. (simulated)",
            "type": "server_error", "param": None, "code": None})

    def test_close_timeout_midstream(self):
        out, closed = self.raw(self.body("a-close"))
        self.assertTrue(closed)
        self.assertEqual(out, b"")
        with self.assertRaises(socket.timeout):
            messages_request(self.sim, self.body("a-timeout"), timeout=0.5)
        out, closed = self.raw(self.body("a-midstream", stream=True))
        self.assertTrue(closed)
        head, _, body = out.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 OK"), head)
        self.assertIn(b"event: message_start", body)
        self.assertIn(b"event: content_block_delta", body)
        self.assertNotIn(b"event: message_stop", body)
        self.assertFalse(body.endswith(b"0\r\n\r\n"), "stream must not end cleanly")
        st = self.sim.stats()
        self.assertEqual((st["fault_close"], st["fault_timeout"], st["fault_midstream"]),
                         (1, 1, 1))

    def test_header_overrides_the_catalog(self):
        status, _, data = messages_request(self.sim, self.body("a-500"), {"X-Sim-Fault": "none"})
        self.assertEqual(status, 200, data)
        status, _, data = messages_request(self.sim, self.body("a-500"), {"X-Sim-Fault": "529"})
        self.assertEqual(status, 529)


class TestOpenAITools(SimTestCase):
    def body(self, prompt="Say hello", **kw):
        b = {"model": "sim-instant", "messages": msgs(prompt), "tools": WEATHER_OPENAI}
        b.update(kw)
        return b

    def test_tool_calls_plain(self):
        status, _, data = self.sim.chat(self.body(tool_choice="required"))
        self.assertEqual(status, 200, data)
        obj = json.loads(data)
        choice = obj["choices"][0]
        self.assertEqual(choice["finish_reason"], "tool_calls")
        msg = choice["message"]
        self.assertEqual(set(msg), {"role", "content", "tool_calls"})
        self.assertIsNone(msg["content"])
        self.assertEqual(len(msg["tool_calls"]), 1)
        call = msg["tool_calls"][0]
        self.assertRegex(call["id"], r"^call_[0-9a-f]{24}$")
        self.assertEqual(call["type"], "function")
        self.assertEqual(call["function"]["name"], "get_weather")
        args = call["function"]["arguments"]
        self.assertIsInstance(args, str)
        self.assertEqual(json.loads(args), {"location": arg_word("Say hello"), "days": 1})
        self.assertEqual(obj["usage"]["completion_tokens"], 1 + (11 + len(args) + 3) // 4)
        self.assertEqual(obj["usage"]["prompt_tokens"], 10)  # tools add no prompt tokens

        forced = json.loads(self.sim.chat(self.body(tool_choice={
            "type": "function", "function": {"name": "get_time"}}))[2])
        call = forced["choices"][0]["message"]["tool_calls"][0]
        self.assertEqual((call["function"]["name"], call["function"]["arguments"]),
                         ("get_time", "{}"))
        none = json.loads(self.sim.chat(self.body(tool_choice="none"))[2])
        self.assertEqual(none["choices"][0]["message"]["content"],
                         "stream ramp so low we and quality tokens")

    def test_tool_calls_streamed(self):
        plain = json.loads(self.sim.chat(self.body(tool_choice="required"))[2])
        status, _, data = self.sim.chat(self.body(tool_choice="required", stream=True,
                                                  stream_options={"include_usage": True}))
        self.assertEqual(status, 200, data)
        events, done = parse_sse(data)
        self.assertTrue(done)
        first = events[0]["choices"][0]["delta"]
        self.assertEqual(first["role"], "assistant")
        self.assertIsNone(first["content"])
        head = first["tool_calls"][0]
        self.assertEqual((head["index"], head["type"], head["function"]),
                         (0, "function", {"name": "get_weather", "arguments": ""}))
        self.assertRegex(head["id"], r"^call_[0-9a-f]{24}$")
        pieces = events[1:-2]
        self.assertGreaterEqual(len(pieces), 3, "arguments must come in several deltas")
        args = ""
        for e in pieces:
            tc = e["choices"][0]["delta"]["tool_calls"][0]
            self.assertEqual(set(tc), {"index", "function"})
            self.assertEqual(tc["index"], 0)
            args += tc["function"]["arguments"]
        want = plain["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
        self.assertEqual(args, want)
        self.assertEqual(json.loads(args)["days"], 1)
        finish = events[-2]["choices"][0]
        self.assertEqual((finish["delta"], finish["finish_reason"]), ({}, "tool_calls"))
        self.assertEqual(events[-1]["usage"], plain["usage"])

    def test_auto_and_tool_result(self):
        call, text = prompts_by_auto()
        obj = json.loads(self.sim.chat(self.body(call))[2])
        self.assertEqual(obj["choices"][0]["finish_reason"], "tool_calls")
        obj = json.loads(self.sim.chat(self.body(text, tool_choice="auto"))[2])
        self.assertEqual(obj["choices"][0]["finish_reason"], "stop")
        tc = json.loads(self.sim.chat(self.body(call))[2])["choices"][0]["message"]["tool_calls"]
        after = msgs(call) + [{"role": "assistant", "content": None, "tool_calls": tc},
                              {"role": "tool", "tool_call_id": tc[0]["id"], "content": "sunny"}]
        obj = json.loads(self.sim.chat(self.body(call, messages=after, tool_choice="required"))[2])
        self.assertEqual(obj["choices"][0]["finish_reason"], "stop")
        self.assertIsInstance(obj["choices"][0]["message"]["content"], str)

    def test_images_count_85_tokens(self):
        obj = json.loads(self.sim.chat({"model": "sim-instant", "messages": [{"role": "user",
            "content": [{"type": "text", "text": "Say hello"},
                        {"type": "image_url", "image_url": {"url": "https://x/a.png"}}]}]})[2])
        self.assertEqual(obj["usage"]["prompt_tokens"], 10 + 85)

    def test_bad_tool_input(self):
        cases = [
            (self.body(messages=msgs() + [{"role": "tool", "content": "x"}]),
             "Missing required parameter: 'messages[1].tool_call_id'.",
             "messages[1].tool_call_id", "missing_required_parameter"),
            (self.body(tools=[{"type": "function", "function": {"name": "get weather"}}]),
             "Invalid 'tools[0].function.name': string does not match pattern. Expected a "
             "string that matches the pattern '^[a-zA-Z0-9_-]+$'.", "tools[0].function.name",
             "invalid_value"),
            ({"model": "sim-instant", "messages": msgs(), "tool_choice": "auto"},
             "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are "
             "specified.", "tool_choice", None),
            (self.body(tool_choice="always"),
             "Invalid value: 'always'. Supported values are: 'none', 'auto', and 'required'.",
             "tool_choice", "invalid_value"),
        ]
        for body, message, param, code in cases:
            status, _, data = self.sim.chat(body)
            self.assertEqual(status, 400, data)
            self.assertEqual(error_of(data), {"message": message, "type": "invalid_request_error",
                                              "param": param, "code": code})


class TestOpenAICache(unittest.TestCase):
    def test_cached_tokens(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "m.json")
            with open(path, "w") as f:
                json.dump({"models": {"cached": {"cache_hit_rate": 0.25,
                                                 "completion_tokens": {"min": 4, "max": 4}},
                                      "plain": {}}}, f)
            sim = Sim("--models", path)
            try:
                long_prompt = msgs("a" * 8000)  # 3 + 4 + 2000 = 2007 tokens
                obj = json.loads(sim.chat({"model": "cached", "messages": long_prompt})[2])
                # floor(2007 * 0.25) = 501, down to a multiple of 128: 384
                self.assertEqual(obj["usage"], {"prompt_tokens": 2007, "completion_tokens": 4,
                                                "total_tokens": 2011,
                                                "prompt_tokens_details": {"cached_tokens": 384}})
                _, _, data = sim.chat({"model": "cached", "messages": long_prompt,
                                       "stream": True, "stream_options": {"include_usage": True}})
                events, _ = parse_sse(data)
                self.assertEqual(events[-1]["usage"], obj["usage"])
                # short prompts: details present, nothing cached; no cache_hit_rate: no details
                obj = json.loads(sim.chat({"model": "cached", "messages": msgs()})[2])
                self.assertEqual(obj["usage"]["prompt_tokens_details"], {"cached_tokens": 0})
                obj = json.loads(sim.chat({"model": "plain", "messages": long_prompt})[2])
                self.assertNotIn("prompt_tokens_details", obj["usage"])
            finally:
                self.assertEqual(sim.stop(), 0)


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
            self.assertEqual(len(json.loads(sim.request("GET", "/v1/models")[2])["data"]), 12)
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
