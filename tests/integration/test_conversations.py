"""Conversation stickiness (issue 13, part 7): the follow-up turns of a conversation keep
the model of its first turn -- computed again from the first user message at the second
turn, then kept in Redis for dispatch.sticky_ttl_s -- while a paused experiment,
X-Model-Prefer and the option's off switch always win. Single-turn requests write nothing.
Real Redis, PostgreSQL, ingest and the simulator; the rows say which turns were sticky.
"""

import json
import unittest

from stack import Stack

EXP = "exp-conv"
SALT = "salt-conv"
RULES = {"patterns": [{"regex": "#code", "task": "code"}, {"regex": ".", "task": "simple"}]}


def model(tier, pin=1.0, pout=2.0):
    return {"provider": "sim", "upstream": "sim-instant", "tier": tier,
            "input_usd_per_mtok": pin, "output_usd_per_mtok": pout}


def config(sim_url, **dispatch):
    return {
        "default_model": "big",
        "experiment": {"name": EXP, "salt": SALT, "holdout_pct": 0},
        "providers": {"sim": {"base_url": sim_url}},
        "models": {"big": model("premium", 2.5, 10.0), "small": model("economy"),
                   "coder": model("code")},
        "routing": {"simple": {"balanced": "small"}, "code": {"balanced": "coder"}},
        "dispatch": dict({"sticky_ttl_s": 600}, **dispatch),
        "api_keys": [{"key": "sk-conv", "project": "p", "allow_model_prefer": True}],
        "classifier_rules": RULES,
        "classifier_model": "/nonexistent/model",
    }


def first(text):
    return {"model": "auto", "messages": [{"role": "system", "content": "be brief"},
                                          {"role": "user", "content": text}]}


def follow_up(first_text, next_text):
    return {"model": "auto", "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": first_text},
        {"role": "assistant", "content": "sure"},
        {"role": "user", "content": [{"type": "text", "text": next_text}]}]}


class ConversationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.st = Stack().start()
        cls.r = cls.st.router(config(cls.st.sim_url()))
        cls.st.set_state(EXP, 1, phase="full", routed_bp=10000, holdout_bp=0, salt=SALT)
        cls.st.wait_phase(cls.r, "full")

    @classmethod
    def tearDownClass(cls):
        cls.st.stop()

    def ask(self, body, user, router=None, **headers):
        st, h, b = self.st.chat(router or self.r, body, user=user, key="sk-conv", **headers)
        self.assertEqual(st, 200, b)
        row = self.st.row(h["x-request-id"])
        return h["x-route-model"], row["sticky"], row["task_type"]

    def sticky_metric(self, router=None):
        for line in self.st.metrics(router or self.r).splitlines():
            if line.startswith("switchyard_sticky_total "):
                return int(line.split()[1])
        self.fail("no switchyard_sticky_total")

    def conv_keys(self):
        return self.st.svc.redis("KEYS", f"sy:{{{EXP}}}:conv:*").split()

    def test_follow_up_keeps_the_first_turns_model(self):
        before, keys = self.sticky_metric(), len(self.conv_keys())
        self.assertEqual(self.ask(first("hello there"), "alice"), ("small", "f", "simple"))
        self.assertEqual(len(self.conv_keys()), keys)  # a first turn writes nothing
        # the next turn is code: routed alone it would go to coder; it stays on small
        self.assertEqual(self.ask(follow_up("hello there", "#code now a parser"), "alice"),
                         ("small", "t", "code"))
        self.assertEqual(self.sticky_metric() - before, 1)
        self.assertEqual(len(self.conv_keys()), keys + 1)
        # another user opening the same way is another conversation: its own record
        self.assertEqual(self.ask(follow_up("hello there", "#code now a parser"), "bob"),
                         ("small", "t", "code"))
        self.assertEqual(len(self.conv_keys()), keys + 2)

    def test_the_record_is_kept_and_named_by_conversation_id(self):
        self.assertEqual(self.ask(first("#code a lexer"), "carol", X_Conversation_Id="c-1"),
                         ("coder", "f", "code"))
        self.assertEqual(self.ask(follow_up("#code a lexer", "thanks"), "carol",
                                  X_Conversation_Id="c-1"), ("coder", "t", "simple"))
        # the client trimmed its history: the record, not the first message, decides
        self.assertEqual(self.ask(follow_up("shorter history", "and more"), "carol",
                                  X_Conversation_Id="c-1"), ("coder", "t", "simple"))
        # the same messages without the id are another conversation, begun as simple
        self.assertEqual(self.ask(follow_up("shorter history", "and more"), "carol"),
                         ("small", "t", "simple"))

    def test_the_record_expires_with_sticky_ttl_s(self):
        keys = set(self.conv_keys())
        self.ask(follow_up("ttl check", "more"), "dave")
        new = set(self.conv_keys()) - keys
        self.assertEqual(len(new), 1)
        ttl = int(self.st.svc.redis("TTL", new.pop()))
        self.assertTrue(0 < ttl <= 600, ttl)

    def test_prefer_and_pause_win_over_stickiness(self):
        m, sticky, _ = self.ask(follow_up("plain start", "#code x"), "erin", X_Model_Prefer="big")
        self.assertEqual((m, sticky), ("big", "f"))
        self.st.set_state(EXP, 2, phase="paused", routed_bp=10000, holdout_bp=0, salt=SALT)
        self.st.wait_phase(self.r, "paused")
        try:
            m, sticky, _ = self.ask(follow_up("plain start", "#code x"), "erin")
            self.assertEqual((m, sticky), ("big", "f"))
        finally:
            self.st.set_state(EXP, 3, phase="full", routed_bp=10000, holdout_bp=0, salt=SALT)
            self.st.wait_phase(self.r, "full")
        self.assertEqual(self.ask(follow_up("plain start", "#code x"), "erin")[:2], ("small", "t"))

    def test_off_switch(self):
        r = self.st.router(config(self.st.sim_url(), sticky_conversations=False))
        self.st.wait_phase(r, "full")
        self.ask(first("no memory"), "frank", router=r)
        self.assertEqual(self.ask(follow_up("no memory", "#code y"), "frank", router=r)[:2],
                         ("coder", "f"))
        self.assertEqual(self.sticky_metric(r), 0)

    def test_bad_conversation_id(self):
        for value in ("", "x" * 257):
            st, h, b = self.st.chat(self.r, first("x"), user="g", key="sk-conv",
                                    X_Conversation_Id=value)
            self.assertEqual(st, 400, b)
            self.assertEqual(json.loads(b)["error"], {
                "message": "X-Conversation-Id must be 1 to 256 bytes",
                "type": "invalid_request_error", "param": None,
                "code": "invalid_conversation_id"})
        st, _, _ = self.st.chat(self.r, first("x"), user="g", key="sk-conv",
                                X_Conversation_Id="x" * 256)
        self.assertEqual(st, 200)


if __name__ == "__main__":
    unittest.main()
