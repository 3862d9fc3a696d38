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
import hashlib
import hmac
import http.client as _httpclient
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse

__all__ = ["Services", "Proc", "http", "free_port", "source_dir", "switchyard_bin", "wait_for",
           "start_redis_sentinel_set", "start_pg_primary_standby"]


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

    @staticmethod
    def _find_pg_bin():
        """Where initdb and pg_ctl are (as scripts/services finds them)."""
        d = os.environ.get("SY_PG_BIN")
        if d and os.access(os.path.join(d, "initdb"), os.X_OK):
            return d
        for d in ("/usr/lib/postgresql/15/bin", "/usr/pgsql-15/bin", "/usr/local/pgsql/bin"):
            if os.access(os.path.join(d, "initdb"), os.X_OK):
                return d
        w = shutil.which("initdb")
        if w:
            return os.path.dirname(w)
        raise RuntimeError("PostgreSQL binaries (initdb, pg_ctl) not found; set SY_PG_BIN")

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


def json_lines(text):
    """The JSON objects among text's lines (a JSON log; other lines skipped)."""
    out = []
    for line in text.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out


def log_file_records(path):
    """json_lines of a log file; [] if it does not exist (yet)."""
    try:
        with open(path, "rb") as f:
            return json_lines(f.read().decode("utf-8", "replace"))
    except FileNotFoundError:
        return []


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
        self.preexec = None  # run in the child before exec (resource limits)

    def start(self, wait=True, timeout=15.0, ready="listening"):
        self._log = open(self.log_path, "wb")
        self._out = open(self.out_path, "wb")
        self.proc = subprocess.Popen(self.argv, env=self.env, stdout=self._out, stderr=self._log,
                                     stdin=subprocess.DEVNULL, preexec_fn=self.preexec)
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
        return json_lines(self.logs())

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


# ---- high availability: a Redis Sentinel set, a PostgreSQL primary + hot standby ----------

def sign_webhook(body, secret, t=None):
    """The X-Switchyard-Signature of body (bytes): t=<unix seconds>,v1=<HMAC-SHA256 hex>."""
    t = int(time.time()) if t is None else t
    mac = hmac.new(secret.encode(), str(t).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


class LoadThreads:
    """Background load: self.run(n) on `threads` threads until the with-block ends.
    Subclasses loop `while not self.stop_flag.is_set()` and record under self.lock."""

    def __init__(self, threads):
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(threads)]

    def run(self, n):
        raise NotImplementedError

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for t in self.threads:
            t.join()


