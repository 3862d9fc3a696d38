"""The router's built-in upstream client (common/h1client.c) against real and fake providers.

What libcurl used to do for http:// providers and the built-in client must do as well:
keep-alive reuse that survives a provider restart, one silent retry when a reused connection
turns out dead, Content-Length / chunked / close-delimited answers, malformed heads, the
response size limit, the connect timeout, and host names. Each answer is asserted exactly as
the client sees it.
"""

import json
import os
import select
import socket
import threading
import unittest

from harness import Proc, http
from stack import Stack

KEY = "sk-test-upstream"
MAX_RESPONSE = 64 << 20  # the router's limit on a buffered provider answer


def completion(model):
    return json.dumps({
        "id": "cmpl-fake", "object": "chat.completion", "created": 1700000000, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi from " + model},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}},
        separators=(",", ":")).encode()


class FakeProvider:
    """An HTTP/1.1 provider that answers by the model named in the request body.

    length    Content-Length, keep-alive
    chunked   Transfer-Encoding: chunked, with chunk extensions and a trailer
    close     no length: the body ends when the connection closes
    malformed a status line without a status code
    huge      a chunked body over the router's limit
    huge_cl   a Content-Length over the router's limit (then waits)
    dropper   answers the first request of a connection; closes a reused one unanswered
    """

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepts = 0
        self.requests = []  # (model, request number on its connection, head, body length)
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.sock.close()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.accepts += 1
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        buf = b""
        n = 0
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                head, _, buf = buf.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buf) < length:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                body, buf = buf[:length], buf[length:]
                model = json.loads(body)["model"]
                n += 1
                with self.lock:
                    self.requests.append((model, n, head.decode(), len(body)))
                if not getattr(self, "do_" + model)(c, n, completion(model)):
                    return
        except OSError:
            pass
        finally:
            c.close()

    # each returns whether the connection stays open
    def do_length(self, c, n, body):
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                  % len(body) + body)
        return True

    def do_chunked(self, c, n, body):
        out = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        for i in range(0, len(body), 7):
            piece = body[i:i + 7]
            out += b"%x;piece=%d\r\n%s\r\n" % (len(piece), i // 7, piece)
        c.sendall(out + b"0\r\nX-Checksum: none\r\n\r\n")
        return True

    def do_close(self, c, n, body):
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
                  + body)
        return False

    def do_malformed(self, c, n, body):
        c.sendall(b"HTTP/1.1 OK\r\nContent-Length: 2\r\n\r\nok")
        return False

    def do_huge(self, c, n, body):
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        piece = b"%x\r\n%s\r\n" % (1 << 20, b"x" * (1 << 20))
        for _ in range(MAX_RESPONSE // (1 << 20) + 1):  # one MiB more than the limit
            c.sendall(piece)
        c.sendall(b"0\r\n\r\n")
        return False

    def do_huge_cl(self, c, n, body):
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n{" % (MAX_RESPONSE + 1))
        c.settimeout(10)
        while c.recv(65536):  # until the router gives up on it
            pass
        return False

    def do_dropper(self, c, n, body):
        if n > 1:
            return False  # as if the provider had closed the idle connection just then
        return self.do_length(c, n, body)


def tarpit():
    """A listening socket whose backlog is full: a connect to it never completes.

    (A non-routable address would do on most hosts, but some sandboxes answer every
    outgoing connect.) Returns the listener and the sockets holding the backlog."""
    lsn = socket.socket()
    lsn.bind(("127.0.0.1", 0))
    lsn.listen(0)
    held = []
    for _ in range(64):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(lsn.getsockname())
        except BlockingIOError:
            pass
        held.append(s)
        if not select.select([], [s], [], 0.3)[1]:
            return lsn, held  # this one hangs: so will the router's
    raise RuntimeError("cannot fill the listen backlog")


class UpstreamClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.st = Stack().start()  # Redis, PostgreSQL, the simulator, ingest
        cls.fake = FakeProvider()
        cls.drop = FakeProvider()
        cls.pit, cls.pit_held = tarpit()
        # a port the simulator bound itself (not one freed for it), reused by its restart
        cls.rsim = cls.st._start(Proc("sim", ["--listen", "127.0.0.1:0"]))
        cls.rsim_port = cls.rsim.port
        sim = cls.st.sim.port
        fake_models = ["length", "chunked", "close", "malformed", "huge", "huge_cl"]
        models = {m: ("fake", m, "t-" + m) for m in fake_models}
        models.update({
            # a second provider in the same tier: a failed first attempt would fail over
            "dropper": ("drop", "dropper", "t-drop"),
            "dropper-backup": ("backup", "sim-instant", "t-drop"),
            "restart": ("restart", "sim-instant", "t-restart"),
            "restart-backup": ("backup", "sim-instant", "t-restart"),
            "ct": ("tarpit", "sim-instant", "t-ct"),
            "named": ("named", "sim-instant", "t-named"),
        })
        cls.cfg = {
            "default_model": "length",
            "experiment": {"name": "exp-up", "salt": "s", "holdout_pct": 5},
            "providers": {
                "fake": {"base_url": f"http://127.0.0.1:{cls.fake.port}/v1", "timeout_ms": 10000},
                "drop": {"base_url": f"http://127.0.0.1:{cls.drop.port}/v1"},
                "backup": {"base_url": f"http://127.0.0.1:{sim}/v1"},
                "restart": {"base_url": f"http://127.0.0.1:{cls.rsim_port}/v1"},
                "tarpit": {"base_url": f"http://127.0.0.1:{cls.pit.getsockname()[1]}/v1",
                           "connect_timeout_ms": 200, "timeout_ms": 5000},
                "named": {"base_url": f"http://localhost:{sim}/v1"},
            },
            "models": {name: {"provider": p, "upstream": up, "tier": tier,
                              "input_usd_per_mtok": 1.0, "output_usd_per_mtok": 2.0}
                       for name, (p, up, tier) in models.items()},
            "api_keys": [{"key": KEY, "project": "proj", "allow_model_prefer": True}],
            "dispatch": {"breaker_failures": 1000},
        }
        try:
            cls.router = cls.st.router(cls.cfg, name="router-up")
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.st.stop()
        cls.fake.close()
        cls.drop.close()
        cls.pit.close()
        for s in cls.pit_held:
            s.close()

    def ask(self, model, timeout=30):
        return self.st.chat(self.router, {"messages": [{"role": "user", "content": "hello"}]},
                            key=KEY, timeout=timeout, X_Model_Prefer=model)

    def assert_error(self, resp, status, code, message):
        st, _, body = resp
        self.assertEqual(st, status, body)
        self.assertEqual(json.loads(body), {"error": {"message": message, "type": "api_error",
                                                      "param": None, "code": code}})

    def failovers(self):
        for line in self.st.metrics(self.router).splitlines():
            if line.startswith("switchyard_failovers_total "):
                return int(line.split()[1])
        self.fail("no switchyard_failovers_total")

    # ---- framings: the provider's body comes through byte for byte ----

    def test_content_length_chunked_and_close_delimited(self):
        for model in ("length", "chunked", "close", "length", "chunked"):
            st, h, body = self.ask(model)
            self.assertEqual(st, 200, body)
            self.assertEqual(body, completion(model), model)
            self.assertEqual(h["x-route-model"], model)
            row = self.st.row(h["x-request-id"])
            self.assertEqual((row["attempts"], row["tokens_in"], row["tokens_out"]), ("1", "5", "3"))
        # the request the provider got (no key: none is configured for it)
        _, _, head, body_len = [r for r in self.fake.requests if r[0] == "length"][0]
        self.assertEqual(head.split("\r\n"), [
            "POST /v1/chat/completions HTTP/1.1", f"Host: 127.0.0.1:{self.fake.port}",
            "User-Agent: switchyard", "Content-Type: application/json",
            f"Content-Length: {body_len}"])

    # ---- refusals: the status and body the client gets ----

    def test_malformed_head_is_502(self):
        self.assert_error(self.ask("malformed"), 502, "upstream_error",
                          "provider fake failed for model malformed: malformed status line "
                          "(after 3 attempts)")

    def test_answer_over_the_size_limit_is_502(self):
        msg = "provider fake failed for model {}: response exceeds the size limit (after 3 attempts)"
        self.assert_error(self.ask("huge_cl"), 502, "upstream_error", msg.format("huge_cl"))
        self.assert_error(self.ask("huge"), 502, "upstream_error", msg.format("huge"))
        # the router is fine afterwards
        self.assertEqual(self.ask("length")[0], 200)

    def test_connect_timeout_is_504(self):
        st, h, body = self.ask("ct")
        port = self.pit.getsockname()[1]
        self.assert_error((st, h, body), 504, "upstream_timeout",
                          f"provider tarpit did not answer in time for model ct: connection to "
                          f"127.0.0.1 port {port} timed out after 200 ms (after 3 attempts)")
        row = self.st.row(h["x-request-id"])
        self.assertEqual((row["status"], row["error"], row["attempts"]),
                         ("504", "upstream_timeout", "3"))

    # ---- connections ----

    def test_host_name(self):
        for _ in range(2):
            st, h, body = self.ask("named")
            self.assertEqual(st, 200, body)
            self.assertEqual(json.loads(body)["object"], "chat.completion")
            self.assertEqual(h["x-route-model"], "named")

    def test_provider_restart_between_requests(self):
        before = self.failovers()
        st, h, _ = self.ask("restart")
        self.assertEqual((st, h["x-route-model"]), (200, "restart"))
        # the provider goes away and comes back on the same port: the router's idle
        # connection to it is dead, the next request must not notice
        type(self).rsim.stop()
        type(self).rsim = self.st._start(Proc("sim", ["--listen", f"127.0.0.1:{self.rsim_port}"]))
        st, h, body = self.ask("restart")
        self.assertEqual(st, 200, body)
        self.assertEqual(h["x-route-model"], "restart")  # not the backup
        self.assertEqual(self.st.row(h["x-request-id"])["attempts"], "1")
        self.assertEqual(self.failovers(), before)

    def test_reused_connection_closed_unanswered_is_sent_again(self):
        before = self.failovers()
        accepts = self.drop.accepts
        for i in range(3):
            st, h, body = self.ask("dropper")
            self.assertEqual(st, 200, body)
            self.assertEqual(body, completion("dropper"))
            self.assertEqual(h["x-route-model"], "dropper")  # not the backup
            self.assertEqual(self.st.row(h["x-request-id"])["attempts"], "1")
        # each request after the first went out on the kept connection, was dropped, and
        # was sent again on a new one: 3 connections, 5 requests seen
        self.assertEqual(self.drop.accepts - accepts, 3)
        self.assertEqual([r[1] for r in self.drop.requests], [1, 2, 1, 2, 1])
        self.assertEqual(self.failovers(), before)


if __name__ == "__main__":
    unittest.main()
