"""The fault suite (also `make faults`): a whole stack from scripts/stack (ROUTERS=3 behind
nginx, INGESTS=2, CONTROLLERS=2, on free ports in a temporary run directory) on a Redis
Sentinel set (primary, replica, 3 Sentinels; the routers WAIT for 1 replica) and a PostgreSQL
primary with a synchronous hot standby, under steady load through nginx, with signed
feedback, while an experiment rolls out. The faults run one after another, each a function
in FAULTS (add a step there: a name and a function of the test; it may record figures in
self.notes). Then it counts and prints:

    client errors           answers that were not 200 (chat) / 200 (feedback), apart from
                            those in flight on the router that was killed (nginx names the
                            router in X-Switchyard-Upstream): those are counted separately.
                            A 503 with Retry-After on feedback (PostgreSQL failing over) is
                            retried, as a webhook sender does, and counted apart
    answered without a row  200 answers whose X-Request-Id has no requests row (0: the killed
                            router's journal is sent by the same router restarted)
    feedback acked, lost    feedback answered 200 with no feedback row
    decisions duplicated    two decisions rows for one (experiment, task_type, action,
                            from_phase, to_phase) transition, or the same hold reason twice
                            in a row; and every advance recorded once (count == step)

FAULT_LOAD_SECONDS stretches the load after the last fault (default 4).
"""

import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

from harness import (http, log_file_records, sign_webhook, source_dir,
                     start_pg_primary_standby, start_redis_sentinel_set, switchyard_bin,
                     wait_for)

TASKS = ("simple", "code", "reasoning", "complex")
QUALITY = {t: {"thumbs_down": 0.05, "rating": 4.5} for t in TASKS}
SIM_MODELS = {m: {"tier": tier, "completion_tokens": {"min": 5, "max": 20}, "quality": QUALITY}
              for m, tier in (("sim-premium", "premium"), ("sim-mid", "standard"),
                              ("sim-small", "economy"), ("sim-reasoner", "reasoning"))}
NAME = "faults"
PAUSE_S = 4.0  # between faults
WORKERS = 6
FEEDBACK_RETRY_S = 20  # how long a feedback sender retries a 503


def definition():
    with open(os.path.join(source_dir(), "experiments", "task-routing.json")) as f:
        d = json.load(f)
    d["experiment"].update(name=NAME, salt=NAME, holdout_pct=10)
    d["attribution_window_s"] = 0
    d["classifier_rules"] = {"patterns": [{"regex": "^#" + t, "task": t} for t in TASKS]}
    # a rollout that is still moving when the leader is killed (about 10 s in)
    d["phases"] = [
        {"kind": "shadow", "min_duration_s": 4, "min_samples": 10, "min_labels": 0},
        {"kind": "canary", "routed_pct": 30, "min_duration_s": 5, "min_samples": 20},
        {"kind": "ramp", "routed_pct": 60, "min_duration_s": 5, "min_samples": 20},
        {"kind": "full", "min_duration_s": 5, "min_samples": 20},
    ]
    d["guardrails"] = [{"metric": "error_rate", "margin": 0.1, "alpha": 0.01,
                        "action": "rollback", "min_samples": 20}]
    return d


class Load:
    """WORKERS threads sending chat requests through nginx; every third answered request
    gets a signed thumbs feedback. Records every outcome."""

    def __init__(self, url, key, secret):
        self.url, self.key, self.secret = url, key, secret
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.chat = []      # (status, request_id, upstream, t)
        self.feedback = []  # (status, feedback_id, upstream)
        self.feedback_503 = 0  # 503s retried
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True)
                        for i in range(WORKERS)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(60)

    def post(self, path, body, headers):
        try:
            st, h, b = http("POST", self.url + path, body, headers, timeout=30)
            return st, h.get("x-request-id"), h.get("x-switchyard-upstream", ""), b
        except OSError as e:
            return -1, None, "", str(e).encode()

    def run(self, i):
        rnd = random.Random(i)
        n = 0
        while not self.stop.is_set():
            task = TASKS[n % 4]
            body = {"model": "sim-premium",
                    "messages": [{"role": "user", "content": f"#{task} question {n}"}]}
            st, rid, up, _ = self.post("/v1/chat/completions", body, {
                "Authorization": f"Bearer {self.key}", "X-User-Id": f"u{rnd.randrange(300)}"})
            with self.lock:
                self.chat.append((st, rid, up, time.monotonic()))
            if st == 200 and n % 3 == 0:
                fid = "fb-" + uuid.uuid4().hex
                raw = json.dumps({"feedback_id": fid, "request_id": rid, "kind": "thumb",
                                  "value": "up"}).encode()
                give_up = time.monotonic() + FEEDBACK_RETRY_S
                while True:
                    fst, _, fup, fb = self.post("/v1/feedback", raw, {
                        "Content-Type": "application/json",
                        "X-Switchyard-Signature": sign_webhook(raw, self.secret)})
                    if fst != 503 or time.monotonic() > give_up:
                        break
                    with self.lock:
                        self.feedback_503 += 1
                    time.sleep(0.2)
                with self.lock:
                    self.feedback.append((fst, fid, fup))
            n += 1
            time.sleep(0.01)