def _kill_pid(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _wait_pid_gone(proc, timeout=10.0):
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


class _TempServers:
    """A set of servers in one temporary directory (SY_KEEP=1 keeps it), stopped at
    exit if a test forgets; subclasses define stop() and end it with _forget()."""

    def _forget(self):
        if self.dir and os.environ.get("SY_KEEP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None
        _live_services.discard(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class RedisSentinelSet(_TempServers):
    """A Redis primary, one replica (replicaof) and three Sentinels (redis-server --sentinel)
    on free ports in one temp dir, the Sentinels watching the primary as `master`.

    Use start_redis_sentinel_set(); attributes: dir, master, ports ({"a": port, "b": port},
    the two data nodes; "a" starts as primary), sentinel_ports (3), url (the
    redis+sentinel:// URL for switchyard). Methods: redis(port, *args), sentinel(*args),
    primary_port() (what the Sentinels say now), role(port), kill_primary() (SIGKILL, returns
    the old port), restart_node(port, replica_of), failover() (SENTINEL FAILOVER), wait_failover(old_port), stop().
    """

    def __init__(self, master="mymaster", down_after_ms=1000, failover_timeout_ms=3000):
        self.master = master
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self.dir = None
        self.procs = {}  # name -> Popen: "a", "b", "s0".."s2"
        self.ports = {}
        self.sentinel_ports = []

    def _spawn(self, name, conf, sentinel=False):
        path = os.path.join(self.dir, f"{name}.conf")
        with open(path, "w") as f:
            f.write(conf)
        log = open(os.path.join(self.dir, f"{name}.log"), "wb")
        argv = ["redis-server", path] + (["--sentinel"] if sentinel else [])
        self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, cwd=self.dir)
        log.close()

    def _ping(self, port):
        try:
            return self.redis(port, "PING") == "PONG"
        except (RuntimeError, subprocess.TimeoutExpired):
            return False

    def start(self):
        self.dir = _tmpdir("sy-sentinel-")
        _live_services.add(self)
        try:
            for name in ("a", "b"):
                port = free_port()
                self.ports[name] = port
                conf = (f"bind 127.0.0.1\nport {port}\ndir {self.dir}\nsave \"\"\n"
                        f"appendonly no\ndbfilename {name}.rdb\nprotected-mode no\n"
                        "repl-diskless-sync-delay 0\n")
                if name == "b":
                    conf += f"replicaof 127.0.0.1 {self.ports['a']}\n"
                self._spawn(name, conf)
                wait_for(lambda p=port: self._ping(p), 10, what=f"redis {name} on {port}")
            wait_for(lambda: "master_link_status:up" in self.redis(self.ports["b"], "INFO",
                                                                   "replication"),
                     15, what="the replica to sync")
            for i in range(3):
                port = free_port()
                self.sentinel_ports.append(port)
                conf = (f"bind 127.0.0.1\nport {port}\ndir {self.dir}\nprotected-mode no\n"
                        f"sentinel monitor {self.master} 127.0.0.1 {self.ports['a']} 2\n"
                        f"sentinel down-after-milliseconds {self.master} {self.down_after_ms}\n"
                        f"sentinel failover-timeout {self.master} {self.failover_timeout_ms}\n"
                        f"sentinel parallel-syncs {self.master} 1\n")
                self._spawn(f"s{i}", conf, sentinel=True)
                wait_for(lambda p=port: self._ping(p), 10, what=f"sentinel on {port}")
            # every Sentinel knows the replica and the other Sentinels before anything fails
            def ready():
                for p in self.sentinel_ports:
                    out = self.redis(p, "SENTINEL", "master", self.master).split("\n")
                    kv = dict(zip(out[0::2], out[1::2]))
                    if kv.get("num-slaves") != "1" or kv.get("num-other-sentinels") != "2":
                        return False
                return True
            wait_for(ready, 30, interval=0.2, what="the sentinels to see each other")
        except Exception:
            self.stop()
            raise
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports)
        self.url = f"redis+sentinel://{hosts}/{self.master}"
        return self

    def redis(self, port, *args):
        """One command with redis-cli against port; its output (stripped)."""
        r = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port),
                            *[str(a) for a in args]], capture_output=True, text=True, timeout=10)
        if r.returncode != 0:
            raise RuntimeError(f"redis-cli {args[0]} on {port} failed: {r.stderr.strip()}")
        return r.stdout.strip()

    def sentinel(self, *args):
        """A SENTINEL command on the first Sentinel that answers."""
        for p in self.sentinel_ports:
            try:
                return self.redis(p, "SENTINEL", *args)
            except (RuntimeError, subprocess.TimeoutExpired):
                continue
        raise RuntimeError("no sentinel answered")

    def primary_port(self):
        return int(self.sentinel("get-master-addr-by-name", self.master).split("\n")[1])

    def role(self, port):
        return self.redis(port, "ROLE").split("\n")[0]

    def kill_primary(self):
        """SIGKILL the current primary; returns its port."""
        port = self.primary_port()
        name = next(n for n, p in self.ports.items() if p == port)
        self.procs[name].kill()
        self.procs[name].wait(5)
        return port

    def restart_node(self, port, replica_of=None):
        """Start a stopped data node again on its port; replica_of: as a replica of that
        port (what Sentinel would make it after a failover, done at once). Waits until it
        answers."""
        name = next(n for n, p in self.ports.items() if p == port)
        with open(os.path.join(self.dir, f"{name}.conf")) as f:
            conf = "".join(ln for ln in f if not ln.startswith("replicaof "))
        if replica_of:
            conf += f"replicaof 127.0.0.1 {replica_of}\n"
        self._spawn(name, conf)
        wait_for(lambda: self._ping(port), 10, what=f"redis {name} on {port}")

    def failover(self):
        """SENTINEL FAILOVER (graceful: the primary stays up and becomes a replica)."""
        return self.sentinel("failover", self.master)

    def wait_failover(self, old_port, timeout=30):
        """Until the Sentinels name another primary and it says ROLE master; its port."""
        def moved():
            try:
                p = self.primary_port()
                return p if p != old_port and self.role(p) == "master" else None
            except (RuntimeError, subprocess.TimeoutExpired, ValueError, IndexError):
                return None
        return wait_for(moved, timeout, interval=0.1, what="the sentinels to fail over")

    def stop(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            _wait_pid_gone(p)
        self.procs = {}
        self._forget()


def start_redis_sentinel_set(master="mymaster", down_after_ms=1000, failover_timeout_ms=3000):
    """A started RedisSentinelSet (primary, replica, 3 Sentinels, quorum 2); stop() it."""
    return RedisSentinelSet(master, down_after_ms, failover_timeout_ms).start()


def _as_pg(argv):
    # PostgreSQL refuses to run as root: the harness's clusters run as user postgres then
    return (["runuser", "-u", "postgres", "--"] + argv) if os.getuid() == 0 else argv


class PgPrimaryStandby(_TempServers):
    """A PostgreSQL primary (wal_level=replica) and a hot standby made with pg_basebackup -R
    (streaming replication, synchronous unless synchronous=False), on free ports in one temp
    dir, each with database switchyard.

    Use start_pg_primary_standby(); attributes: dir, pg_bin, user, ports ({"primary": p,
    "standby": p}), url (the multi-host postgresql:// URL with
    target_session_attrs=read-write, primary first), node_url(name). Methods: psql(sql,
    node="primary"), is_standby(node), stop_primary(mode="immediate"), promote_standby(),
    wait_replayed() (the standby caught up with the primary), stop().
    """

    def __init__(self, synchronous=True):
        self.synchronous = synchronous
        self.dir = None
        self.ports = {}
        self.running = set()

    def _run(self, argv, timeout=120):
        r = subprocess.run(_as_pg(argv), capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"{os.path.basename(argv[0])} failed: {r.stderr.strip()}")
        return r

    def _data(self, node):
        return os.path.join(self.dir, node)

    def _ctl(self, node, *args):
        return self._run([os.path.join(self.pg_bin, "pg_ctl"), "-D", self._data(node), "-l",
                          os.path.join(self.dir, f"{node}.log"), *args])

    def start(self):
        self.pg_bin = Services._find_pg_bin()
        self.dir = _tmpdir("sy-pgha-")
        _live_services.add(self)
        os.chmod(self.dir, 0o755)
        if os.getuid() == 0:
            shutil.chown(self.dir, "postgres")
            self.user = "postgres"
        else:
            import getpass
            self.user = getpass.getuser()
        try:
            self._run([os.path.join(self.pg_bin, "initdb"), "-D", self._data("primary"), "-A",
                       "trust", "-U", self.user, "-E", "UTF8", "--locale=C", "-N"])
            self.ports["primary"] = free_port()
            with open(os.path.join(self._data("primary"), "postgresql.auto.conf"), "a") as f:
                f.write(f"listen_addresses = '127.0.0.1'\nport = {self.ports['primary']}\n"
                        f"unix_socket_directories = '{self.dir}'\n"
                        "wal_level = replica\nmax_wal_senders = 5\nhot_standby = on\n"
                        "fsync = off\nfull_page_writes = off\nshared_buffers = 16MB\n"
                        "max_connections = 60\nlog_min_messages = warning\n")
            with open(os.path.join(self._data("primary"), "pg_hba.conf"), "w") as f:
                f.write("local all all trust\nhost all all 127.0.0.1/32 trust\n"
                        "host replication all 127.0.0.1/32 trust\n")
            self._ctl("primary", "-w", "-t", "60", "start")
            self.running.add("primary")
            self.psql("CREATE DATABASE switchyard", db="postgres")
            self._run([os.path.join(self.pg_bin, "pg_basebackup"), "-h", "127.0.0.1", "-p",
                       str(self.ports["primary"]), "-U", self.user, "-D", self._data("standby"),
                       "-R", "-X", "stream", "-c", "fast"])
            self.ports["standby"] = free_port()
            with open(os.path.join(self._data("standby"), "postgresql.auto.conf"), "a") as f:
                f.write(f"port = {self.ports['standby']}\n")
            self._ctl("standby", "-w", "-t", "60", "start")
            self.running.add("standby")
            wait_for(lambda: self.is_standby("standby"), 30, what="the standby to accept reads")
            if self.synchronous:
                # a commit is acknowledged once the standby has flushed it, so a promotion
                # loses nothing acknowledged; set after the base backup, so that the standby,
                # once promoted and alone, does not wait for a standby of its own
                self.psql("ALTER SYSTEM SET synchronous_standby_names = '*'", db="postgres")
                self.psql("SELECT pg_reload_conf()", db="postgres")
                wait_for(lambda: self.psql("SELECT sync_state FROM pg_stat_replication",
                                           db="postgres") == [["sync"]],
                         30, what="the standby to be synchronous")
        except Exception:
            self.stop()
            raise
        hosts = ",".join(f"127.0.0.1:{self.ports[n]}" for n in ("primary", "standby"))
        self.url = (f"postgresql://{self.user}@{hosts}/switchyard"
                    "?target_session_attrs=read-write")
        return self

    def node_url(self, node, db="switchyard"):
        return f"postgresql://{self.user}@127.0.0.1:{self.ports[node]}/{db}"

    def psql(self, sql, node="primary", db="switchyard"):
        """Rows (lists of strings) of sql on one node."""
        r = subprocess.run([os.path.join(self.pg_bin, "psql"), "-AtX", "-v", "ON_ERROR_STOP=1",
                            "-F", "\x1f", "-R", "\x1e", "-d", self.node_url(node, db), "-c", sql],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"psql on {node} failed: {r.stderr.strip()}\nSQL: {sql}")
        out = r.stdout[:-1] if r.stdout.endswith("\n") else r.stdout
        return [rec.split("\x1f") for rec in out.split("\x1e")] if out else []

    def is_standby(self, node):
        try:
            return self.psql("SELECT pg_is_in_recovery()", node, db="postgres") == [["t"]]
        except RuntimeError:
            return False

    def wait_replayed(self, timeout=30):
        lsn = self.psql("SELECT pg_current_wal_lsn()")[0][0]
        wait_for(lambda: self.psql(f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn",
                                   "standby") == [["t"]],
                 timeout, what="the standby to replay the primary's WAL")

    def stop_primary(self, mode="immediate"):
        """pg_ctl stop -m mode (immediate: as if it crashed)."""
        self._ctl("primary", "-m", mode, "-w", "-t", "60", "stop")
        self.running.discard("primary")

    def promote_standby(self):
        """pg_ctl promote, waiting until the standby takes writes."""
        self._ctl("standby", "-w", "-t", "60", "promote")
        wait_for(lambda: not self.is_standby("standby"), 30, what="the standby to be promoted")

    def stop(self):
        for node in list(self.running):
            try:
                self._ctl(node, "-m", "immediate", "-w", "-t", "30", "stop")
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        self.running = set()
        self._forget()


def start_pg_primary_standby(synchronous=True):
    """A started PgPrimaryStandby (primary + streaming hot standby); stop() it.

    synchronous: the primary has synchronous_standby_names='*' (commits wait for the standby's
    flush: what "promotion loses nothing acknowledged" needs); False: asynchronous streaming.
    """
    return PgPrimaryStandby(synchronous).start()
