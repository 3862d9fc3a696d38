"""PostgreSQL primary + hot standby: migrate, router (feedback) and ingest take the
multi-host URL (target_session_attrs=read-write); the primary crashes (pg_ctl stop -m
immediate) under load, the standby is promoted, and they all carry on against it. Every
answered request has exactly one row, and every acknowledged feedback item is stored.
"""

import datetime
import json
import os
import subprocess
import sys
import time
import unittest

from harness import LoadThreads, Proc, Services, http, sign_webhook, start_pg_primary_standby, switchyard_bin, wait_for
from stack import KEY

SECRET = "pgfo-feedback-secret"
SIM_MODELS = {"instant": {"completion_tokens": {"min": 5, "max": 20}}}


def log_time(rec):
    """A JSON log record's ts as a Unix time."""
    return datetime.datetime.fromisoformat(rec["ts"].replace("Z", "+00:00")).timestamp()


def config(sim_url):
    return {
        "default_model": "big",
        "experiment": {"name": "exp-pg", "salt": "s", "holdout_pct": 5},
        "providers": {"sim": {"base_url": sim_url}},
        "models": {"big": {"provider": "sim", "upstream": "instant", "tier": "premium",
                           "input_usd_per_mtok": 1.0, "output_usd_per_mtok": 1.0}},
        "api_keys": [{"key": KEY, "project": "app"}],
        "feedback": {"tolerance_s": 300, "attribution_window_s": 3600,
                     "projects": {"app": {"secret_env": "SY_FB_SECRET"}}},
    }


def sign(body):
    return sign_webhook(body, SECRET)


class Load(LoadThreads):
    """Chat requests and feedback items from a few threads until stopped."""

    def __init__(self, router, threads=3):
        self.router = router
        self.chats = []      # (status, request id)
        self.feedback = []   # (status, feedback id)
        LoadThreads.__init__(self, threads)

    def post(self, path, body, headers):
        raw = json.dumps(body).encode()
        try:
            st, h, _ = http("POST", f"http://127.0.0.1:{self.router.port}{path}", raw,
                            dict(headers, **{"Content-Type": "application/json"}), timeout=15)
            return st, h
        except OSError as e:
            return f"error: {e}", {}

    def run(self, n):
        i = 0
        while not self.stop_flag.is_set():
            i += 1
            st, h = self.post("/v1/chat/completions",
                              {"messages": [{"role": "user", "content": "hi"}]},
                              {"Authorization": f"Bearer {KEY}", "X-User-Id": f"pg-{n}-{i % 20}"})
            rid = h.get("x-request-id")
            with self.lock:
                self.chats.append((st, rid))
            if st == 200 and i % 2 == 0:
                fid = f"fb-{n}-{i}"
                item = {"feedback_id": fid, "request_id": rid, "kind": "thumb", "value": "up"}
                raw = json.dumps(item).encode()
                fst, _ = self.post("/v1/feedback", item, {"X-Switchyard-Signature": sign(raw)})
                with self.lock:
                    self.feedback.append((fst, fid))
            time.sleep(0.01)


