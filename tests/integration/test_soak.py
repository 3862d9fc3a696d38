"""Soak: steady mixed load with provider faults for SOAK_SECONDS (default 120; `make soak`
runs it longer). What a long night must not do to the router:

- its memory (RSS) and open descriptors stay flat: measured at two quiet points, after a
  warm-up and at the end, with the load paused; the idle keep-alive connections to the
  simulator and PostgreSQL are counted apart (as many as the load last had at once, so
  bounded by the senders and the pool size), every other descriptor must stay put;
- no error beyond what the faults explain: the simulator's fault models inject 500, 429
  and 529 into plain requests (transient: retried at the provider, then failed over to a
  second provider of the same tier, 6 attempts in all, so all of them answer 200, and
  every injected fault costs exactly one more attempt: retries + failovers == faults), and
  midstream deaths into streams (not retriable once the first byte reached the client:
  each is exactly one in-band error, so stream errors == midstream faults);
- nothing lost: every answered request has its row in PostgreSQL and every feedback
  answered 200 has its row; no event was dropped.
"""

import http.client
import json
import os
import threading
import time
import unittest
import uuid

from harness import http as http_req, sign_webhook
from harness import switchyard_bin, wait_for
from stack import KEY, Stack

SECONDS = float(os.environ.get("SOAK_SECONDS", "120"))
THREADS = int(os.environ.get("SOAK_THREADS", "4"))
SECRET = "soak-feedback-secret"

FAULTS = {"500": 2, "429": 1, "529": 1}
SIM_MODELS = {
    # plain requests: transient faults only (retried), quick answers
    "plain-a": {"tier": "x", "latency_ms": {"median": 5, "p95": 20, "max": 50},
                "completion_tokens": {"min": 10, "max": 40}, "error_rate": 0.08,
                "errors": FAULTS, "retry_after_s": 1},
    "plain-b": {"tier": "x", "latency_ms": {"median": 5, "p95": 20, "max": 50},
                "completion_tokens": {"min": 10, "max": 40}, "error_rate": 0.08,
                "errors": FAULTS, "retry_after_s": 1},
    # streams: a provider that dies after the first bytes
    "stream": {"tier": "s", "latency_ms": {"median": 5, "p95": 20, "max": 50},
               "tokens_per_second": 0, "tokens_per_chunk": 2,
               "completion_tokens": {"min": 40, "max": 80}, "error_rate": 0.05,
               "errors": {"midstream": 1}},
}


def config(sim_url):
    return {
        "default_model": "a",
        "experiment": {"name": "soak", "salt": "s", "holdout_pct": 5},
        "providers": {"pa": {"base_url": sim_url, "timeout_ms": 10000},
                      "pb": {"base_url": sim_url, "timeout_ms": 10000},
                      "ps": {"base_url": sim_url, "timeout_ms": 10000}},
        "models": {
            "a": {"provider": "pa", "upstream": "plain-a", "tier": "premium",
                  "input_usd_per_mtok": 1, "output_usd_per_mtok": 2},
            "b": {"provider": "pb", "upstream": "plain-b", "tier": "premium",
                  "input_usd_per_mtok": 1, "output_usd_per_mtok": 2},
            "s": {"provider": "ps", "upstream": "stream", "tier": "streaming",
                  "input_usd_per_mtok": 1, "output_usd_per_mtok": 2},
        },
        "dispatch": {"retry_backoff_ms": 5, "retry_backoff_max_ms": 20,
                     "breaker_failures": 1000},
        "api_keys": [{"key": KEY, "project": "p", "allow_model_prefer": True}],
        "feedback": {"tolerance_s": 300, "projects": {"soak": {"secret_env": "SY_SOAK_SECRET"}}},
    }


def sign(body):
    return sign_webhook(body, SECRET)


def proc_stats(pid):
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def peer_ports(pid):
    """The remote port of each of the process's TCP sockets (0: listening or not TCP)."""
    remote = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    remote[cols[9]] = int(cols[2].rsplit(":", 1)[1], 16)
        except FileNotFoundError:
            pass
    ports = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            continue
        ports.append(remote.get(link[8:-1], 0) if link.startswith("socket:[") else 0)
    return ports


