"""The router's --journal: events a SIGKILLed router still held are sent by the next router
started on the same directory; one process per directory; a torn last line is skipped."""

import glob
import json
import os
import resource
import unittest

from harness import Proc, free_port, wait_for
from stack import Stack
from test_event_durability import Load as DurabilityLoad, config

SIM_MODELS = {"instant": {"completion_tokens": {"min": 5, "max": 20}}}


class Load(DurabilityLoad):
    """The durability test's load; a request refused by the killed router ends its thread."""

    def run(self, n):
        try:
            DurabilityLoad.run(self, n)
        except OSError:
            pass


def segments(d):
    return sorted(glob.glob(os.path.join(d, "0", "events-*.jl")))


def journal_lines(d):
    n = 0
    for p in segments(d):
        with open(p, "rb") as f:
            n += f.read().count(b"\n")
    return n


class Journal(unittest.TestCase):
    def setUp(self):
        self.st = Stack(sim_models=SIM_MODELS).start()
        self.addCleanup(self.st.stop)
        self.dir = os.path.join(self.st.tmp, "journal")
        self.cfg = config(self.st.sim_url())

    def router(self, **kw):
        return self.st.router(self.cfg, args=["--journal", self.dir], **kw)

    def test_killed_router_events_sent_by_the_next(self):
        # Redis away: every answered request's event is only in memory and the journal
        self.st.svc.stop_redis()
        r = self.router()
        ids = []
        for i in range(40):
            status, h, _ = self.st.chat(r, {"messages": [{"role": "user", "content": "hi"}]},
                                        user=f"j{i}")
            self.assertEqual(status, 200)
            ids.append(h["x-request-id"])
        self.assertEqual(journal_lines(self.dir), 40)
        r.kill()
        # the process died in a write: a torn line at the end is skipped, not sent
        with open(segments(self.dir)[-1], "ab") as f:
            f.write(b'{"request_id":"torn')
        self.st.svc.start_redis()
        r2 = self.router()
        recs = wait_for(lambda: [x for x in r2.log_records() if x.get("msg") == "journal replayed"],
                        10, what="the replay")
        self.assertEqual(recs[0]["events"], 40)
        self.assertTrue(any(x.get("msg") == "journal: incomplete last event skipped"
                            for x in r2.log_records()), r2.logs())
        chunk = ",".join(f"'{x}'" for x in ids)
        wait_for(lambda: self.st.count_rows(f"request_id IN ({chunk})") == 40, 30,
                 what="the 40 rows")
        # confirmed: the old segment is gone (a new one exists only once events arrive)
        wait_for(lambda: segments(self.dir) == [], 10, what="the replayed segment to go")
        self.assertEqual(self.st.count_rows(), 40)

    def test_kill_under_load_loses_no_answered_event(self):
        r = self.router()
        with Load(self.st, r, threads=3, pause=0.002) as load:
            wait_for(lambda: load.sent > 300, 30, what="load")
            r.kill()
        answered = [i for i in load.ids if i]
        r2 = self.router()
        self.assertTrue(answered)
        chunk = ",".join(f"'{x}'" for x in answered)
        wait_for(lambda: self.st.count_rows(f"request_id IN ({chunk})") == len(answered), 30,
                 what=f"{len(answered)} rows")
        # the segments cut meanwhile go once confirmed
        self.st.chat(r2, {"messages": [{"role": "user", "content": "hi"}]}, user="after")
        wait_for(lambda: len(segments(self.dir)) <= 1, 10, what="old segments to go")

    def limited_router(self, limit):
        """A router with --journal whose files may grow to limit bytes (RLIMIT_FSIZE; the
        log file too), ready once its port answers."""
        port = free_port()
        p = Proc("router", ["--config", self.st.write_config(f"fsize{limit}", self.cfg),
                            "--listen", f"127.0.0.1:{port}", "--journal", self.dir],
                 env=self.st.svc.env(), port=port)
        p.preexec = lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        p.start()
        self.addCleanup(p.stop)
        return p

    def answered_with_rows(self, p, n, prefix):
        """n chats answered 200 by p, each with its row in PostgreSQL: their ids."""
        ids = []
        for i in range(n):
            status, h, b = self.st.chat(p, {"messages": [{"role": "user", "content": "hi"}]},
                                        user=f"{prefix}{i}")
            self.assertEqual(status, 200, b)
            ids.append(h["x-request-id"])
        self.assertIsNone(p.proc.poll(), "SIGXFSZ must not stop the router")
        chunk = ",".join(f"'{x}'" for x in ids)
        wait_for(lambda: self.st.count_rows(f"request_id IN ({chunk})") == len(ids), 30,
                 what=f"{len(ids)} rows")
        return ids

    def test_a_failed_journal_write_loses_no_event(self):
        # the journal's files may grow to 32 KiB (about 30 events): writes past it fail,
        # cut part way through an event (the router's log file is under the same limit:
        # it logs a few lines, not one per request); the events still go to Redis
        limit = 32 << 10
        p = self.limited_router(limit)
        ids = self.answered_with_rows(p, 120, "f")
        fails = [x for x in p.log_records()
                 if x.get("msg") == "journal write failed, events only in memory"]
        self.assertTrue(fails, p.logs())
        self.assertRegex(fails[0]["reason"], r"^wrote \d+ of \d+ bytes$")
        # what the journal holds is whole events (the torn write was cut back)
        for path in segments(self.dir):
            with open(path, "rb") as f:
                data = f.read()
            self.assertLessEqual(len(data), limit)
            self.assertTrue(data == b"" or data.endswith(b"\n"), path)
            for line in data.splitlines():
                self.assertIn(json.loads(line)["request_id"], ids)

    def test_no_journal_write_at_all_stops_nothing(self):
        # no file may grow at all: every write (the journal's and the log's) raises
        # SIGXFSZ, which must not end the router
        p = self.limited_router(0)
        self.answered_with_rows(p, 20, "z")
        self.assertEqual([os.path.getsize(x) for x in segments(self.dir)],
                         [0] * len(segments(self.dir)))

    def test_one_router_per_directory(self):
        r = self.router()
        p = Proc("router", ["--config", r.config_path, "--listen", "127.0.0.1:0", "--journal",
                            self.dir], env=self.st.svc.env())
        p.start(wait=False)
        self.assertNotEqual(p.wait(15), 0)
        self.assertIn("is in use by another router process", p.logs())
        self.assertEqual(self.st.get(r, "/healthz")[0], 200)

    def test_journal_not_a_directory(self):
        path = os.path.join(self.st.tmp, "file")
        open(path, "w").close()
        p = Proc("router", ["--config", self.st.write_config("c", self.cfg), "--listen",
                            "127.0.0.1:0", "--journal", path], env=self.st.svc.env())
        p.start(wait=False)
        self.assertNotEqual(p.wait(15), 0)
        self.assertIn("cannot start: journal", p.logs())


if __name__ == "__main__":
    unittest.main()
