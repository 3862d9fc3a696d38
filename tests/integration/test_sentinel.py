"""Redis Sentinel: router, ingest and controller take a redis+sentinel:// URL, find the
primary through the Sentinels and follow a failover (the primary killed) under load. Every
answered request gets its row (events waiting in the router's memory meanwhile are
delivered after), users keep their cohorts, and the switch is logged.
"""

import datetime
import json
import os
import sys
import time
import unittest

from harness import LoadThreads, Proc, http, source_dir, start_redis_sentinel_set, wait_for
from stack import KEY, Stack, bucket, is_routed, user_hash

EXP = "exp-sen"
SALT = "salt-sen"
TOKEN = "admin-token-for-tests-0123456789"
SIM_MODELS = {"instant": {"completion_tokens": {"min": 5, "max": 20}}}
USERS = [f"sen-user-{i}" for i in range(40)]
FORCED = "sen-forced-0"  # forced into the routed arm, which its bucket would not give it


def log_time(rec):
    """A JSON log record's ts as a Unix time."""
    return datetime.datetime.fromisoformat(rec["ts"].replace("Z", "+00:00")).timestamp()


def config(sim_url):
    m = {"provider": "sim", "upstream": "instant", "input_usd_per_mtok": 1.0,
         "output_usd_per_mtok": 1.0}
    return {
        "default_model": "big",
        "experiment": {"name": EXP, "salt": SALT, "holdout_pct": 5},
        "providers": {"sim": {"base_url": sim_url}},
        "models": {"big": dict(m, tier="premium"), "small": dict(m, tier="economy")},
        "routing": {t: {"eco": "small", "balanced": "small", "sport": "small"}
                    for t in ("simple", "code", "reasoning", "complex")},
        "api_keys": [{"key": KEY, "project": "p"}],
        "classifier_rules": {"patterns": [{"regex": ".", "task": "simple"}]},
        "classifier_model": "/nonexistent/model",
    }


def definition(name):
    with open(os.path.join(source_dir(), "experiments", "task-routing.fast.json")) as f:
        d = json.load(f)
    d["experiment"]["name"] = name
    return d


class Load(LoadThreads):
    """Requests from a few threads until stopped: (user, status, request id, cohort)."""

    def __init__(self, st, router, threads=3):
        self.st, self.router = st, router
        self.results = []
        LoadThreads.__init__(self, threads)

    def run(self, n):
        i = n
        while not self.stop_flag.is_set():
            user = (USERS + [FORCED])[i % (len(USERS) + 1)]
            i += len(self.threads)
            try:
                st, h, _ = self.st.chat(self.router, {"model": "auto", "messages": [
                    {"role": "user", "content": "hi"}]}, user=user, timeout=15)
            except OSError as e:
                st, h = f"error: {e}", {}
            with self.lock:
                self.results.append((user, st, h.get("x-request-id"), h.get("x-route-cohort")))
            time.sleep(0.01)