class FaultSuite(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rs = start_redis_sentinel_set()
        try:
            cls.pg = start_pg_primary_standby(synchronous=True)
        except Exception:
            cls.rs.stop()
            raise
        cls.tmp = tempfile.mkdtemp(prefix="sy-faults-")
        os.chmod(cls.tmp, 0o755)  # the postgres user reaches the run directory
        cls.run_dir = os.path.join(cls.tmp, "run")
        cfg = os.path.join(cls.tmp, "faults.json")
        with open(cfg, "w") as f:
            json.dump(definition(), f)
        models = os.path.join(cls.tmp, "sim-models.json")
        with open(models, "w") as f:
            json.dump({"models": SIM_MODELS}, f)
        cls.env = dict(os.environ, SY_RUN_DIR=cls.run_dir, SWITCHYARD_BIN=switchyard_bin(),
                       ROUTERS="3", INGESTS="2", CONTROLLERS="2", SY_STACK_CONFIG=cfg,
                       SY_STACK_SIM_MODELS=models, SY_STACK_TICK_MS="500",
                       SY_STACK_TIMEOUT="60",
                       SY_STACK_REDIS_URL=cls.rs.url + "?min_replicas=1",
                       SY_STACK_DATABASE_URL=cls.pg.url,
                       SY_STACK_INGEST_ARGS="--claim-idle-ms 1000 --block-ms 100",
                       SY_STACK_ROUTER_ARGS="--state-refresh-ms 300")
        r = cls.stack("up")
        if r.returncode != 0:
            cls.stack("down")
            cls.rs.stop()
            cls.pg.stop()
            raise RuntimeError("scripts/stack up failed:\n" + r.stdout + r.stderr)
        cls.vars = {}
        with open(os.path.join(cls.run_dir, "env")) as f:
            for line in f:
                if line.startswith("export "):
                    k, _, v = line[len("export "):].strip().partition("=")
                    cls.vars[k] = v.strip("'")

    @classmethod
    def tearDownClass(cls):
        cls.stack("down")
        cls.rs.stop()
        cls.pg.stop()
        if os.environ.get("SY_KEEP") != "1":
            shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def stack(cls, *args):
        return subprocess.run([os.path.join(source_dir(), "scripts", "stack"), *args],
                              env=cls.env, capture_output=True, text=True, timeout=300)

    # ---------- helpers ----------
    def log(self, name):
        return os.path.join(self.run_dir, "log", name + ".log")

    def pid(self, name):
        with open(os.path.join(self.run_dir, "pids", name + ".pid")) as f:
            return int(f.read())

    def port(self, name):
        for rec in log_file_records(self.log(name)):
            if rec.get("msg") == "listening" and "port" in rec:
                return int(rec["port"])
        raise AssertionError(f"{name} logged no port")

    def psql(self, sql):
        r = subprocess.run(["psql", "-AtX", "-v", "ON_ERROR_STOP=1", "-F", "\x1f",
                            "-d", self.pg.url, "-c", sql],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return [line.split("\x1f") for line in r.stdout.splitlines()]

    def redis(self, *args):
        return self.rs.redis(self.rs.primary_port(), *args) + "\n"

    def admin(self, method, path):
        st, _, b = http(method, self.vars["SWITCHYARD_ADMIN_URL"] + path, None,
                        {"Authorization": "Bearer " + self.vars["SWITCHYARD_ADMIN_TOKEN"]})
        return st, json.loads(b) if b else None

    def controller_leader(self, name):
        try:
            st, _, b = http("GET", f"http://127.0.0.1:{self.port(name)}/healthz", timeout=2)
        except OSError:
            return False
        return st == 200 and json.loads(b)["leader"]

    def missing(self, ids, table, column):
        if not ids:
            return []
        found = set()
        ids = sorted(ids)
        for i in range(0, len(ids), 2000):
            chunk = ",".join("'" + x + "'" for x in ids[i:i + 2000])
            found |= {r[0] for r in self.psql(
                f"SELECT {column} FROM {table} WHERE {column} IN ({chunk})")}
        return [x for x in ids if x not in found]

    # ---------- the faults ----------
    def kill_router(self):
        name = "router-2"
        self.killed_upstream = f"127.0.0.1:{self.port(name)}"
        self.router_killed_at = time.monotonic()
        os.kill(self.pid(name), signal.SIGKILL)
        self.notes.append(f"{name} ({self.killed_upstream}) SIGKILLed")

    def restart_router(self):
        # what a supervisor does; the restarted router sends what its journal kept
        r = self.stack("restart", "router-2")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        replayed = [x for x in log_file_records(self.log("router-2"))
                    if x.get("msg") == "journal replayed"]
        self.notes.append("router-2 restarted, journal sent " +
                          (f"{replayed[-1]['events']} events" if replayed else "nothing"))

    def fail_redis_over(self):
        t0 = time.monotonic()
        old = self.rs.kill_primary()
        new = self.rs.wait_failover(old)
        took = time.monotonic() - t0
        # the old primary comes back as a replica: min_replicas=1 needs one again
        self.rs.restart_node(old, replica_of=new)
        try:
            wait_for(lambda: "master_link_status:up" in self.rs.redis(old, "INFO", "replication"),
                     30, interval=0.2, what="the old primary to sync as a replica")
        except TimeoutError:
            for n in ("a", "b", "s0"):
                with open(os.path.join(self.rs.dir, n + ".log")) as f:
                    print(f"--- {n}.log\n" + "".join(f.readlines()[-15:]))
            raise
        self.notes.append(f"Redis primary :{old} SIGKILLed, Sentinels promoted :{new} after "
                          f"{took:.1f} s, :{old} rejoined as replica")

    def promote_pg(self):
        t0 = time.monotonic()
        self.pg.stop_primary("immediate")
        self.pg.promote_standby()
        self.notes.append(f"PostgreSQL primary crashed (stop -m immediate), standby promoted "
                          f"after {time.monotonic() - t0:.1f} s")

    def kill_leading_controller(self):
        leaders = wait_for(lambda: [n for n in ("controller-1", "controller-2")
                                    if self.controller_leader(n)], 10, what="a leader")
        self.assertEqual(len(leaders), 1, leaders)
        dead = leaders[0]
        other = "controller-2" if dead == "controller-1" else "controller-1"
        os.kill(self.pid(dead), signal.SIGKILL)
        t0 = time.monotonic()
        wait_for(lambda: self.controller_leader(other), 15, what=f"{other} to take the lead")
        self.notes.append(f"{dead} (leader) SIGKILLed; {other} led after "
                          f"{time.monotonic() - t0:.1f} s")
        # the admin API the test reads goes to the survivor from now on
        self.vars["SWITCHYARD_ADMIN_URL"] = f"http://127.0.0.1:{self.port(other)}"

    def kill_ingest(self):
        name = "ingest-1"
        started = [r for r in log_file_records(self.log(name)) if r.get("msg") == "started"]
        self.dead_consumer = started[0]["consumer"]
        os.kill(self.pid(name), signal.SIGKILL)
        self.notes.append(f"{name} (consumer {self.dead_consumer}) SIGKILLed")

    FAULTS = [
        ("kill a router", kill_router),
        ("restart it", restart_router),
        ("fail Redis over through Sentinel", fail_redis_over),
        ("promote the PostgreSQL standby", promote_pg),
        ("kill the leading controller", kill_leading_controller),
        ("kill one of two ingests", kill_ingest),
    ]

    def pending_of(self, consumer):
        out = self.redis("XINFO", "CONSUMERS", "sy:events", "ingest").split("\n")
        for i, v in enumerate(out):
            if v == "name" and out[i + 1] == consumer:
                return int(out[out.index("pending", i) + 1])
        return 0

    def test_faults_under_load(self):
        st, body = self.admin("POST", f"/admin/experiments/{NAME}/start")
        self.assertEqual(st, 200, body)
        self.notes, self.killed_upstream, self.dead_consumer = [], None, None
        load = Load(self.vars["SWITCHYARD_URL"], self.vars["SWITCHYARD_API_KEY"],
                    self.vars["SWITCHYARD_FEEDBACK_SECRET"]).start()
        t_start = time.monotonic()
        try:
            time.sleep(PAUSE_S)
            for label, step in self.FAULTS:
                step(self)
                time.sleep(PAUSE_S)
            time.sleep(float(os.environ.get("FAULT_LOAD_SECONDS", "4")))
        finally:
            load.finish()
        seconds = time.monotonic() - t_start

        # everything answered must arrive: wait for the rows (bounded)
        answered = [rid for s, rid, _, _ in load.chat if s == 200]
        acked = [fid for s, fid, _ in load.feedback if s == 200]
        deadline = time.monotonic() + 30
        while True:
            lost_rows = self.missing(answered, "requests", "request_id")
            lost_fb = self.missing(acked, "feedback", "feedback_id")
            if (not lost_rows and not lost_fb) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        dead_pending = self.pending_of(self.dead_consumer) if self.dead_consumer else 0

        def errors(outcomes):
            in_flight = [o for o in outcomes if o[0] != 200 and self.killed_upstream and
                         self.killed_upstream in (o[2] or "")]
            other = [o for o in outcomes if o[0] != 200 and o not in in_flight]
            return in_flight, other
        chat_inflight, chat_other = errors(load.chat)
        by_id = {o[1]: o for o in load.chat if o[0] == 200}
        lost_detail = [(by_id[r][2], round(by_id[r][3] - self.router_killed_at, 3))
                       for r in lost_rows]
        fb_inflight, fb_other = errors(load.feedback)

        # decisions: one row per transition, every advance once
        wait_for(lambda: self.admin("GET", f"/admin/experiments/{NAME}")[0] == 200, 10)
        dup = self.psql(
            "SELECT action, coalesce(task_type, ''), from_phase, to_phase, count(*) "
            f"FROM decisions WHERE experiment = '{NAME}' AND action NOT IN ('hold', 'warn') "
            "GROUP BY 1, 2, 3, 4 HAVING count(*) > 1")
        dup_holds = []
        for act in ("hold", "warn"):
            notes = [r[0] for r in self.psql(f"SELECT reason FROM decisions WHERE experiment = "
                                             f"'{NAME}' AND action = '{act}' ORDER BY id")]
            dup_holds += [(act, a) for a, b in zip(notes, notes[1:]) if a == b]
        step, status = self.psql(f"SELECT step, status FROM experiments WHERE name = '{NAME}'")[0]
        advances = int(self.psql(f"SELECT count(*) FROM decisions WHERE experiment = '{NAME}' "
                                 "AND action = 'advance'")[0][0])
        actions = [r[0] + ("(" + r[1] + ")" if r[0] == "hold" else "") for r in self.psql(
            f"SELECT action, reason FROM decisions WHERE experiment = '{NAME}' ORDER BY id")]
        open_phases = int(self.psql(
            f"SELECT count(*) FROM experiment_phases WHERE experiment = '{NAME}' "
            "AND task_type IS NULL AND left_at IS NULL")[0][0])

        rows = [
            ("load", f"{seconds:.0f} s, {WORKERS} clients through nginx -> 3 routers"),
            ("answered (chat)", len(answered)),
            ("chat requests sent", len(load.chat)),
            ("feedback sent", len(load.feedback)),
            ("client errors (not in flight on the killed router)", len(chat_other) + len(fb_other)),
            ("errors in flight on the killed router", len(chat_inflight) + len(fb_inflight)),
            ("answered requests without a row", len(lost_rows)),
            ("feedback answered 503 during a failover, retried", load.feedback_503),
            ("feedback acknowledged but not stored", len(lost_fb)),
            ("decisions duplicated", len(dup) + len(dup_holds)),
            ("advance decisions / step reached", f"{advances} / {step} ({status})"),
            ("entries left pending by the killed ingest", dead_pending),
        ]
        width = max(len(k) for k, _ in rows)
        print("\nfault suite:", "; ".join(self.notes))
        for k, v in rows:
            print(f"  {k:<{width}}  {v}")
        print("  decisions:", " ".join(actions), flush=True)
        if lost_detail:
            print(f"  rows missing (answered by, s after the router kill; first 10 of "
                  f"{len(lost_detail)}):", lost_detail[:10], flush=True)

        self.assertEqual(chat_other + fb_other, [], "client errors apart from the killed router")
        self.assertLessEqual(len(chat_inflight) + len(fb_inflight), WORKERS,
                             "more errors than requests could be in flight on the killed router")
        self.assertEqual(len(lost_detail), 0, "answered requests without a row")
        self.assertEqual(lost_fb, [])
        self.assertEqual(dup, [])
        self.assertEqual(dup_holds, [])
        self.assertEqual(advances, int(step))
        self.assertLessEqual(open_phases, 1)
        self.assertGreaterEqual(advances, 2, "the rollout must move on around the faults")
        self.assertEqual(dead_pending, 0)
        self.assertGreater(len(answered), 200)


if __name__ == "__main__":
    unittest.main()
