"""POST /v1/feedback and /v1/labels against a real PostgreSQL.

Every rule of the feedback issue with its exact status and body: signatures (missing,
malformed, stale, mismatch, rotation), validation paths, all-or-nothing batches and
per-item results, idempotency (repeat vs 409), durability (503 + Retry-After while
PostgreSQL is away, nothing lost across a restart under load), late attribution, labels,
body limits, and the router without a database.
"""

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

from harness import Proc, Services, http, sign_webhook, source_dir, switchyard_bin, wait_for

SECRET = "fb-secret-current"
OLD_SECRET = "fb-secret-previous"
OTHER_SECRET = "fb-secret-other-project"
M64 = (1 << 64) - 1


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


def user_hash(user):
    return "%016x" % _mix(user.encode(), _mix(b"switchyard-user-v1", 0))


def sign(body, secret=SECRET, t=None):
    return sign_webhook(body, secret, t)


def config(**feedback):
    fb = {"tolerance_s": 300, "attribution_window_s": 3600,
          "projects": {"app": {"secret_env": ["SY_FB_SECRET", "SY_FB_SECRET_OLD"]},
                       "other": {"secret_env": "SY_FB_SECRET_OTHER"}}}
    fb.update(feedback)
    return {
        "default_model": "big",
        "providers": {"sim": {"base_url": "http://127.0.0.1:9/v1"}},
        "models": {"big": {"provider": "sim", "tier": "premium", "input_usd_per_mtok": 1,
                           "output_usd_per_mtok": 1}},
        "api_keys": [{"key": "sk-fb-test", "project": "app"}],
        "feedback": fb,
    }