class PgFailoverTest(unittest.TestCase):
    def setUp(self):
        self.pg = start_pg_primary_standby()
        self.addCleanup(self.pg.stop)
        self.svc = Services().start()  # for its Redis
        self.addCleanup(self.svc.stop)
        self.procs = []
        self.addCleanup(lambda: [p.stop() for p in reversed(self.procs)])

    def env(self, **extra):
        return self.svc.env(SWITCHYARD_DATABASE_URL=self.pg.url, **extra)

    def start(self, proc, **kw):
        proc.start(**kw)
        self.procs.append(proc)
        return proc

    def test_promotion_under_load(self):
        pg = self.pg
        r = subprocess.run([switchyard_bin(), "migrate"], env=self.env(), capture_output=True,
                           text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        sim_models = os.path.join(pg.dir, "sim-models.json")
        with open(sim_models, "w") as f:
            json.dump({"models": SIM_MODELS}, f)
        sim = self.start(Proc("sim", ["--listen", "127.0.0.1:0", "--models", sim_models]))
        cfg = os.path.join(pg.dir, "router.json")
        with open(cfg, "w") as f:
            json.dump(config(f"http://127.0.0.1:{sim.port}/v1"), f)
        router = self.start(Proc("router", ["--config", cfg, "--listen", "127.0.0.1:0"],
                                 env=self.env(SY_FB_SECRET=SECRET)))
        wait_for(lambda: any(x.get("msg") == "database connected"
                             for x in router.log_records()), 10, what="router database")
        ingest = self.start(Proc("ingest", ["--block-ms", "100"], env=self.env()), wait=False)

        # a router given the standby alone (no target_session_attrs): its writes are refused
        # with 25006, answered 503 (retry later), and the pool drops that connection
        on_standby = self.start(Proc("router", ["--config", cfg, "--listen", "127.0.0.1:0"],
                                     env=self.svc.env(SY_FB_SECRET=SECRET,
                                                      SWITCHYARD_DATABASE_URL=pg.node_url(
                                                          "standby"))))
        wait_for(lambda: any(x.get("msg") == "database connected"
                             for x in on_standby.log_records()), 10, what="standby router")
        item = {"feedback_id": "fb-on-standby", "request_id": "req-x", "kind": "thumb",
                "value": "up"}
        raw = json.dumps(item).encode()
        st, hdrs, body = http("POST", f"http://127.0.0.1:{on_standby.port}/v1/feedback", raw,
                              {"Content-Type": "application/json",
                               "X-Switchyard-Signature": sign(raw)})
        self.assertEqual(st, 503, body)
        self.assertEqual(json.loads(body)["error"]["code"], "storage_unavailable")
        self.assertIn("retry-after", hdrs)
        wait_for(lambda: any(x.get("msg") == "database connection failed" and
                             x.get("reason") == "the server is read-only (a standby)"
                             for x in on_standby.log_records()), 5, what="the dropped connection")
        on_standby.stop()

        with Load(router) as load:
            time.sleep(3)
            t_stop = time.time()
            pg.stop_primary("immediate")
            time.sleep(1)  # the primary is gone; nothing takes writes
            t_promote = time.time()
            pg.promote_standby()
            t_promoted = time.time()
            promoted = len(load.chats)
            time.sleep(4)
        self.assertGreater(len(load.chats) - promoted, 20)

        # chat answers never depend on PostgreSQL: all of them are 200
        statuses = {}
        for st, _ in load.chats:
            statuses[st] = statuses.get(st, 0) + 1
        self.assertEqual(statuses, {200: len(load.chats)})
        ids = [rid for st, rid in load.chats if st == 200]
        self.assertEqual(len(set(ids)), len(ids))

        def count(sql):
            return int(pg.psql(sql, "standby")[0][0])
        wait_for(lambda: count("SELECT count(*) FROM requests") >= len(ids), 90,
                 what=f"{len(ids)} rows on the promoted standby")
        stored = [x[0] for x in pg.psql("SELECT request_id FROM requests", "standby")]
        self.assertEqual(len(stored), len(ids))  # exactly one row each
        self.assertEqual(set(stored), set(ids))

        # feedback: 200 stored, 503 (database away) refused for a retry, nothing else
        fb_status = {}
        for st, _ in load.feedback:
            fb_status[st] = fb_status.get(st, 0) + 1
        self.assertEqual(set(fb_status) - {200, 503}, set(), fb_status)
        acked = {fid for st, fid in load.feedback if st == 200}
        self.assertGreater(len(acked), 20)
        have = {x[0] for x in pg.psql("SELECT feedback_id FROM feedback", "standby")}
        self.assertEqual(acked - have, set())  # nothing acknowledged is lost
        # some were acknowledged after the promotion: the router's pool moved over
        after = [fid for st, fid in load.feedback[-10:] if st == 200]
        self.assertTrue(after, load.feedback[-10:])

        def back_at(proc, msg):
            return min(t for t in (log_time(x) for x in proc.log_records()
                                   if x.get("msg") == msg) if t > t_stop)
        print(f"\npg failover: primary stopped -m immediate, promote started 1 s later and took "
              f"{t_promoted - t_promote:.1f} s; router's pool connected "
              f"{back_at(router, 'database connected') - t_promoted:.1f} s and ingest "
              f"{back_at(ingest, 'postgresql connected') - t_promoted:.1f} s after it; "
              f"{len(ids)} answers, {len(acked)} feedback acknowledged, "
              f"{fb_status.get(503, 0)} refused with 503", file=sys.stderr)
        for proc, msg in ((router, "database connected"), (ingest, "postgresql connected")):
            msgs = [x.get("msg") for x in proc.log_records()]
            self.assertGreaterEqual(msgs.count(msg), 2, proc.argv[1])  # again, after promotion


if __name__ == "__main__":
    unittest.main()
