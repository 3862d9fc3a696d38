"""No event is lost: requests sent vs rows stored, while PostgreSQL restarts (30 s) and while
Redis is down, frozen, slow or restarts, under load. Drops beyond the bounded queue are
counted, never silent.
"""

import collections
import os
import signal
import socket
import threading
import time
import unittest

from harness import LoadThreads, wait_for
from stack import KEY, Stack

SIM_MODELS = {"instant": {"completion_tokens": {"min": 5, "max": 20}}}


def config(sim_url):
    return {
        "default_model": "big",
        "experiment": {"name": "exp-d", "salt": "s", "holdout_pct": 5},
        "providers": {"sim": {"base_url": sim_url}},
        "models": {"big": {"provider": "sim", "upstream": "instant", "tier": "premium",
                           "input_usd_per_mtok": 2.5, "output_usd_per_mtok": 10.0}},
        "api_keys": [{"key": KEY, "project": "p"}],
    }


class Load(LoadThreads):
    """Requests from a few threads until stopped; counts every answered request by status."""

    def __init__(self, st, router, threads=4, pause=0.01):
        self.st, self.router, self.pause = st, router, pause
        self.sent = 0
        self.statuses = {}
        self.ids = []
        LoadThreads.__init__(self, threads)

    def run(self, n):
        i = 0
        while not self.stop_flag.is_set():
            i += 1
            st, h, _ = self.st.chat(self.router, {"messages": [{"role": "user", "content": "hi"}]},
                                    user=f"load-{n}-{i % 50}")
            with self.lock:
                self.sent += 1
                self.statuses[st] = self.statuses.get(st, 0) + 1
                self.ids.append(h.get("x-request-id"))
            time.sleep(self.pause)


class SlowProxy:
    """TCP proxy on 127.0.0.1 in front of PORT; what the server sends reaches the client
    DELAY seconds late (in order); what the client sends goes through at once."""

    def __init__(self, port, delay):
        self.port, self.delay = port, delay
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen()
        self.url = f"redis://127.0.0.1:{self.lsock.getsockname()[1]}"
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            s = socket.create_connection(("127.0.0.1", self.port))
            threading.Thread(target=self.pipe, args=(c, s), daemon=True).start()
            q, cv = collections.deque(), threading.Condition()
            threading.Thread(target=self.read_late, args=(s, q, cv), daemon=True).start()
            threading.Thread(target=self.write_late, args=(c, q, cv), daemon=True).start()

    @staticmethod
    def pipe(src, dst):
        try:
            while (d := src.recv(65536)):
                dst.sendall(d)
        except OSError:
            pass
        for x in (src, dst):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def read_late(self, src, q, cv):
        try:
            while (d := src.recv(65536)):
                with cv:
                    q.append((time.monotonic() + self.delay, d))
                    cv.notify()
        except OSError:
            pass
        with cv:
            q.append((0, b""))
            cv.notify()

    def write_late(self, dst, q, cv):
        while True:
            with cv:
                while not q:
                    cv.wait()
                due, d = q.popleft()
            if not d:
                break
            time.sleep(max(0.0, due - time.monotonic()))
            try:
                dst.sendall(d)
            except OSError:
                break
        try:
            dst.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self):
        self.lsock.close()


