"""A whole Switchyard stack for router tests: Redis, PostgreSQL (migrated), the simulator,
the ingester, and any number of routers, each with its own config.

    st = Stack().start()
    r = st.router({...config...})
    status, headers, body = st.chat(r, {"messages": [...]}, user="alice")
    row = st.row(headers["x-request-id"])
    st.stop()
"""

import json
import os
import shutil
import subprocess
import tempfile

from harness import Proc, Services, http, switchyard_bin, wait_for

KEY = "sk-test-router"
M64 = (1 << 64) - 1

REQUEST_COLUMNS = (
    "request_id,project,user_hash,bucket,experiment,phase,cohort,task_type,task_confidence,"
    "mode,served_model,provider,would_have_model,stream,status,error,attempts,tokens_in,"
    "tokens_out,cost_usd,baseline_cost_usd,latency_us,upstream_us,overhead_us,redis_fallback,"
    "fallback,sticky,cached_tokens,cache_write_tokens")


def _mix(data, seed):
    # Independent re-implementation of experiments/cohort.c: FNV-1a 64 + splitmix64.
    h = 0xCBF29CE484222325 ^ seed
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & M64
    h = (h + 0x9E3779B97F4A7C15) & M64
    h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & M64
    h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & M64
    return h ^ (h >> 31)


def bucket(user, salt):
    return _mix(user.encode(), _mix(salt.encode(), 0)) % 10000


def user_hash(user):
    return "%016x" % _mix(user.encode(), _mix(b"switchyard-user-v1", 0))


def is_routed(b, holdout_bp, routed_bp):
    # experiments/cohort.c exp_is_routed, independently
    if b < holdout_bp:
        return False
    return (b - holdout_bp) * 10000 < routed_bp * (10000 - holdout_bp)


class Stack:
    def __init__(self, sim_models=None, ingest=True, redis_aof=False):
        self.sim_models = sim_models
        self.with_ingest = ingest
        self.svc = Services(redis_aof=redis_aof)
        self.procs = []
        self.tmp = None

    def start(self):
        self.tmp = tempfile.mkdtemp(prefix="sy-stack-")
        try:
            self.svc.start()
            r = subprocess.run([switchyard_bin(), "migrate"], env=self.svc.env(),
                               capture_output=True, text=True, timeout=120)
            if r.returncode != 0:
                raise RuntimeError("migrate failed: " + r.stderr)
            args = ["--listen", "127.0.0.1:0"]
            if self.sim_models is not None:
                path = os.path.join(self.tmp, "sim-models.json")
                with open(path, "w") as f:
                    json.dump({"models": self.sim_models}, f)
                args += ["--models", path]
            self.sim = self._start(Proc("sim", args))
            self.ingest = None
            if self.with_ingest:
                self.start_ingest()
        except Exception:
            self.stop()
            raise
        return self

    def start_ingest(self):
        self.ingest = self._start(Proc("ingest", ["--block-ms", "100"], env=self.svc.env()),
                                  wait=False)
        return self.ingest

    def _start(self, proc, wait=True):
        proc.start(wait=wait)
        self.procs.append(proc)
        return proc

    def stop(self):
        for p in reversed(self.procs):
            p.stop()
        self.procs = []
        self.svc.stop()
        if self.tmp and os.environ.get("SY_KEEP") != "1":
            shutil.rmtree(self.tmp, ignore_errors=True)

    def sim_url(self):
        return f"http://127.0.0.1:{self.sim.port}/v1"

    def write_config(self, name, cfg):
        path = os.path.join(self.tmp, name + ".json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        return path

    def router(self, cfg, args=(), name=None, wait=True, **env):
        name = name or f"router-{len(self.procs)}"
        path = self.write_config(name, cfg)
        p = Proc("router", ["--config", path, "--listen", "127.0.0.1:0", *args],
                 env=self.svc.env(**env))
        p.config_path = path
        return self._start(p, wait=wait)

    def chat(self, router, body, user=None, key=KEY, timeout=30, **headers):
        h = {"Authorization": f"Bearer {key}"} if key else {}
        if user is not None:
            h["X-User-Id"] = user
        h.update({k.replace("_", "-"): v for k, v in headers.items()})
        return http("POST", f"http://127.0.0.1:{router.port}/v1/chat/completions", body, h,
                    timeout=timeout)

    def get(self, router, path):
        return http("GET", f"http://127.0.0.1:{router.port}{path}")

    def row(self, request_id, timeout=20):
        """The requests row for request_id as a dict, once ingest has stored it."""
        rows = wait_for(lambda: self.svc.psql(
            f"SELECT {REQUEST_COLUMNS} FROM requests WHERE request_id = '{request_id}'"),
            timeout, what=f"row {request_id}")
        return dict(zip(REQUEST_COLUMNS.split(","), rows[0]))

    def count_rows(self, where="true"):
        return int(self.svc.psql(f"SELECT count(*) FROM requests WHERE {where}")[0][0])

    def set_state(self, experiment, version, **fields):
        """Write the experiment state as the controller would, and announce it."""
        key = f"sy:{{{experiment}}}:state"
        self.svc.redis("DEL", key)
        args = []
        for k, v in dict(fields, version=version).items():
            args += [k, str(v)]
        self.svc.redis("HSET", key, *args)
        self.svc.redis("PUBLISH", key, str(version))

    def wait_phase(self, router, phase, timeout=5):
        def ok():
            st, _, body = self.get(router, "/readyz")
            return st == 200 and json.loads(body)["phase"] == phase
        wait_for(ok, timeout, what=f"router to apply phase {phase}")

    def metrics(self, router):
        st, _, body = self.get(router, "/metrics")
        assert st == 200, st
        return body.decode()