class SentinelFailoverTest(unittest.TestCase):
    def setUp(self):
        self.rs = start_redis_sentinel_set(down_after_ms=1000, failover_timeout_ms=3000)
        self.addCleanup(self.rs.stop)
        self.st = Stack(sim_models=SIM_MODELS, ingest=False).start()
        self.addCleanup(self.st.stop)

    def env(self, **extra):
        return self.st.svc.env(SWITCHYARD_REDIS_URL=self.rs.url, **extra)

    def admin(self, ctl, method, path, body=None):
        st, _, b = http(method, f"http://127.0.0.1:{ctl.port}{path}", body,
                        {"Authorization": f"Bearer {TOKEN}"})
        return st, json.loads(b) if b else None

    def test_failover_under_load(self):
        rs = self.rs
        primary = rs.primary_port()
        # the experiment's state and forced users live in Redis; the replica gets them
        rs.redis(primary, "HSET", f"sy:{{{EXP}}}:state", "phase", "ramp", "routed_bp", "5000",
                 "salt", SALT, "holdout_bp", "500", "version", "1")
        rs.redis(primary, "HSET", f"sy:{{{EXP}}}:forced", user_hash(FORCED), "routed")
        self.assertFalse(is_routed(bucket(FORCED, SALT), 500, 5000))  # forced, not by chance

        router = self.st.router(config(self.st.sim_url()), ["--state-refresh-ms", "300"],
                                SWITCHYARD_REDIS_URL=rs.url)
        ingest = self.st._start(Proc("ingest", ["--block-ms", "100"], env=self.env()),
                                wait=False)
        ctl = self.st._start(Proc("controller", ["--listen", "127.0.0.1:0", "--tick-ms", "300"],
                                  env=self.env(SWITCHYARD_ADMIN_TOKEN=TOKEN)))
        wait_for(lambda: any(r.get("msg") == "forced cohorts loaded"
                             for r in router.log_records()), 10, what="forced cohorts")
        st, _ = self.admin(ctl, "POST", "/admin/experiments", definition("exp-ctl-a"))
        self.assertEqual(st, 201)
        wait_for(lambda: rs.redis(primary, "EXISTS", "sy:{exp-ctl-a}:state") == "1", 10,
                 what="the controller to publish to the first primary")

        with Load(self.st, router) as load:
            time.sleep(2)
            before = len(load.results)
            t_kill = time.time()
            old = rs.kill_primary()
            new = rs.wait_failover(old)
            t_named = time.time()
            time.sleep(3)
        self.assertNotEqual(new, old)
        after = len(load.results) - before
        self.assertGreater(before, 20)
        self.assertGreater(after, 20)

        # clients saw no error: the router answers without Redis
        statuses = {}
        for _, s, _, _ in load.results:
            statuses[s] = statuses.get(s, 0) + 1
        self.assertEqual(statuses, {200: len(load.results)})

        # every answered request has exactly one row, once ingest drains the new primary
        ids = [rid for _, s, rid, _ in load.results if s == 200]
        self.assertEqual(len(set(ids)), len(ids))
        wait_for(lambda: self.st.count_rows() >= len(ids), 90,
                 what=f"{len(ids)} rows (have {self.st.count_rows()})")
        stored = {r[0] for r in self.st.svc.psql("SELECT request_id FROM requests")}
        self.assertEqual(len(stored), self.st.count_rows())
        self.assertEqual(stored, set(ids))
        wait_for(lambda: rs.redis(new, "XLEN", "sy:events") == "0", 30,
                 what="the stream on the new primary to drain")

        # users keep their cohorts: the answers and the stored rows agree, before and after
        by_user = {}
        for user, _, _, cohort in load.results:
            by_user.setdefault(user, set()).add(cohort)
        for user, cohorts in by_user.items():
            self.assertEqual(len(cohorts), 1, f"{user} changed cohort: {cohorts}")
        self.assertEqual(by_user[FORCED], {"routed"})
        rows = self.st.svc.psql("SELECT user_hash, count(DISTINCT cohort) FROM requests "
                                "GROUP BY user_hash")
        self.assertEqual(len(rows), len(USERS) + 1)
        self.assertEqual({r[1] for r in rows}, {"1"})
        # the user records replicated: the new primary has them (written before the kill)
        rec = rs.redis(new, "HGET", f"sy:{{{EXP}}}:user:{user_hash(USERS[0])}", "cohort")
        self.assertEqual(rec, list(by_user[USERS[0]])[0])

        # each component logged the switch to the new primary
        for proc in (router, ingest):
            wait_for(lambda p=proc: any(r.get("msg") == "redis primary switched" and
                                        r.get("port") == new for r in p.log_records()),
                     10, what=f"{proc.argv[1]} to log the switch")
        def switched_at(proc):
            return min(log_time(r) for r in proc.log_records()
                       if r.get("msg") == "redis primary switched")
        print(f"\nsentinel failover: primary killed; sentinels named the replica after "
              f"{t_named - t_kill:.1f} s; router switched after {switched_at(router) - t_kill:.1f}"
              f" s, ingest after {switched_at(ingest) - t_kill:.1f} s; {len(load.results)} "
              f"requests, all 200, all stored", file=sys.stderr)
        # the controller finds the new primary at its next command
        st, _ = self.admin(ctl, "POST", "/admin/experiments", definition("exp-ctl-b"))
        self.assertEqual(st, 201)
        wait_for(lambda: rs.redis(new, "EXISTS", "sy:{exp-ctl-b}:state") == "1", 15,
                 what="the controller to publish to the new primary")
        self.assertTrue(any(r.get("msg") == "redis primary switched" and r.get("port") == new
                            for r in ctl.log_records()))

    def test_graceful_failover_with_min_replicas(self):
        # SENTINEL FAILOVER: the old primary takes writes for about 10 s more, until the
        # Sentinels turn it into a replica, and what it took then is discarded. The router
        # leaves it when the Sentinels announce +switch-master; what it sent before that and
        # no replica has is safe only with min_replicas=1: the router counts a batch as
        # spooled once a replica has it (WAIT), so those batches go to the new primary.
        rs = self.rs
        router = self.st.router(config(self.st.sim_url()), [],
                                SWITCHYARD_REDIS_URL=rs.url + "?min_replicas=1")
        self.st._start(Proc("ingest", ["--block-ms", "100"], env=self.env()), wait=False)
        with Load(self.st, router, threads=2) as load:
            time.sleep(1.5)
            old = rs.primary_port()
            rs.failover()
            new = rs.wait_failover(old)
            wait_for(lambda: rs.role(old) == "slave", 30, interval=0.2,
                     what="the old primary to become a replica")
            time.sleep(1)
        statuses = {}
        for _, st, _, _ in load.results:
            statuses[st] = statuses.get(st, 0) + 1
        self.assertEqual(statuses, {200: len(load.results)})
        ids = {rid for _, _, rid, _ in load.results}
        self.assertEqual(len(ids), len(load.results))
        wait_for(lambda: self.st.count_rows() >= len(ids), 90,
                 what=f"{len(ids)} rows (have {self.st.count_rows()})")
        stored = {r[0] for r in self.st.svc.psql("SELECT request_id FROM requests")}
        self.assertEqual(self.st.count_rows(), len(ids))
        self.assertEqual(stored, ids)
        # the router left the old primary on the Sentinels' +switch-master, not on an error
        self.assertTrue(any(r.get("msg") == "sentinel announced a new primary" and
                            r.get("port") == new for r in router.log_records()), router.logs())
        self.assertTrue(any(r.get("msg") == "redis primary switched" and r.get("port") == new
                            for r in router.log_records()))
        print(f"\ngraceful sentinel failover, min_replicas=1: {len(ids)} requests, all stored",
              file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
