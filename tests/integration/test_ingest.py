"""switchyard ingest: sy:events (Redis stream) -> requests (PostgreSQL), without loss."""

import json
import os
import signal
import socket
import subprocess
import threading
import time
import unittest

from harness import Proc, Services, http, source_dir, switchyard_bin, wait_for

STREAM = "sy:events"
DEAD = "sy:events:dead"


class Resp:
    """Minimal pipelining RESP client (redis-cli per command is too slow for load)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def close(self):
        self.sock.close()

    @staticmethod
    def encode(*args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _reply(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t in (b"+", b":"):
            return rest
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.buf += self.sock.recv(65536)
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise RuntimeError(f"bad reply {line!r}")

    def pipeline(self, commands):
        self.sock.sendall(b"".join(self.encode(*c) for c in commands))
        return [self._reply() for _ in commands]


def metric_values(text):
    """Prometheus text -> {"name{labels}": value} (comments skipped)."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.rpartition(" ")
            out[k] = float(v) if "." in v or "e" in v else int(v)
    return out


def now_us():
    return int(time.time() * 1_000_000)


def event(i, ts_us=None, **over):
    e = {
        "request_id": f"req-{i:08d}", "ts_us": ts_us if ts_us is not None else now_us(),
        "project": "demo", "user_hash": "00112233aabbccdd", "bucket": i % 10000,
        "experiment": "task-routing", "phase": "canary", "cohort": "routed",
        "task_type": "chat", "task_confidence": 0.75, "mode": "balanced",
        "served_model": "small", "provider": "sim", "would_have_model": None,
        "stream": False, "status": 200, "error": None, "attempts": 1,
        "tokens_in": 10, "tokens_out": 20, "cost_usd": 1.5e-05, "baseline_cost_usd": 0.000225,
        "latency_us": 1000, "upstream_us": 900, "overhead_us": 100, "redis_fallback": False,
    }
    e.update(over)
    return json.dumps(e)


class Pusher(threading.Thread):
    """Pushes total events at about rate/s in small pipelined chunks."""

    def __init__(self, port, total, rate, start_index=0):
        super().__init__(daemon=True)
        self.port, self.total, self.rate, self.start_index = port, total, rate, start_index
        self.sent = 0
        self.error = None

    def run(self):
        try:
            r = Resp(self.port)
            chunk = max(1, self.rate // 20)
            t0 = time.monotonic()
            while self.sent < self.total:
                n = min(chunk, self.total - self.sent)
                cmds = [("XADD", STREAM, "*", "e", event(self.start_index + self.sent + k))
                        for k in range(n)]
                r.pipeline(cmds)
                self.sent += n
                ahead = self.sent / self.rate - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)
            r.close()
        except Exception as exc:  # surfaced by the test
            self.error = exc