def migrate(svc):
    r = subprocess.run([switchyard_bin(), "migrate"], env=svc.env(), capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def uid(prefix="fb"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class Base(unittest.TestCase):
    @classmethod
    def start_router(cls, cfg=None, extra=(), env=None, database=True):
        path = os.path.join(cls.tmp, uid("router") + ".json")
        with open(path, "w") as f:
            json.dump(cfg if cfg is not None else config(), f)
        e = cls.svc.env(SY_FB_SECRET=SECRET, SY_FB_SECRET_OLD=OLD_SECRET,
                        SY_FB_SECRET_OTHER=OTHER_SECRET)
        if not database:
            e.pop("SWITCHYARD_DATABASE_URL", None)
        e.update(env or {})
        p = Proc("router", ["--config", path, "--listen", "127.0.0.1:0", *extra], env=e)
        p.start()
        cls.procs.append(p)
        if database:
            wait_for(lambda: any(r.get("msg") == "database connected" for r in p.log_records()),
                     what="router database connection")
        return p

    @classmethod
    def tearDownClass(cls):
        for p in reversed(getattr(cls, "procs", [])):
            p.stop()
        if getattr(cls, "svc", None):
            cls.svc.stop()
        shutil.rmtree(getattr(cls, "tmp", ""), ignore_errors=True)

    def post(self, path, body, secret=SECRET, t=None, headers=None, router=None, query=""):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        h = {"Content-Type": "application/json", "X-Switchyard-Signature": sign(raw, secret, t)}
        h.update(headers or {})
        h = {k: v for k, v in h.items() if v is not None}
        port = (router or self.router).port
        return http("POST", f"http://127.0.0.1:{port}{path}{query}", raw, h, timeout=30)

    def fb(self, body, **kw):
        return self.post("/v1/feedback", body, **kw)

    def assert_error(self, resp, status, code, message, param=None, etype=None):
        st, hdrs, body = resp
        self.assertEqual(st, status, body)
        self.assertEqual(json.loads(body), {"error": {
            "message": message, "param": param, "code": code,
            "type": etype or ("authentication_error" if status == 401 else
                              "invalid_request_error" if status < 500 else "api_error")}})
        return hdrs

    def rows(self, sql):
        return self.svc.psql(sql)

    def count(self, where):
        return int(self.rows(f"SELECT count(*) FROM feedback WHERE {where}")[0][0])


class FeedbackTest(Base):
    @classmethod
    def setUpClass(cls):
        cls.procs = []
        cls.tmp = tempfile.mkdtemp(prefix="sy-fb-test-")
        cls.svc = Services().start()
        try:
            migrate(cls.svc)
            cls.router = cls.start_router()
        except Exception:
            cls.tearDownClass()
            raise

    # ---------- signature ----------

    def test_signature_refusals_store_nothing(self):
        fid = uid()
        item = {"feedback_id": fid, "request_id": "r", "kind": "thumb", "value": "up"}
        raw = json.dumps(item).encode()
        self.assert_error(self.fb(item, headers={"X-Switchyard-Signature": None}), 401,
                          "missing_signature", "missing X-Switchyard-Signature header")
        malformed = "malformed X-Switchyard-Signature header: expected t=<unix seconds>,v1=<64 " \
                    "hex digits of HMAC-SHA256>"
        for bad in ("", "v1=" + "0" * 64, "t=123", "t=abc,v1=" + "0" * 64, "t=1,v1=xyz",
                    "t=1,v1=" + "g" * 64, "garbage"):
            self.assert_error(self.fb(item, headers={"X-Switchyard-Signature": bad}), 401,
                              "malformed_signature", malformed)
        # 301 s in the past can only grow older before the router reads it; a timestamp in
        # the future shrinks by every second boundary crossed on the way, so it keeps a margin
        self.assert_error(self.fb(item, t=int(time.time()) - 301), 401, "signature_expired",
                          "signature timestamp is outside the tolerance of 300 seconds")
        self.assert_error(self.fb(item, t=int(time.time()) + 310), 401, "signature_expired",
                          "signature timestamp is outside the tolerance of 300 seconds")
        self.assert_error(self.fb(item, secret="wrong"), 401, "signature_mismatch",
                          "signature does not match the body for any active secret")
        # signed body != sent body
        sig = sign(raw)
        st, _, body = http("POST", f"http://127.0.0.1:{self.router.port}/v1/feedback",
                           raw.replace(b"up", b"down"), {"X-Switchyard-Signature": sig})
        self.assertEqual(st, 401, body)
        self.assertEqual(self.count(f"feedback_id = '{fid}'"), 0)

    def test_tolerance_edge_and_rotation(self):
        fid1, fid2, fid3 = uid(), uid(), uid()
        mk = lambda f: {"feedback_id": f, "request_id": "r", "kind": "thumb", "value": "up"}
        st, _, body = self.fb(mk(fid1), t=int(time.time()) - 290)
        self.assertEqual(st, 200, body)
        st, _, body = self.fb(mk(fid2), secret=OLD_SECRET)  # second active secret
        self.assertEqual(st, 200, body)
        st, _, body = self.fb(mk(fid3), secret=OTHER_SECRET)  # another project's secret
        self.assertEqual(st, 200, body)
        self.assertEqual(self.rows(f"SELECT feedback_id, project FROM feedback WHERE feedback_id "
                                   f"IN ('{fid1}', '{fid2}', '{fid3}') ORDER BY project, feedback_id"),
                         sorted([[fid1, "app"], [fid2, "app"], [fid3, "other"]],
                                key=lambda r: (r[1], r[0])))
        # a header carrying several v1 entries (sender mid-rotation): any one may match
        fid4 = uid()
        raw = json.dumps(mk(fid4)).encode()
        t = int(time.time())
        good = sign(raw, SECRET, t).split(",")[1]
        st, _, body = self.fb(raw, headers={"X-Switchyard-Signature": f"t={t},v1={'0' * 64},{good}"})
        self.assertEqual(st, 200, body)

    # ---------- validation ----------

    def test_validation_errors(self):
        ok = {"feedback_id": "x", "request_id": "r", "kind": "rating", "value": 3}
        cases = [
            (b"{not json", "body", "body: invalid JSON at line 1 column 4: string or '}' expected "
                                   "near 'not'"),
            (b"42", "body", "body: invalid JSON at line 1 column 2: '[' or '{' expected near '42'"),
            (b"[]", "body", "body: a batch must hold 1 to 1000 items (got 0)"),
            ([ok] * 1001, "body", "body: a batch must hold 1 to 1000 items (got 1001)"),
            ([ok, ok, ok, dict(ok, value=7)], "[3].value",
             "[3].value: rating must be an integer from 1 to 5"),
            ([dict(ok, value=2.5)], "[0].value", "[0].value: rating must be an integer from 1 to 5"),
            ([dict(ok, value="5")], "[0].value", "[0].value: rating must be an integer from 1 to 5"),
            (dict(ok, value=0), "value", "value: rating must be an integer from 1 to 5"),
            ([1], "[0]", "[0]: must be an object"),
            ({"request_id": "r", "kind": "thumb", "value": "up"}, "feedback_id",
             "feedback_id: required"),
            (dict(ok, feedback_id=""), "feedback_id",
             "feedback_id: must be a string of 1 to 256 bytes"),
            (dict(ok, feedback_id="f" * 257), "feedback_id",
             "feedback_id: must be a string of 1 to 256 bytes"),
            (dict(ok, request_id=5), "request_id", "request_id: must be a string of 1 to 256 bytes"),
            ({"feedback_id": "x", "kind": "thumb"}, "request_id", "request_id: required"),
            (dict(ok, kind="smile"), "kind", "kind: must be one of thumb, rating, comment, ticket"),
            ({"feedback_id": "x", "request_id": "r", "kind": "thumb"}, "value",
             "value: required for kind thumb (\"up\" or \"down\")"),
            ({"feedback_id": "x", "request_id": "r", "kind": "thumb", "value": "sideways"},
             "value", "value: thumb must be \"up\" or \"down\""),
            ({"feedback_id": "x", "request_id": "r", "kind": "ticket", "value": "meh"}, "value",
             "value: ticket severity must be one of low, normal, high, urgent"),
            ({"feedback_id": "x", "request_id": "r", "kind": "comment"}, "comment",
             "comment: required and non-empty for kind comment"),
            ({"feedback_id": "x", "request_id": "r", "kind": "comment", "comment": "a",
              "value": 1}, "value",
             "value: not allowed for kind comment (send the text in comment)"),
            (dict(ok, comment="é" * 2049), "comment",
             "comment: must be at most 4096 bytes of UTF-8 (got 4098)"),
            (dict(ok, comment=7), "comment", "comment: must be a string"),
            (dict(ok, user_id=""), "user_id", "user_id: must be a string of 1 to 256 bytes"),
            (dict(ok, created_at="yesterday"), "created_at",
             "created_at: must be an RFC 3339 date-time such as 2026-11-28T03:00:00Z"),
            (dict(ok, created_at="2026-02-30T00:00:00Z"), "created_at",
             "created_at: must be an RFC 3339 date-time such as 2026-11-28T03:00:00Z"),
            (dict(ok, rating=4), "rating", "rating: unknown field"),
            ([ok, dict(ok, value=4)], "[1].feedback_id",
             "[1].feedback_id: repeats [0] with different content"),
        ]
        for body, param, msg in cases:
            with self.subTest(msg=msg):
                self.assert_error(self.fb(body), 400, "invalid_feedback", msg, param=param)
        # invalid UTF-8 is refused by the JSON parser, before any field is looked at
        st, _, body = self.fb(b'{"feedback_id":"x","request_id":"r","kind":"comment",'
                              b'"comment":"\xff"}')
        self.assertEqual(st, 400, body)
        self.assertIn("body: invalid JSON", json.loads(body)["error"]["message"])
        self.assertEqual(self.count("feedback_id = 'x'"), 0)

    def test_created_at_in_the_future(self):
        """The sender's clock may be ahead of the router's by the signature tolerance
        (tolerance_s, 300 s here), not more: such a created_at is refused, 400."""
        def rfc3339(t):
            return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
        ahead = uid()
        ok = {"feedback_id": ahead, "request_id": "r", "kind": "thumb", "value": "up",
              "created_at": rfc3339(time.time() + 240)}  # within the skew
        st, _, body = self.fb(ok)
        self.assertEqual((st, json.loads(body)["created"]), (200, 1), body)
        far = uid()
        msg = "created_at: is in the future (more than 300 seconds after the time of receipt)"
        self.assert_error(self.fb(dict(ok, feedback_id=far, created_at=rfc3339(time.time() + 400))),
                          400, "invalid_feedback", msg, param="created_at")
        self.assert_error(self.fb([dict(ok, feedback_id=uid()),
                                   dict(ok, feedback_id=far, created_at="2099-01-01T00:00:00Z")]),
                          400, "invalid_feedback", "[1]." + msg, param="[1].created_at")
        st, _, body = self.fb([dict(ok, feedback_id=uid()),
                               dict(ok, feedback_id=far, created_at="2099-01-01T00:00:00+14:00")],
                              query="?results=per_item")
        self.assertEqual(st, 207, body)
        res = json.loads(body)
        self.assertEqual((res["created"], res["invalid"]), (1, 1))
        self.assertEqual(res["results"][1]["error"], "[1]." + msg)
        self.assertEqual(self.count(f"feedback_id = '{far}'"), 0)
        self.assertEqual(self.count(f"feedback_id = '{ahead}'"), 1)

    def test_stored_row(self):
        fid, rid = uid(), uid("req")
        items = [
            {"feedback_id": fid + "-t", "request_id": rid, "kind": "thumb", "value": "down",
             "user_id": "alice", "created_at": "2026-11-28T04:00:00.123456789+01:00"},
            {"feedback_id": fid + "-r", "request_id": rid, "kind": "rating", "value": 4,
             "comment": "ok \"quoted\" \\ back{slash},", "user_id": None},
            {"feedback_id": fid + "-c", "request_id": rid, "kind": "comment",
             "comment": "ünïcødé ✓ " + "x" * 4000},
            {"feedback_id": fid + "-k", "request_id": rid, "kind": "ticket", "value": "urgent"},
            {"feedback_id": fid + "-k2", "request_id": rid, "kind": "ticket"},
        ]
        st, _, body = self.fb(items)
        self.assertEqual(st, 200, body)
        self.assertEqual(json.loads(body), {"object": "feedback.batch", "received": 5,
                                            "created": 5, "duplicates": 0})
        rows = self.rows(
            "SELECT feedback_id, request_id, kind, coalesce(value, ''), coalesce(rating::text, ''),"
            " coalesce(comment, ''), coalesce(user_hash, ''), "
            " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), project,"
            " attribution_window_s, length(content_hash)"
            f" FROM feedback WHERE request_id = '{rid}' ORDER BY feedback_id")
        by = {r[0]: r for r in rows}
        self.assertEqual(by[fid + "-t"][1:9], [rid, "thumbs", "down", "", "", user_hash("alice"),
                                                "2026-11-28T03:00:00.123456", "app"])
        self.assertEqual(by[fid + "-r"][2:6], ["rating", "", "4", "ok \"quoted\" \\ back{slash},"])
        self.assertEqual(by[fid + "-c"][5], "ünïcødé ✓ " + "x" * 4000)
        self.assertEqual(by[fid + "-k"][2:4], ["ticket", "urgent"])
        self.assertEqual(by[fid + "-k2"][2:4], ["ticket", ""])
        self.assertEqual({r[9] for r in rows}, {"3600"})
        self.assertEqual({r[10] for r in rows}, {"64"})

    # ---------- batches: all-or-nothing and per item ----------

    def test_batch_all_or_nothing(self):
        a, b = uid(), uid()
        batch = [{"feedback_id": a, "request_id": "r", "kind": "thumb", "value": "up"},
                 {"feedback_id": b, "request_id": "r", "kind": "rating", "value": 6}]
        self.assert_error(self.fb(batch), 400, "invalid_feedback",
                          "[1].value: rating must be an integer from 1 to 5", param="[1].value")
        self.assertEqual(self.count(f"feedback_id IN ('{a}', '{b}')"), 0)

    def test_batch_per_item(self):
        a, b, c, d = uid(), uid(), uid(), uid()
        st, _, body = self.fb({"feedback_id": c, "request_id": "r", "kind": "thumb", "value": "up"})
        self.assertEqual(st, 200, body)
        batch = [{"feedback_id": a, "request_id": "r", "kind": "thumb", "value": "up"},
                 {"feedback_id": b, "request_id": "r", "kind": "rating", "value": 6},
                 {"feedback_id": c, "request_id": "r", "kind": "thumb", "value": "down"},
                 {"feedback_id": d, "request_id": "r", "kind": "rating", "value": 5},
                 {"feedback_id": d, "request_id": "r", "kind": "rating", "value": 5}]
        st, _, body = self.fb(batch, query="?results=per_item")
        self.assertEqual(st, 207, body)
        self.assertEqual(json.loads(body), {
            "object": "feedback.batch", "received": 5, "created": 2, "duplicates": 1,
            "conflicts": 1, "invalid": 1,
            "results": [
                {"index": 0, "feedback_id": a, "status": "created"},
                {"index": 1, "feedback_id": b, "status": "invalid",
                 "error": "[1].value: rating must be an integer from 1 to 5"},
                {"index": 2, "feedback_id": c, "status": "conflict",
                 "error": "feedback_id already received with different content"},
                {"index": 3, "feedback_id": d, "status": "created"},
                {"index": 4, "feedback_id": d, "status": "duplicate"}]})
        self.assertEqual(self.count(f"feedback_id IN ('{a}', '{b}', '{d}')"), 2)
        self.assertEqual(self.rows(f"SELECT value FROM feedback WHERE feedback_id = '{c}'"), [["up"]])
        # nothing valid at all: 207 without touching the database
        st, _, body = self.fb([{"feedback_id": b, "request_id": "r", "kind": "x"}],
                              query="?results=per_item")
        self.assertEqual(st, 207, body)
        self.assertEqual(json.loads(body)["results"][0]["status"], "invalid")

    # ---------- idempotency ----------

    def test_idempotency(self):
        a, b = uid(), uid()
        item = {"feedback_id": a, "request_id": "r", "kind": "rating", "value": 2,
                "created_at": "2026-11-28T03:00:00Z"}
        for expect_created in (1, 0, 0):
            st, _, body = self.fb(item)
            self.assertEqual(st, 200, body)
            self.assertEqual(json.loads(body)["created"], expect_created)
        # the same instant written differently is the same content
        st, _, body = self.fb(dict(item, created_at="2026-11-28T04:00:00+01:00"))
        self.assertEqual(json.loads(body), {"object": "feedback.batch", "received": 1,
                                            "created": 0, "duplicates": 1})
        self.assertEqual(self.count(f"feedback_id = '{a}'"), 1)
        self.assert_error(self.fb(dict(item, value=3)), 409, "feedback_conflict",
                          f"feedback_id: \"{a}\" was already received with different content; "
                          "nothing was stored", param="feedback_id")
        # a conflict inside a batch rolls the whole batch back
        batch = [{"feedback_id": b, "request_id": "r", "kind": "thumb", "value": "up"},
                 dict(item, comment="changed")]
        self.assert_error(self.fb(batch), 409, "feedback_conflict",
                          f"[1].feedback_id: \"{a}\" was already received with different content; "
                          "nothing was stored", param="[1].feedback_id")
        self.assertEqual(self.count(f"feedback_id = '{b}'"), 0)
        self.assertEqual(self.rows(f"SELECT rating FROM feedback WHERE feedback_id = '{a}'"), [["2"]])
        # a retry of a whole batch already stored: all duplicates
        c = [{"feedback_id": uid(), "request_id": "r", "kind": "thumb", "value": "up"}
             for _ in range(50)]
        st, _, body = self.fb(c)
        self.assertEqual(json.loads(body)["created"], 50)
        st, _, body = self.fb(c)
        self.assertEqual(json.loads(body), {"object": "feedback.batch", "received": 50,
                                            "created": 0, "duplicates": 50})

    def test_concurrent_same_id(self):
        fid = uid()
        item = {"feedback_id": fid, "request_id": "r", "kind": "thumb", "value": "up"}
        out = []
        ths = [threading.Thread(target=lambda: out.append(self.fb(item)[0])) for _ in range(8)]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        self.assertEqual(out, [200] * 8)
        self.assertEqual(self.count(f"feedback_id = '{fid}'"), 1)

    # ---------- attribution ----------

    def test_late_and_early_feedback(self):
        early, known = uid("req"), uid("req")
        ts = "2026-11-20T10:00:00Z"
        self.rows(f"INSERT INTO requests (request_id, ts) VALUES ('{known}', '{ts}')")
        st, _, body = self.fb([
            # request row already there: attributed at insert
            {"feedback_id": known + "-1", "request_id": known, "kind": "thumb", "value": "up",
             "created_at": "2026-11-20T10:59:00Z"},
            {"feedback_id": known + "-2", "request_id": known, "kind": "thumb", "value": "up",
             "created_at": "2026-11-20T11:00:01Z"},
            # request row not written yet: kept, attributed when it arrives
            {"feedback_id": early + "-1", "request_id": early, "kind": "rating", "value": 5,
             "created_at": "2026-11-20T10:30:00Z"},
            {"feedback_id": early + "-2", "request_id": early, "kind": "rating", "value": 1,
             "created_at": "2026-11-22T10:00:00Z"},
        ])
        self.assertEqual(st, 200, body)
        q = ("SELECT feedback_id, coalesce(to_char(request_ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), ''),"
             " coalesce(late::text, '') FROM feedback WHERE request_id IN ('{}', '{}')")
        got = lambda: {r[0]: r[1:] for r in self.rows(q.format(known, early))}
        self.assertEqual(got(), {
            early + "-1": ["", ""], early + "-2": ["", ""],
            known + "-1": ["2026-11-20 10:00", "false"],
            known + "-2": ["2026-11-20 10:00", "true"]})
        # the ingester writes the request row later (INSERT .. SELECT as switchyard ingest does)
        self.rows(f"INSERT INTO requests (request_id, ts) SELECT '{early}', '{ts}' "
                  "ON CONFLICT DO NOTHING")
        self.assertEqual(got(), {
            early + "-1": ["2026-11-20 10:00", "false"],
            early + "-2": ["2026-11-20 10:00", "true"],
            known + "-1": ["2026-11-20 10:00", "false"],
            known + "-2": ["2026-11-20 10:00", "true"]})

    # ---------- labels ----------

    def test_labels(self):
        rid = uid("req")
        lab = {"request_id": rid, "task_type": "code", "labeller": "ann", "prompt": "write a sort"}
        st, _, body = self.post("/v1/labels", [lab, dict(lab, labeller="bob", prompt=None)])
        self.assertEqual(st, 200, body)
        self.assertEqual(json.loads(body), {"object": "labels.batch", "received": 2,
                                            "created": 2, "duplicates": 0})
        st, _, body = self.post("/v1/labels", lab)
        self.assertEqual(json.loads(body)["duplicates"], 1)
        self.assert_error(self.post("/v1/labels", dict(lab, task_type="reasoning")), 409,
                          "label_conflict",
                          f"labeller: \"ann\" already labelled request_id \"{rid}\" with a "
                          "different task_type or prompt; nothing was stored", param="labeller")
        self.assertEqual(self.rows(f"SELECT labeller, task_type, coalesce(prompt, ''), project "
                                   f"FROM labels WHERE request_id = '{rid}' ORDER BY labeller"),
                         [["ann", "code", "write a sort", "app"], ["bob", "code", "", "app"]])
        # only the classifier's task types: nothing else can serve the accuracy audit or
        # retraining
        want = "task_type: must be one of the classifier's task types: simple, code, " \
               "reasoning, complex"
        for bad in ("poetry", "Bad Type", "Code", "none", "", 7, None):
            with self.subTest(task_type=bad):
                self.assert_error(self.post("/v1/labels", [lab, dict(lab, task_type=bad)]), 400,
                                  "invalid_labels", "[1]." + want, param="[1].task_type")
        poetry = uid("req")
        self.assert_error(self.post("/v1/labels", dict(lab, request_id=poetry, task_type="poetry")),
                          400, "invalid_labels", want, param="task_type")
        self.assertEqual(self.rows(f"SELECT count(*) FROM labels WHERE request_id = '{poetry}'"),
                         [["0"]])
        self.assert_error(self.post("/v1/labels", {"request_id": rid, "task_type": "code"}), 400,
                          "invalid_labels", "labeller: required", param="labeller")
        self.assert_error(self.post("/v1/labels", lab, secret="nope"), 401, "signature_mismatch",
                          "signature does not match the body for any active secret")
        st, _, body = self.post("/v1/labels", [dict(lab, request_id=uid()), dict(lab, task_type="simple")],
                                query="?results=per_item")
        self.assertEqual(st, 207, body)
        self.assertEqual([r["status"] for r in json.loads(body)["results"]], ["created", "conflict"])

    # ---------- metrics ----------

    def test_metrics_count_every_outcome(self):
        r = self.start_router()  # its own counters
        item = {"feedback_id": uid(), "request_id": "r", "kind": "thumb", "value": "up"}
        two = [item, dict(item, feedback_id=uid())]
        self.assertEqual(self.fb(two, router=r)[0], 200)                     # 2 created
        self.assertEqual(self.fb(two, router=r)[0], 200)                     # 2 duplicates
        self.assertEqual(self.fb(dict(item, value="down"), router=r)[0], 409)
        self.assertEqual(self.fb(dict(item, kind="smile"), router=r)[0], 400)
        self.assertEqual(self.fb(item, router=r, headers={"X-Switchyard-Signature": None})[0],
                         401)
        self.assertEqual(self.fb(item, router=r, headers={"X-Switchyard-Signature": "t=1"})[0],
                         401)
        self.assertEqual(self.fb(item, router=r, t=int(time.time()) - 1000)[0], 401)
        self.assertEqual(self.fb(item, router=r, secret="nope")[0], 401)
        st, _, body = self.fb([dict(item, feedback_id=uid()), dict(item, kind="smile")],
                              router=r, query="?results=per_item")       # 1 created, 1 invalid
        self.assertEqual(st, 207, body)
        lab = {"request_id": uid("req"), "task_type": "code", "labeller": "ann"}
        self.assertEqual(self.post("/v1/labels", lab, router=r)[0], 200)     # 1 created
        self.assertEqual(self.post("/v1/labels", dict(lab, task_type="poetry"), router=r)[0], 400)
        self.assertEqual(self.post("/v1/labels", dict(lab, task_type="simple"), router=r)[0], 409)
        st, _, m = http("GET", f"http://127.0.0.1:{r.port}/metrics")
        self.assertEqual(st, 200)
        got = {}
        for line in m.decode().splitlines():
            if line.startswith("switchyard_feedback_"):
                k, _, v = line.rpartition(" ")
                if v != "0":
                    got[k] = int(v)
        req = 'switchyard_feedback_requests_total{endpoint="%s",result="%s"}'
        items = 'switchyard_feedback_items_total{endpoint="%s",outcome="%s"}'
        self.assertEqual(got, {
            req % ("feedback", "stored"): 3,
            req % ("feedback", "conflict"): 1,
            req % ("feedback", "invalid"): 1,
            req % ("feedback", "missing_signature"): 1,
            req % ("feedback", "malformed_signature"): 1,
            req % ("feedback", "signature_expired"): 1,
            req % ("feedback", "signature_mismatch"): 1,
            items % ("feedback", "created"): 3,
            items % ("feedback", "duplicate"): 2,
            items % ("feedback", "invalid"): 1,
            req % ("labels", "stored"): 1,
            req % ("labels", "invalid"): 1,
            req % ("labels", "conflict"): 1,
            items % ("labels", "created"): 1,
        })
        # every result and outcome is listed, zeros too, so a rate() has a series at once
        self.assertIn(req % ("labels", "storage_unavailable") + " 0", m.decode())
        self.assertIn(items % ("labels", "conflict") + " 0", m.decode())

    # ---------- HTTP ----------

    def test_method_and_limits(self):
        st, hdrs, body = http("GET", f"http://127.0.0.1:{self.router.port}/v1/feedback")
        self.assertEqual(st, 405, body)
        self.assertEqual(hdrs["allow"], "POST")
        small = self.start_router(config(max_body_bytes=2048), extra=["--max-body", "1000"])
        big = json.dumps([{"feedback_id": uid(), "request_id": "r", "kind": "comment",
                           "comment": "c" * 1000} for _ in range(3)]).encode()
        self.assert_error(self.fb(big, router=small), 413, "request_too_large",
                          f"request body of {len(big)} bytes exceeds the limit of 2048 bytes")
        # a body between --max-body and the feedback limit: fine here, 413 on chat
        mid = json.dumps({"feedback_id": uid(), "request_id": "r", "kind": "comment",
                          "comment": "c" * 1500}).encode()
        self.assertEqual(self.fb(mid, router=small)[0], 200)
        st, _, body = http("POST", f"http://127.0.0.1:{small.port}/v1/chat/completions", mid,
                           {"Authorization": "Bearer sk-fb-test"})
        self.assert_error((st, {}, body), 413, "request_too_large",
                          f"request body of {len(mid)} bytes exceeds the limit of 1000 bytes")

    def test_full_batch_with_max_comments(self):
        batch = [{"feedback_id": uid(), "request_id": uid("req"), "kind": "comment",
                  "comment": "ü" * 2048, "user_id": "u%d" % i,
                  "created_at": "2026-11-28T03:00:00Z"} for i in range(1000)]
        raw = json.dumps(batch, ensure_ascii=False).encode()
        self.assertGreater(len(raw), 4 << 20)
        st, _, body = self.fb(raw)
        self.assertEqual(st, 200, body)
        self.assertEqual(json.loads(body)["created"], 1000)

    def test_without_database_or_config(self):
        nodb = self.start_router(database=False)
        item = {"feedback_id": uid(), "request_id": "r", "kind": "thumb", "value": "up"}
        self.assert_error(self.fb(item, router=nodb), 503, "storage_not_configured",
                          "feedback storage is not configured: start the router with "
                          "--database-url or SWITCHYARD_DATABASE_URL")
        # signature is still checked first
        self.assertEqual(self.fb(item, router=nodb, secret="x")[0], 401)
        cfg = config()
        del cfg["feedback"]
        nofb = self.start_router(cfg, database=False)
        self.assert_error(self.post("/v1/labels", item, router=nofb), 503,
                          "feedback_not_configured",
                          "labels ingestion is not configured: add a \"feedback\" section with "
                          "signing secrets to the router config")


class FeedbackOutageTest(Base):
    """PostgreSQL away: 503 + Retry-After, and nothing lost once senders retry."""

    @classmethod
    def setUpClass(cls):
        cls.procs = []
        cls.tmp = tempfile.mkdtemp(prefix="sy-fb-outage-")
        cls.svc = Services().start()
        try:
            migrate(cls.svc)
            cls.router = cls.start_router()
        except Exception:
            cls.tearDownClass()
            raise

    def test_pg_down_then_back(self):
        item = {"feedback_id": uid(), "request_id": "r", "kind": "thumb", "value": "up"}
        self.svc.stop_pg()
        try:
            st, hdrs, body = self.fb(item)
            self.assertEqual(st, 503, body)
            self.assertEqual(hdrs.get("retry-after"), "2")
            err = json.loads(body)["error"]
            self.assertEqual(err["code"], "storage_unavailable")
            self.assertTrue(err["message"].startswith("feedback storage unavailable ("), err)
            self.assertTrue(err["message"].endswith("; nothing was acknowledged, retry later "
                                                    "(retries are idempotent)"), err)
        finally:
            self.svc.start_pg()
        st = wait_for(lambda: self.fb(item)[0] == 200, timeout=30, what="feedback accepted again")
        self.assertTrue(st)
        self.assertEqual(self.count(f"feedback_id = '{item['feedback_id']}'"), 1)

    def test_restart_under_load_loses_nothing(self):
        tag = uid("load")
        senders, size = 4, 100
        results = {"ok": 0, "503": 0, "other": []}
        sent = [0] * senders  # batches acknowledged, per sender
        lock = threading.Lock()
        stop = threading.Event()

        def sender(s):
            b = 0
            while not stop.is_set():  # send until the outage has been seen and is over
                batch = [{"feedback_id": f"{tag}-{s}-{b}-{i}", "request_id": f"{tag}-req-{i}",
                          "kind": "rating", "value": 1 + i % 5} for i in range(size)]
                while True:  # the sender's retry loop: same body until a 2xx
                    try:
                        st, hdrs, body = self.fb(batch)
                    except OSError:
                        st, hdrs, body = 0, {}, b""
                    with lock:
                        if st == 200:
                            results["ok"] += 1
                        elif st == 503:
                            results["503"] += 1
                            self.assertIn("retry-after", hdrs)
                        elif st:
                            results["other"].append((st, body))
                    if st == 200:
                        break
                    time.sleep(0.2)
                b += 1
                sent[s] = b

        ths = [threading.Thread(target=sender, args=(s,)) for s in range(senders)]
        for t in ths:
            t.start()
        time.sleep(0.5)
        self.svc.restart_pg()
        time.sleep(0.5)
        self.svc.stop_pg()
        # keep PostgreSQL down until the senders have been told so
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with lock:
                if results["503"]:
                    break
            time.sleep(0.1)
        self.svc.start_pg()
        time.sleep(1.0)  # some load after the outage too
        stop.set()
        for t in ths:
            t.join(120)
        self.assertEqual(results["other"], [])
        self.assertEqual(results["ok"], sum(sent))
        self.assertGreater(results["503"], 0, "the outage was not seen")
        self.assertEqual(self.count(f"feedback_id LIKE '{tag}-%'"), sum(sent) * size)

    def test_busy_pool_and_deadline(self):
        r = self.start_router(config(db_pool_size=1, db_queue_max=0, db_timeout_ms=1500))
        # hold a lock the insert needs, so the only connection stays busy
        psql = os.path.join(self.svc.pg_bin, "psql")
        holder = subprocess.Popen([psql if os.access(psql, os.X_OK) else "psql", "-X", "-q", "-d",
                                   self.svc.database_url, "-c",
                                   "BEGIN; LOCK TABLE feedback IN EXCLUSIVE MODE; "
                                   "SELECT pg_sleep(4); COMMIT;"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            # wait for the states, not for fixed times: the lock is held, then the first
            # request's insert waits for it on the pool's only connection
            wait_for(lambda: self.rows(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "WHERE c.relname = 'feedback' AND l.mode = 'ExclusiveLock' AND l.granted")
                == [["1"]], 30, what="the lock on feedback")
            first = {}
            t = threading.Thread(target=lambda: first.update(
                resp=self.fb({"feedback_id": uid(), "request_id": "r", "kind": "thumb",
                              "value": "up"}, router=r)))
            t.start()
            wait_for(lambda: self.rows(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE '%sy_feedback_ingest(%'") == [["1"]], 10,
                what="the first insert to wait for the lock")
            st, hdrs, body = self.fb({"feedback_id": uid(), "request_id": "r", "kind": "thumb",
                                      "value": "up"}, router=r)
            self.assertEqual(st, 503, body)
            self.assertEqual(hdrs.get("retry-after"), "1")
            self.assertEqual(json.loads(body)["error"]["message"],
                             "feedback storage unavailable (database busy: too many requests "
                             "waiting); nothing was acknowledged, retry later (retries are "
                             "idempotent)")
            t.join(10)
            st, hdrs, body = first["resp"]
            # its deadline passed while the lock was held: the server's statement_timeout
            # (same deadline) or the pool's own timer ends it, either way a retryable 503
            self.assertEqual(st, 503, body)
            self.assertEqual(hdrs.get("retry-after"), "2")
            self.assertEqual(json.loads(body)["error"]["code"], "storage_unavailable")
        finally:
            holder.wait(10)
        st, _, m = http("GET", f"http://127.0.0.1:{r.port}/metrics")
        m = m.decode()
        self.assertIn('switchyard_feedback_requests_total{endpoint="feedback",'
                      'result="storage_unavailable"} 2\n', m)
        self.assertIn('switchyard_feedback_requests_total{endpoint="feedback",'
                      'result="stored"} 0\n', m)
        # the pool reconnects and serves again
        wait_for(lambda: self.fb({"feedback_id": uid(), "request_id": "r", "kind": "thumb",
                                  "value": "up"}, router=r)[0] == 200, timeout=15,
                 what="pool back")


class HeldDns:
    """A DNS server on a local UDP port that holds every query for its name until
    release(), then answers A <addr> (AAAA: no records); other names: NXDOMAIN at once."""

    def __init__(self, name, addr="127.0.0.1"):
        import socket
        self.name, self.addr = name.lower(), addr
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.held = []
        self.released = False
        self.answered = 0
        self.queries = 0
        self.lock = threading.Lock()
        threading.Thread(target=self.serve, daemon=True).start()

    @staticmethod
    def question(q):
        i, labels = 12, []
        while q[i]:
            labels.append(q[i + 1:i + 1 + q[i]].decode("ascii", "replace"))
            i += 1 + q[i]
        qtype = int.from_bytes(q[i + 1:i + 3], "big")
        return ".".join(labels).lower(), qtype, i + 5

    def answer(self, q, peer):
        name, qtype, end = self.question(q)
        ours = name == self.name
        flags = 0x8180 if ours else 0x8183  # response, RD+RA; rcode NXDOMAIN for others
        an = qtype == 1 and ours
        head = q[:2] + flags.to_bytes(2, "big") + b"\x00\x01" + (b"\x00\x01" if an else b"\x00\x00") \
            + b"\x00\x00\x00\x00"
        body = q[12:end]
        if an:
            body += b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + \
                bytes(int(x) for x in self.addr.split("."))
        self.sock.sendto(head + body, peer)
        with self.lock:
            self.answered += ours

    def serve(self):
        while True:
            try:
                q, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            name, _, _ = self.question(q)
            with self.lock:
                self.queries += name == self.name
                hold = name == self.name and not self.released
                if hold:
                    self.held.append((q, peer))
            if not hold:
                self.answer(q, peer)

    def release(self):
        with self.lock:
            self.released = True
            held, self.held = self.held, []
        for q, peer in held:
            self.answer(q, peer)

    def close(self):
        self.sock.close()


class FeedbackDnsTest(Base):
    """The database host is a name: it is resolved on the loop (evdns), so a resolver that
    takes its time holds only the feedback waiting for the database, never a chat."""

    @classmethod
    def setUpClass(cls):
        cls.procs = []
        cls.tmp = tempfile.mkdtemp(prefix="sy-fb-dns-")
        cls.svc = Services().start()
        try:
            migrate(cls.svc)
            models = os.path.join(cls.tmp, "models.json")
            with open(models, "w") as f:
                json.dump({"models": {"instant": {"completion_tokens": {"min": 5, "max": 10}}}}, f)
            cls.sim = Proc("sim", ["--listen", "127.0.0.1:0", "--models", models]).start()
            cls.procs.append(cls.sim)
        except Exception:
            cls.tearDownClass()
            raise

    def test_slow_resolver_does_not_stall_chat(self):
        dns = HeldDns("slowdb.test")
        self.addCleanup(dns.close)
        url = self.svc.database_url.replace("@127.0.0.1:", "@slowdb.test:")
        self.assertIn("@slowdb.test:", url)
        cfg = config()
        cfg["providers"]["sim"]["base_url"] = f"http://127.0.0.1:{self.sim.port}/v1"
        cfg["models"]["big"]["upstream"] = "instant"
        path = os.path.join(self.tmp, "router.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        env = self.svc.env(SY_FB_SECRET=SECRET, SY_FB_SECRET_OLD=OLD_SECRET,
                           SY_FB_SECRET_OTHER=OTHER_SECRET)
        r = Proc("router", ["--config", path, "--listen", "127.0.0.1:0", "--database-url", url,
                            "--dns-server", f"127.0.0.1:{dns.port}"], env=env).start()
        self.procs.append(r)
        wait_for(lambda: dns.queries > 0, 10, what="the router to ask for slowdb.test")
        # a feedback is accepted and waits for the database (the pool is connecting)...
        item = {"feedback_id": uid(), "request_id": "r", "kind": "thumb", "value": "up"}
        res = {}
        t = threading.Thread(target=lambda: res.update(resp=self.fb(item, router=r)))
        t.start()
        # ...while chat requests are answered, every one of them with the query still held
        for i in range(10):
            st, _, body = http("POST", f"http://127.0.0.1:{r.port}/v1/chat/completions",
                               {"messages": [{"role": "user", "content": f"hi {i}"}]},
                               {"Authorization": "Bearer sk-fb-test"}, timeout=30)
            self.assertEqual(st, 200, body)
            self.assertEqual((dns.released, dns.answered), (False, 0))
            self.assertEqual(self.count(f"feedback_id = '{item['feedback_id']}'"), 0)
        self.assertTrue(t.is_alive())  # the feedback is still waiting for its database
        dns.release()
        t.join(30)
        st, _, body = res["resp"]
        self.assertEqual(st, 200, body)
        self.assertEqual(json.loads(body)["created"], 1)
        self.assertEqual(self.count(f"feedback_id = '{item['feedback_id']}'"), 1)
        self.assertGreater(dns.answered, 0)
        self.assertTrue(any(x.get("msg") == "database connected" for x in r.log_records()))

    def test_unresolvable_host_is_503_not_a_hang(self):
        url = self.svc.database_url.replace("@127.0.0.1:", "@nowhere.test:")
        dns = HeldDns("slowdb.test")  # answers NXDOMAIN for nowhere.test at once
        self.addCleanup(dns.close)
        env = self.svc.env(SY_FB_SECRET=SECRET, SY_FB_SECRET_OLD=OLD_SECRET,
                           SY_FB_SECRET_OTHER=OTHER_SECRET)
        path = os.path.join(self.tmp, "router-nx.json")
        with open(path, "w") as f:
            json.dump(config(), f)
        r = Proc("router", ["--config", path, "--listen", "127.0.0.1:0", "--database-url", url,
                            "--dns-server", f"127.0.0.1:{dns.port}"], env=env).start()
        self.procs.append(r)
        wait_for(lambda: any(x.get("msg") == "database connection failed" and
                             x.get("reason", "").startswith("could not resolve host nowhere.test")
                             for x in r.log_records()), 15, what="the resolution failure")
        st = wait_for(lambda: self.fb({"feedback_id": uid(), "request_id": "r", "kind": "thumb",
                                       "value": "up"}, router=r)[0] == 503, 15,
                      what="503 while the host does not resolve")
        self.assertTrue(st)


if __name__ == "__main__":
    unittest.main()