def pooled(ports, sim_port, pg_port):
    """Descriptors split into (idle keep-alive pools, everything else): upstream
    connections to the simulator and the feedback pool's to PostgreSQL stay open
    idle for up to a minute, as many as the load last had at once."""
    sim = sum(1 for p in ports if p == sim_port)
    pg = sum(1 for p in ports if p == pg_port)
    return sim, pg, len(ports) - sim - pg


class Load:
    """THREADS senders: 7 in 10 plain chats, 2 in 10 streams, 1 in 10 a feedback for an
    earlier answer. Every outcome is counted; pause() holds them at a quiet point."""

    def __init__(self, st, router):
        self.st, self.router = st, router
        self.lock = threading.Lock()
        self.plain = {}          # status -> count
        self.streams = 0
        self.stream_errors = 0   # in-band errors (the provider died mid-stream)
        self.stream_other = []   # anything else: unexplained
        self.ids = []            # every X-Request-Id answered
        self.feedback_ok = 0
        self.feedback_other = []
        self.stop_flag = threading.Event()
        self.running = threading.Event()
        self.running.set()
        self.idle = threading.Semaphore(0)
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(THREADS)]

    def stream(self, n, i):
        conn = http.client.HTTPConnection("127.0.0.1", self.router.port, timeout=60)
        try:
            body = json.dumps({"stream": True, "messages": [
                {"role": "user", "content": f"tell me a story {n}-{i}"}]})
            conn.request("POST", "/v1/chat/completions", body=body, headers={
                "Authorization": f"Bearer {KEY}", "Content-Type": "application/json",
                "X-Model-Prefer": "s", "X-User-Id": f"u{n}-{i % 40}"})
            resp = conn.getresponse()
            data = resp.read().decode()
            return resp.status, resp.getheader("x-request-id"), data
        finally:
            conn.close()

    def run(self, n):
        i, last = 0, None
        while not self.stop_flag.is_set():
            if not self.running.is_set():
                self.idle.release()
                self.running.wait()
                continue
            i += 1
            kind = i % 10
            if kind in (7, 8):
                st, rid, data = self.stream(n, i)
                done = "data: [DONE]" in data
                err = '"error"' in data and not done
                with self.lock:
                    self.streams += 1
                    if st == 200 and rid:
                        self.ids.append(rid)
                    if st == 200 and done and not err:
                        pass
                    elif st == 200 and err:
                        self.stream_errors += 1
                    else:
                        self.stream_other.append((st, data[-300:]))
            elif kind == 9 and last:
                raw = json.dumps({"feedback_id": f"soak-{uuid.uuid4().hex}", "request_id": last,
                                  "kind": "thumb", "value": "up"}).encode()
                st, _, body = http_req("POST", f"http://127.0.0.1:{self.router.port}/v1/feedback",
                                       raw, {"Content-Type": "application/json",
                                             "X-Switchyard-Signature": sign(raw)}, timeout=30)
                with self.lock:
                    if st == 200:
                        self.feedback_ok += 1
                    else:
                        self.feedback_other.append((st, body[:300]))
            else:
                st, h, _ = self.st.chat(self.router, {"messages": [
                    {"role": "user", "content": f"hello {n}-{i}"}]}, user=f"u{n}-{i % 40}",
                    timeout=60)
                with self.lock:
                    self.plain[st] = self.plain.get(st, 0) + 1
                    if h.get("x-request-id"):
                        self.ids.append(h["x-request-id"])
                        last = h["x-request-id"]

    def start(self):
        for t in self.threads:
            t.start()

    def pause(self):
        self.running.clear()
        for _ in self.threads:
            self.idle.acquire()

    def resume(self):
        self.running.set()

    def stop(self):
        self.stop_flag.set()
        self.running.set()
        for t in self.threads:
            t.join(120)