class IngestTest(unittest.TestCase):
    def setUp(self):
        self.svc = Services(redis_aof=True).start()
        mdir = os.environ.get("SWITCHYARD_MIGRATIONS_DIR") or os.path.join(source_dir(),
                                                                           "migrations")
        r = subprocess.run([switchyard_bin(), "migrate", "--dir", mdir],
                           env=self.svc.env(), capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            p.stop()
        self.svc.stop()

    def ingest(self, *args, wait=True):
        p = Proc("ingest", args, env=self.svc.env())
        self.procs.append(p)
        return p.start(wait=wait, ready="started")

    def once(self):
        p = self.ingest("--once", wait=False)
        rc = p.wait(60)
        self.assertEqual(rc, 0, p.logs())
        return p

    def count(self, where="true"):
        return int(self.svc.psql(f"SELECT count(*) FROM requests WHERE {where}")[0][0])

    def xadd(self, *fields):
        return self.svc.redis("XADD", STREAM, "*", *fields)

    # ------------------------------------------------------------------ values

    def test_values_and_types(self):
        ts = 1795834625123456  # 2026-11-28T02:57:05.123456Z
        self.xadd("e", event(1, ts, task_type=None, task_confidence=None, mode="eco",
                             served_model="small", would_have_model="big", stream=True,
                             status=502, error="upstream\ttimeout\nafter 3 tries \\o/",
                             attempts=3, tokens_in=2147483647, tokens_out=0,
                             cost_usd=0.000123456789, latency_us=9000000000,
                             redis_fallback=True, unknown_key={"ignored": 1}))
        self.once()
        cols = ("request_id, extract(epoch from ts)::numeric * 1000000, "
                "ts = '2026-11-28 02:57:05.123456+00', project, user_hash, bucket, experiment, "
                "phase, cohort, task_type IS NULL, task_confidence IS NULL, mode, served_model, "
                "provider, would_have_model, stream, status, error, attempts, tokens_in, "
                "tokens_out, cost_usd, baseline_cost_usd, latency_us, upstream_us, overhead_us, "
                "redis_fallback")
        rows = self.svc.psql(f"SELECT {cols} FROM requests")
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0], [
            "req-00000001", "1795834625123456.000000", "t", "demo", "00112233aabbccdd", "1",
            "task-routing", "canary", "routed", "t", "t", "eco", "small", "sim", "big", "t",
            "502", "upstream\ttimeout\nafter 3 tries \\o/", "3", "2147483647", "0",
            "0.000123456789", "0.000225", "9000000000", "900", "100", "t"])
        # the row is in its day's partition when that exists (the default one otherwise)
        part = "requests_20261128"
        if self.svc.psql(f"SELECT to_regclass('{part}') IS NULL")[0][0] == "t":
            part = "requests_default"
        self.assertEqual(self.svc.psql("SELECT tableoid::regclass FROM requests"), [[part]])
        types = self.svc.psql(
            "SELECT pg_typeof(ts), pg_typeof(bucket), pg_typeof(task_confidence), "
            "pg_typeof(stream), pg_typeof(cost_usd), pg_typeof(latency_us) FROM requests")
        self.assertEqual(types, [["timestamp with time zone", "integer", "real", "boolean",
                                  "double precision", "bigint"]])
        self.assertEqual(self.svc.redis("XLEN", STREAM), "0")

    def test_duplicates_yield_one_row(self):
        ts = now_us()
        for _ in range(3):
            self.xadd("e", event(7, ts))
        self.xadd("e", event(7, ts + 1))  # same id, other ts: another row
        p = self.once()
        self.assertEqual(self.count(), 2)
        self.xadd("e", event(7, ts))  # a replay in a later batch
        self.once()
        self.assertEqual(self.count(), 2)
        stopped = [r for r in p.log_records() if r.get("msg") == "stopped"][0]
        self.assertEqual((stopped["inserted"], stopped["duplicates"]), (2, 2))

    def test_bad_entries_go_to_dead_letter(self):
        bad = {
            "not json": "not valid JSON",
            "[1,2]": "not a JSON object",
            json.dumps({"ts_us": now_us()}): "missing request_id",
            json.dumps({"request_id": "x"}): "missing ts_us",
            json.dumps({"request_id": "", "ts_us": 1}): "request_id: empty",
            json.dumps({"request_id": "x", "ts_us": "soon"}): "ts_us: expected an integer",
            json.dumps({"request_id": "x", "ts_us": -5}): "ts_us: out of range",
            event(1, bucket="12"): "bucket: expected an integer",
            event(2, bucket=2**40): "bucket: out of range (32-bit integer)",
            event(3, stream="yes"): "stream: expected true or false",
            event(4, task_confidence=1e300): "task_confidence: out of range (real)",
            event(5, cost_usd="free"): "cost_usd: expected a number",
        }
        for raw in bad:
            self.xadd("e", raw)
        self.xadd("other", "field")
        self.xadd("e", event(100))
        self.once()
        self.assertEqual(self.count(), 1)
        dead = self.svc.redis("XRANGE", DEAD, "-", "+").splitlines()
        reasons = [dead[i + 1] for i in range(len(dead)) if dead[i] == "reason"]
        self.assertEqual(len(reasons), len(bad) + 1)
        for (raw, want), got in zip(bad.items(), reasons):
            self.assertTrue(got.startswith(want), f"{raw}: {got!r} does not start with {want!r}")
        self.assertEqual(reasons[-1], "no field e")
        self.assertIn("not json", dead)  # the raw entry is kept
        self.assertEqual(self.svc.redis("XLEN", STREAM), "0")
        self.assertEqual(self.svc.redis("XPENDING", STREAM, "ingest").splitlines()[0], "0")

    def test_batch_entries(self):
        """The router's entries: field b, events separated by newlines. Each event is a
        row; a bad one goes to the dead letters alone, with its own bytes."""
        good = [event(200 + i) for i in range(3)]
        first = self.xadd("b", "\n".join([good[0], "not json", good[1], good[2]]))
        self.xadd("b", event(210))  # a batch of one
        self.once()
        self.assertEqual(self.count(), 4)
        ids = "'req-00000200','req-00000201','req-00000202','req-00000210'"
        self.assertEqual(self.count(f"request_id IN ({ids})"), 4)
        dead = self.svc.redis("XRANGE", DEAD, "-", "+").splitlines()
        self.assertEqual(dead[1:], ["id", first, "reason", dead[4], "e", "not json"])
        self.assertTrue(dead[4].startswith("not valid JSON"), dead[4])
        self.assertEqual(self.svc.redis("XLEN", STREAM), "0")
        self.assertEqual(self.svc.redis("XPENDING", STREAM, "ingest").splitlines()[0], "0")

    def test_poison_event_goes_to_dead_letter_table(self):
        """An event PostgreSQL refuses on every try (here: a constraint added by hand) is
        set aside in ingest_dead_letters after --max-tries failures of its batch; the rest
        of the batch and everything after it lands."""
        self.svc.psql("ALTER TABLE requests ADD CONSTRAINT no_poison "
                      "CHECK (project IS DISTINCT FROM 'poison')")
        poison_a = event(2, project="poison")
        poison_b = event(12, project="poison")
        first = self.xadd("b", "\n".join([event(0), event(1), poison_a, event(3), event(4)]))
        self.xadd("e", event(10))
        third = self.xadd("e", poison_b)
        self.xadd("e", event(11))
        p = self.ingest("--block-ms", "100", "--max-tries", "3",
                        "--metrics-listen", "127.0.0.1:0")
        wait_for(lambda: self.count() == 6 and self.svc.redis("XLEN", STREAM) == "0",
                 timeout=30, what="the 6 good rows of the poisoned batch")
        for i in range(20, 30):  # the next events still land
            self.xadd("e", event(i))
        self.assert_all_landed(16, timeout=30)
        self.assertEqual(self.count("project = 'poison'"), 0)
        rows = self.svc.psql("SELECT stream_id, event, sqlstate, tries, "
                             "error LIKE '%no_poison%' FROM ingest_dead_letters ORDER BY id")
        self.assertEqual(rows, [[first, poison_a, "23514", "3", "t"],
                                [third, poison_b, "23514", "3", "t"]])
        self.assertEqual(self.svc.redis("XLEN", DEAD), "0")  # valid events: not in the stream

        st, _, body = http("GET", f"http://127.0.0.1:{p.port}/metrics")
        self.assertEqual(st, 200)
        m = metric_values(body.decode())
        self.assertEqual(m['switchyard_ingest_dead_letters_total{reason="refused"}'], 2)
        self.assertEqual(m['switchyard_ingest_dead_letters_total{reason="invalid"}'], 0)
        self.assertEqual(m["switchyard_ingest_rows_inserted_total"], 16)
        self.assertEqual(m["switchyard_ingest_events_read_total"], 18)
        self.assertEqual(m["switchyard_ingest_duplicates_total"], 0)
        self.assertEqual(m["switchyard_ingest_pg_errors_total"], 3)  # the batch's 3 tries
        self.assertEqual(http("GET", f"http://127.0.0.1:{p.port}/other")[0], 404)

        self.assertEqual(p.stop(), 0, p.logs())
        recs = p.log_records()
        dead = [r for r in recs if r.get("msg") == "event refused by postgresql, dead-lettered"]
        self.assertEqual([(r["id"], r["sqlstate"], r["tries"]) for r in dead],
                         [(first, "23514", "3"), (third, "23514", "3")])
        self.assertEqual(len([r for r in recs if r.get("msg", "").startswith(
            "batch refused with the same kind of error every time")]), 1)
        self.assertEqual(len([r for r in recs if r.get("msg") == "batch not committed; will retry"]),
                         2)
        stopped = [r for r in recs if r.get("msg") == "stopped"][-1]
        self.assertEqual((stopped["inserted"], stopped["dead_refused"], stopped["dead"]),
                         (16, 2, 0))

    # ------------------------------------------------------------------ no loss

    def assert_all_landed(self, total, timeout=90):
        wait_for(lambda: self.count() == total and self.svc.redis("XLEN", STREAM) == "0",
                 timeout=timeout, interval=0.5,
                 what=f"{total} rows and an empty stream "
                      f"(rows={self.count()}, xlen={self.svc.redis('XLEN', STREAM)})")
        self.assertEqual(self.count(), total)
        self.assertEqual(int(self.svc.psql("SELECT count(DISTINCT request_id) FROM requests")[0][0]),
                         total)
        self.assertEqual(self.svc.redis("XPENDING", STREAM, "ingest").splitlines()[0], "0")

    def test_no_loss_while_postgresql_restarts(self):
        total = int(os.environ.get("SY_INGEST_EVENTS", "20000"))
        p = self.ingest("--block-ms", "200")
        pusher = Pusher(self.svc.redis_port, total, rate=total // 20)
        pusher.start()
        time.sleep(5)
        self.svc.stop_pg()
        time.sleep(10)
        self.svc.start_pg()
        pusher.join(120)
        self.assertIsNone(pusher.error)
        self.assertEqual(pusher.sent, total)
        self.assert_all_landed(total)
        self.assertEqual(p.stop(), 0, p.logs())
        logs = p.logs()
        self.assertTrue("batch not committed; will retry" in logs or
                        "postgresql connect failed" in logs, logs[-2000:])
        stopped = [r for r in p.log_records() if r.get("msg") == "stopped"][-1]
        self.assertGreater(stopped["pg_errors"], 0)

    def test_no_loss_when_killed(self):
        total = int(os.environ.get("SY_INGEST_EVENTS", "20000"))
        p1 = self.ingest("--block-ms", "200", "--batch", "500")
        pusher = Pusher(self.svc.redis_port, total, rate=total // 20)
        pusher.start()
        time.sleep(7)
        self.assertEqual(p1.kill(), -signal.SIGKILL)
        landed_at_kill = self.count()
        time.sleep(2)
        # a new process is a new consumer (host:pid): it claims what p1 left pending
        p2 = self.ingest("--block-ms", "200", "--claim-idle-ms", "1000")
        pusher.join(120)
        self.assertIsNone(pusher.error)
        self.assert_all_landed(total)
        self.assertLess(landed_at_kill, total)
        self.assertEqual(p2.stop(), 0, p2.logs())

    def test_redis_outage(self):
        p = self.ingest("--block-ms", "200")
        for i in range(50):
            self.xadd("e", event(i))
        wait_for(lambda: self.count() == 50, timeout=20, what="first 50 rows")
        self.svc.stop_redis()
        time.sleep(2)
        self.svc.start_redis()
        r = Resp(self.svc.redis_port)
        r.pipeline([("XADD", STREAM, "*", "e", event(i)) for i in range(50, 100)])
        r.close()
        self.assert_all_landed(100, timeout=30)
        self.assertEqual(p.stop(), 0, p.logs())
        self.assertIn("redis connection lost", p.logs())

    def test_sql_error_keeps_entries_until_fixed(self):
        # ingest started before the schema exists: every batch fails, nothing is lost
        self.svc.psql("CREATE DATABASE late")
        url = self.svc.database_url.rsplit("/", 1)[0] + "/late"
        p = Proc("ingest", ["--block-ms", "200", "--database-url", url], env=self.svc.env())
        self.procs.append(p)
        p.start(ready="started")
        for i in range(20):
            self.xadd("e", event(i))
        # (the batch's function, migrations/0009, is missing as well as the table)
        wait_for(lambda: 'function sy_ingest_requests(unknown) does not exist' in p.logs(),
                 timeout=20, what="the missing schema to be logged")
        self.assertEqual(self.svc.redis("XLEN", STREAM), "20")  # nothing acknowledged
        self.assertGreaterEqual(int(self.svc.redis("XPENDING", STREAM, "ingest").splitlines()[0]),
                                1)  # the batch in hand
        mdir = os.environ.get("SWITCHYARD_MIGRATIONS_DIR") or os.path.join(source_dir(),
                                                                           "migrations")
        r = subprocess.run([switchyard_bin(), "migrate", "--dir", mdir, "--database-url", url],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_for(lambda: self.svc.psql("SELECT count(*) FROM requests", url=url) == [["20"]],
                 timeout=30, what="20 rows after the migration")
        wait_for(lambda: self.svc.redis("XLEN", STREAM) == "0", timeout=10, what="empty stream")
        self.assertEqual(p.stop(), 0, p.logs())

    def test_sigterm_exits_zero_and_flags(self):
        p = self.ingest()
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait(10), 0, p.logs())
        self.assertTrue(any(r.get("msg") == "request partitions checked"
                            for r in p.log_records()))
        r = subprocess.run([switchyard_bin(), "ingest", "--help"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        for flag in ("--redis-url", "--database-url", "--batch", "--block-ms", "--once",
                     "--max-tries", "--metrics-listen", "--log-level", "--help"):
            self.assertIn(flag, r.stdout)
        for args, msg in ((["--bogus"], "ingest: unknown option '--bogus'"),
                          (["--batch", "0"], "ingest: --batch: expected an integer from 1"),
                          (["--max-tries", "0"],
                           "ingest: --max-tries: expected an integer from 1 to 1000"),
                          (["--metrics-listen", "nowhere"],
                           "ingest: --metrics-listen: expected HOST:PORT"),
                          (["--log-level", "loud"], "ingest: --log-level: expected"),
                          (["--redis-url", "http://x"], "ingest: --redis-url: redis URL must")):
            r = subprocess.run([switchyard_bin(), "ingest", *args], capture_output=True,
                               text=True, env=self.svc.env())
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(msg, r.stderr)


if __name__ == "__main__":
    unittest.main()
