"""Integration-test harness: throwaway services, switchyard processes, HTTP.

python3 stdlib only. Typical use:

    from harness import Services, Proc, http

    with Services() as svc:                      # Redis + PostgreSQL on free ports
        svc.psql("SELECT 1")                     # -> [["1"]]
        svc.redis("PING")                        # -> "PONG"
        with Proc("sim", ["--port", str(port)], env=svc.env()) as sim:
            status, headers, body = http("GET", f"http://127.0.0.1:{sim.port}/health")

Environment: SWITCHYARD_BIN (the binary; set by ctest), SY_SOURCE_DIR (the source tree;
set by ctest, else found from this file), SY_KEEP=1 keeps temporary directories.
"""

import atexit
import http.client as _httpclient
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse

__all__ = ["Services", "Proc", "http", "free_port", "source_dir", "switchyard_bin", "wait_for"]


def source_dir():
    """The source tree: $SY_SOURCE_DIR, else two levels above this file."""
    d = os.environ.get("SY_SOURCE_DIR")
    if d:
        return d
    return os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def switchyard_bin():
    """The switchyard binary: $SWITCHYARD_BIN, else <source>/build/switchyard."""
    b = os.environ.get("SWITCHYARD_BIN") or os.path.join(source_dir(), "build", "switchyard")
    if not os.access(b, os.X_OK):
        raise RuntimeError(f"switchyard binary not found at {b} (set SWITCHYARD_BIN)")
    return b


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=10.0, interval=0.05, what="condition"):
    """Poll pred() until it returns a truthy value; return it or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# Everything started here is stopped at interpreter exit, even when a test forgot or failed
# half-way: processes first, then services, then log directories (kept with SY_KEEP=1).
_live_procs = set()
_live_services = set()
_log_dirs = []


@atexit.register
def _cleanup_at_exit():
    for p in list(_live_procs):
        p.stop(timeout=5)
    for s in list(_live_services):
        s.stop()
    if os.environ.get("SY_KEEP") != "1":
        for d in _log_dirs:
            shutil.rmtree(d, ignore_errors=True)


def _exit_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)  # so the atexit cleanup above runs


if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)


def _tmpdir(prefix):
    # Short paths: PostgreSQL's unix socket lives inside and sun_path is ~107 bytes.
    base = "/tmp" if os.path.isdir("/tmp") else None
    return tempfile.mkdtemp(prefix=prefix, dir=base)


class Services:
    """Throwaway Redis + PostgreSQL started by scripts/services.

    Attributes after start(): dir, redis_url, database_url, redis_port, pg_port, pg_bin.
    """

    def __init__(self, redis_aof=False):
        self.redis_aof = redis_aof
        self.dir = None
        self.script = os.path.join(source_dir(), "scripts", "services")

    def _run(self, *args, check=True):
        r = subprocess.run([self.script, *args], capture_output=True, text=True, timeout=120)
        if check and r.returncode != 0:
            raise RuntimeError(f"scripts/services {' '.join(args)} failed: {r.stderr.strip()}")
        return r

    def start(self):
        self.dir = _tmpdir("sy-svc-")
        _live_services.add(self)
        args = ["start", self.dir] + (["--redis-aof"] if self.redis_aof else [])
        try:
            self._run(*args)
        except Exception:
            self.stop()
            raise
        envvars = {}
        with open(os.path.join(self.dir, "env")) as f:
            for line in f:
                line = line.strip()
                if line.startswith("export "):
                    k, _, v = line[len("export "):].partition("=")
                    envvars[k] = v
        self.redis_url = envvars["SWITCHYARD_REDIS_URL"]
        self.database_url = envvars["SWITCHYARD_DATABASE_URL"]
        self.redis_port = int(envvars["SY_REDIS_PORT"])
        self.pg_port = int(envvars["SY_PG_PORT"])
        self.pg_bin = envvars["SY_PG_BIN"]
        return self

    def stop(self):
        """Stop both servers and remove the directory (kept with SY_KEEP=1)."""
        if self.dir:
            keep = os.environ.get("SY_KEEP") == "1"
            self._run("stop", self.dir, *([] if keep else ["--rm"]), check=False)
            self.dir = None
        _live_services.discard(self)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # outage control: same ports, same data
    def stop_pg(self):
        self._run("stop-pg", self.dir)

    def start_pg(self):
        self._run("start-pg", self.dir)

    def restart_pg(self):
        self._run("restart-pg", self.dir)

    def stop_redis(self):
        self._run("stop-redis", self.dir)

    def start_redis(self):
        self._run("start-redis", self.dir)

    def restart_redis(self):
        self._run("restart-redis", self.dir)

    def env(self, **extra):
        """os.environ plus SWITCHYARD_REDIS_URL / SWITCHYARD_DATABASE_URL and extra."""
        e = dict(os.environ)
        e["SWITCHYARD_REDIS_URL"] = self.redis_url
        e["SWITCHYARD_DATABASE_URL"] = self.database_url
        e.update({k: str(v) for k, v in extra.items()})
        return e

    def psql(self, sql, check=True, url=None):
        """Run SQL with psql -AtX; return rows as lists of strings (NULL is '').

        Values may contain newlines: rows and fields are split on ASCII RS/US.
        url defaults to database_url (use another database of the same cluster with it).
        """
        psql = os.path.join(self.pg_bin, "psql")
        if not os.access(psql, os.X_OK):
            psql = "psql"
        r = subprocess.run([psql, "-AtX", "-v", "ON_ERROR_STOP=1", "-F", "\x1f", "-R", "\x1e",
                            "-d", url or self.database_url, "-c", sql],
                           capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise RuntimeError(f"psql failed: {r.stderr.strip()}\nSQL: {sql}")
        out = r.stdout[:-1] if r.stdout.endswith("\n") else r.stdout
        return [rec.split("\x1f") for rec in out.split("\x1e")] if out else []

    def redis(self, *args):
        """Run one command with redis-cli; return its output as a string (stripped)."""
        r = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(self.redis_port),
                            *[str(a) for a in args]],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"redis-cli {args[0]} failed: {r.stderr.strip()}")
        return r.stdout.strip()


class Proc:
    """A switchyard subcommand running in the background, stderr logged to a file.

        p = Proc("ingest", ["--once"], env=svc.env()).start(wait=False)
        rc = p.wait(timeout=30)

    start(wait=True) waits for a JSON log line with "msg":"listening" (its "port" becomes
    self.port) or, if port= was given, for that TCP port to accept. A daemon that does not
    listen is started with ready="started" (or another msg) to wait for that line instead.
    stop() sends SIGTERM (then SIGKILL after the timeout) and returns the exit status;
    logs() returns stderr so far.
    """

    def __init__(self, command, args=(), env=None, port=None, binary=None):
        self.argv = [binary or switchyard_bin(), command, *[str(a) for a in args]]
        self.env = env if env is not None else dict(os.environ)
        self.port = port
        self.proc = None
        self.returncode = None
        self._logdir = _tmpdir(f"sy-{command}-")
        _log_dirs.append(self._logdir)
        self.log_path = os.path.join(self._logdir, "stderr.log")
        self.out_path = os.path.join(self._logdir, "stdout.log")

    def start(self, wait=True, timeout=15.0, ready="listening"):
        self._log = open(self.log_path, "wb")
        self._out = open(self.out_path, "wb")
        self.proc = subprocess.Popen(self.argv, env=self.env, stdout=self._out, stderr=self._log,
                                     stdin=subprocess.DEVNULL)
        _live_procs.add(self)
        self._ready_msg = ready
        if wait:
            wait_for(self._ready, timeout, what=f"{self.argv[1]} to log {ready!r}")
        return self

    def _ready(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.argv[1]} exited with {self.proc.returncode}:\n{self.logs()}")
        for rec in self.log_records():
            if rec.get("msg") == self._ready_msg:
                if self.port is None and "port" in rec:
                    self.port = int(rec["port"])
                return True
        if self.port is not None:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return True
            except OSError:
                return False
        return False

    def __enter__(self):
        return self if self.proc else self.start()

    def __exit__(self, exc_type, exc, tb):
        self.stop()
        if exc_type is None:
            self.cleanup()

    def logs(self):
        """Everything written to stderr so far."""
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stdout(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log_records(self):
        """stderr parsed as JSON lines (non-JSON lines skipped)."""
        out = []
        for line in self.logs().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict):
                out.append(rec)
        return out

    def signal(self, sig):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def kill(self):
        """SIGKILL, then reap."""
        self.signal(signal.SIGKILL)
        return self.wait(10)

    def wait(self, timeout=30.0):
        """Wait for exit; return the exit status (negative: killed by that signal)."""
        try:
            self.returncode = self.proc.wait(timeout)
        finally:
            if self.proc.returncode is not None:
                self._close()
                _live_procs.discard(self)
        return self.returncode

    def stop(self, timeout=10.0):
        """SIGTERM, wait up to timeout, then SIGKILL; return the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.returncode = self.proc.returncode
        self._close()
        _live_procs.discard(self)
        return self.returncode

    def _close(self):
        for f in (getattr(self, "_log", None), getattr(self, "_out", None)):
            if f and not f.closed:
                f.close()

    def cleanup(self):
        """Remove the log directory now (kept with SY_KEEP=1; else removed at exit anyway)."""
        if os.environ.get("SY_KEEP") != "1":
            shutil.rmtree(self._logdir, ignore_errors=True)


def http(method, url, body=None, headers=None, timeout=10.0):
    """One HTTP request; returns (status, headers with lower-cased names, body bytes).

    body may be bytes, str, or a dict/list (sent as JSON with Content-Type set).
    """
    u = urllib.parse.urlsplit(url)
    hdrs = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        body = body.encode()
    conn_cls = _httpclient.HTTPSConnection if u.scheme == "https" else _httpclient.HTTPConnection
    conn = conn_cls(u.hostname, u.port, timeout=timeout)
    try:
        path = u.path or "/"
        if u.query:
            path += "?" + u.query
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()