class SoakTest(unittest.TestCase):
    def test_soak(self):
        st = Stack(sim_models=SIM_MODELS).start()
        self.addCleanup(st.stop)
        r = st.router(config(st.sim_url()), SY_SOAK_SECRET=SECRET)
        wait_for(lambda: any(x.get("msg") == "database connected" for x in r.log_records()),
                 what="the feedback pool")
        pid = r.proc.pid

        def quiet_stats():
            # connections the load closed are gone once the router has seen the EOFs
            wait_for(lambda: "switchyard_open_connections 1\n" in st.metrics(r), 10,
                     what="no client connection but ours")
            return proc_stats(pid)[0], pooled(peer_ports(pid), st.sim.port, st.svc.pg_port)

        load = Load(st, r)
        load.start()
        t0 = time.monotonic()
        time.sleep(max(5.0, SECONDS * 0.2))  # warm-up: pools, caches, allocator arenas
        load.pause()
        rss0, (sim0, pg0, fds0) = quiet_stats()
        load.resume()
        samples = [(time.monotonic() - t0, rss0, sim0 + pg0 + fds0)]
        while time.monotonic() - t0 < SECONDS:
            time.sleep(min(10.0, max(0.1, SECONDS - (time.monotonic() - t0))))
            samples.append((time.monotonic() - t0, *proc_stats(pid)))
        load.stop()
        rss1, (sim1, pg1, fds1) = quiet_stats()
        samples.append((time.monotonic() - t0, rss1, sim1 + pg1 + fds1))
        report = ("t_s rss_kib fds: " + "; ".join(f"{t:.0f} {a} {b}" for t, a, b in samples) +
                  f"; quiet points: idle to the simulator {sim0} -> {sim1}, to PostgreSQL "
                  f"{pg0} -> {pg1}, other descriptors {fds0} -> {fds1}")
        print(f"\nsoak {SECONDS:.0f}s: plain {load.plain}, streams {load.streams} "
              f"({load.stream_errors} died midstream), feedback {load.feedback_ok}\n{report}")

        # flat: a leak of a few hundred bytes a request would show over thousands. Under
        # AddressSanitizer (make asan-check) freed memory sits in its quarantine (up to
        # 256 MiB), so RSS grows by design there and only LeakSanitizer can judge leaks
        with open(switchyard_bin(), "rb") as f:
            asan = b"__asan_init" in f.read()
        if not asan:
            self.assertLessEqual(rss1, rss0 * 1.2 + 4096, report)
        # descriptors: everything but the idle pools flat; the pools no larger than the
        # load can fill (one request in flight per sender; 4 feedback connections at most)
        self.assertLessEqual(fds1, fds0 + 1, report)
        self.assertLessEqual(sim1, THREADS, report)
        self.assertLessEqual(pg1, 4, report)

        # no error beyond the faults
        nplain = sum(load.plain.values())
        self.assertGreater(nplain, 100)
        self.assertEqual(load.plain, {200: nplain})
        self.assertEqual(load.stream_other, [])
        self.assertEqual(load.feedback_other, [])
        m = st.metrics(r)
        metric = {}
        for line in m.splitlines():
            if line and not line.startswith("#"):
                k, _, v = line.rpartition(" ")
                metric[k] = float(v)
        self.assertEqual(metric["switchyard_events_dropped_total"], 0)
        st.sim.stop()
        stats = [x for x in st.sim.log_records() if x.get("msg") == "stopped"][-1]
        self.assertEqual(load.stream_errors, stats["fault_midstream"], stats)
        faults = stats["fault_500"] + stats["fault_429"] + stats["fault_529"]
        self.assertGreater(faults, 0, stats)
        self.assertEqual(metric["switchyard_retries_total"] + metric["switchyard_failovers_total"],
                         faults, stats)
        self.assertEqual(stats["fault_close"] + stats["fault_timeout"], 0, stats)

        # nothing lost
        answered = len(load.ids)
        self.assertEqual(answered, nplain + load.streams)
        wait_for(lambda: st.count_rows() >= answered, 120, interval=0.5,
                 what=f"{answered} rows (have {st.count_rows()})")
        self.assertEqual(st.count_rows(), answered)
        stored = {row[0] for row in st.svc.psql("SELECT request_id FROM requests")}
        self.assertEqual(stored, set(load.ids))
        fb = int(st.svc.psql("SELECT count(*) FROM feedback")[0][0])
        self.assertEqual(fb, load.feedback_ok)


if __name__ == "__main__":
    unittest.main()
