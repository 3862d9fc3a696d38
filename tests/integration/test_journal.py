"""The router's --journal: events a SIGKILLed router still held are sent by the next router
started on the same directory; one process per directory; a torn last line is skipped."""

import glob
import os
import unittest

from harness import Proc, wait_for
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