class DurabilityTest(unittest.TestCase):
    def setUp(self):
        self.st = Stack(sim_models=SIM_MODELS, redis_aof=True).start()
        self.r = self.st.router(config(self.st.sim_url()))

    def tearDown(self):
        self.st.stop()

    def assert_all_stored(self, load, timeout=120):
        self.assertGreater(load.sent, 50)
        wait_for(lambda: self.st.count_rows() >= load.sent, timeout,
                 what=f"{load.sent} rows (have {self.st.count_rows()})")
        self.assertEqual(self.st.count_rows(), load.sent)
        distinct = int(self.st.svc.psql("SELECT count(DISTINCT request_id) FROM requests")[0][0])
        self.assertEqual(distinct, load.sent)
        self.assertEqual(int(self.st.svc.redis("XLEN", "sy:events")), 0)

    def test_postgres_restart_30s_under_load(self):
        with Load(self.st, self.r) as load:
            time.sleep(3)
            self.st.svc.stop_pg()
            time.sleep(30)  # routing goes on; events wait in the Redis stream
            during = load.sent
            self.st.svc.start_pg()
            time.sleep(3)
        self.assertEqual(load.statuses.get(200), load.sent)  # clients saw no error
        self.assertGreater(during, 100)
        self.assert_all_stored(load)

    def test_redis_outage_and_restart_under_load(self):
        with Load(self.st, self.r) as load:
            time.sleep(2)
            self.st.svc.stop_redis()
            time.sleep(5)  # cohorts from the hash, events in the router's memory
            self.st.svc.start_redis()
            time.sleep(2)
            self.st.svc.restart_redis()  # graceful restart: the AOF keeps the stream
            time.sleep(2)
        self.assertEqual(load.statuses.get(200), load.sent)
        self.assert_all_stored(load)
        fallback = self.st.count_rows("redis_fallback")
        self.assertGreater(fallback, 0)  # the events say the cohort came without Redis

    def test_slow_redis_is_not_taken_for_a_dead_one(self):
        # every Redis answer 300 ms late: slower than the janitor's 100 ms look, faster than
        # --redis-timeout-ms (1 s). Nothing may be reconnected: not after a quiet spell
        # either, when the last answer is older than the timeout but the command is new
        proxy = SlowProxy(self.st.svc.redis_port, 0.3)
        self.addCleanup(proxy.close)
        r = self.st.router(config(self.st.sim_url()), ["--state-refresh-ms", "1500"],
                           SWITCHYARD_REDIS_URL=proxy.url)
        time.sleep(5)  # quiet: three state reads, each 1.5 s after the last answer
        with Load(self.st, r, threads=2, pause=0.05) as load:
            time.sleep(3)
        self.assertEqual(load.statuses.get(200), load.sent)
        self.assert_all_stored(load)
        msgs = [x.get("msg") for x in r.log_records()]
        self.assertNotIn("redis not answering, reconnecting", msgs)
        self.assertNotIn("redis disconnected", msgs)

    def test_frozen_redis_requests_go_on(self):
        # Redis stopped (SIGSTOP) under load: connections stay open, nothing answers.
        # Clients see no error and no wait; the router gives up on the connection after
        # --redis-timeout-ms; events wait in its memory and all land after SIGCONT
        with open(os.path.join(self.st.svc.dir, "redis", "redis.pid")) as f:
            pid = int(f.read())
        with Load(self.st, self.r) as load:
            time.sleep(1)
            os.kill(pid, signal.SIGSTOP)
            try:
                time.sleep(3)
                during = load.sent
                wait_for(lambda: any(x.get("msg") == "redis not answering, reconnecting"
                                     for x in self.r.log_records()), 30,
                         what="the router to give up on the frozen connection")
                time.sleep(1)
                self.assertGreater(load.sent, during)  # answered while Redis is frozen
            finally:
                os.kill(pid, signal.SIGCONT)
            time.sleep(1)
        self.assertEqual(load.statuses.get(200), load.sent)
        self.assert_all_stored(load)

    def test_overflow_is_counted_and_logged(self):
        r = self.st.router(config(self.st.sim_url()), ["--event-queue", "10"])
        self.st.svc.stop_redis()
        time.sleep(0.5)
        for i in range(30):
            st, _, _ = self.st.chat(r, {"messages": [{"role": "user", "content": "x"}]},
                                    user=f"o{i}")
            self.assertEqual(st, 200)
        st, _, m = self.st.get(r, "/metrics")
        self.assertIn("switchyard_events_dropped_total 20", m.decode())
        self.assertIn("switchyard_event_queue_depth 10", m.decode())
        self.assertTrue(any(x.get("msg") == "event queue full, events dropped"
                            for x in r.log_records()))
        self.st.svc.start_redis()
        wait_for(lambda: self.st.count_rows("project = 'p' AND user_hash IS NOT NULL") >= 10, 30,
                 what="the 10 queued events")
        time.sleep(1)
        self.assertEqual(self.st.count_rows(), 10)

    def gauges(self, r):
        out = {}
        for line in self.st.metrics(r).splitlines():
            if line.startswith("switchyard_event_"):
                k, _, v = line.partition(" ")
                out[k] = float(v)
        return out

    def test_spool_depth_and_age_in_metrics(self):
        # ingest away: the stream's backlog (entries, oldest entry's age) shows in /metrics
        self.st.ingest.stop()
        t0 = time.time()
        for i in range(3):
            st, _, _ = self.st.chat(self.r, {"messages": [{"role": "user", "content": "x"}]},
                                    user=f"s{i}")
            self.assertEqual(st, 200)
        wait_for(lambda: int(self.st.svc.redis("XLEN", "sy:events")) > 0, 5, what="entries")
        xlen = int(self.st.svc.redis("XLEN", "sy:events"))
        wait_for(lambda: self.gauges(self.r)["switchyard_event_spool_entries"] == xlen, 10,
                 what=f"switchyard_event_spool_entries {xlen}")
        g = self.gauges(self.r)
        since = time.time() - t0
        self.assertGreater(g["switchyard_event_spool_age_seconds"], 0)
        self.assertLessEqual(g["switchyard_event_spool_age_seconds"], since + 0.01)
        self.assertEqual(g["switchyard_event_queue_depth"], 0)
        self.assertEqual(g["switchyard_event_queue_age_seconds"], 0)
        # ingest back: the backlog drains to nothing
        self.st.start_ingest()
        wait_for(lambda: self.st.count_rows() == 3, 20, what="3 rows")
        wait_for(lambda: self.gauges(self.r)["switchyard_event_spool_entries"] == 0, 10,
                 what="an empty spool in /metrics")
        self.assertEqual(self.gauges(self.r)["switchyard_event_spool_age_seconds"], 0)
        # Redis away: events wait in memory (depth, age); the stream is unknown (-1)
        self.st.svc.stop_redis()
        wait_for(lambda: self.gauges(self.r)["switchyard_event_spool_entries"] == -1, 10,
                 what="the spool unknown while Redis is away")
        t1 = time.time()
        for i in range(2):
            st, _, _ = self.st.chat(self.r, {"messages": [{"role": "user", "content": "y"}]},
                                    user=f"q{i}")
            self.assertEqual(st, 200)
        g = self.gauges(self.r)
        self.assertEqual(g["switchyard_event_queue_depth"], 2)
        self.assertGreater(g["switchyard_event_queue_age_seconds"], 0)
        self.assertLessEqual(g["switchyard_event_queue_age_seconds"], time.time() - t1 + 0.01)
        self.assertEqual(g["switchyard_event_spool_age_seconds"], -1)
        self.st.svc.start_redis()
        wait_for(lambda: self.st.count_rows() == 5, 30, what="5 rows")
        g = self.gauges(self.r)
        self.assertEqual((g["switchyard_event_queue_depth"], g["switchyard_event_queue_age_seconds"]),
                         (0, 0))


if __name__ == "__main__":
    unittest.main()
