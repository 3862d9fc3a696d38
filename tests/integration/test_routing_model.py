"""The router with the shipped classifier model (issue 18): no pattern rules, so the model
decides every task type. A multi-turn chat is judged on its last user turn with the earlier
turns as context (clf_classify_chat), and a follow-up without a conversation record gets
the model its first turn was routed to, that turn judged the same way (its text parts
joined, the system prompt as its context, the tools rule). Real Redis, PostgreSQL, ingest
and the simulator; the headers and the requests rows say what was decided.
"""

import os
import unittest

from stack import Stack

EXP = "exp-model"
SALT = "salt-model"
SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODEL = os.path.join(SRC, "classifier", "model", "switchyard-task.model")
SYSTEM = {"role": "system", "content": "You are a helpful assistant. Be concise."}
TOOLS = [{"type": "function", "function": {"name": "get_weather",
                                           "parameters": {"type": "object"}}}]
# a first user message in parts: the greeting alone is simple, the whole message is code
GREETING = "Good morning."
PASTED = ("```python\ndef add(a, b):\n    return a - b\n```\n"
          "why does it return the wrong result?")


def model(tier):
    return {"provider": "sim", "upstream": "sim-instant", "tier": tier,
            "input_usd_per_mtok": 1.0, "output_usd_per_mtok": 2.0}


def config(sim_url):
    return {
        "default_model": "big",
        "experiment": {"name": EXP, "salt": SALT, "holdout_pct": 0},
        "providers": {"sim": {"base_url": sim_url}},
        "models": {"big": model("premium"), "small": model("economy"), "coder": model("code"),
                   "think": model("reasoning")},
        "routing": {"simple": {"balanced": "small"}, "code": {"balanced": "coder"},
                    "reasoning": {"balanced": "think"}, "complex": {"balanced": "big"}},
        "dispatch": {"sticky_ttl_s": 600},
        "api_keys": [{"key": "sk-model", "project": "p"}],
        "classifier_rules": {"code_fence": False},  # the model, not a rule, sees the fence
        "classifier_model": MODEL,
    }


def chat(*turns, **extra):
    """turns alternate user, assistant, user, ...; a system prompt first"""
    msgs = [SYSTEM] + [{"role": "user" if i % 2 == 0 else "assistant", "content": t}
                       for i, t in enumerate(turns)]
    b = {"model": "auto", "messages": msgs}
    b.update(extra)
    return b


def parts(*texts):
    return [{"type": "text", "text": t} for t in texts]


class RoutingWithModelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.st = Stack().start()
        cls.r = cls.st.router(config(cls.st.sim_url()))
        cls.st.set_state(EXP, 1, phase="full", routed_bp=10000, holdout_bp=0, salt=SALT)
        cls.st.wait_phase(cls.r, "full")

    @classmethod
    def tearDownClass(cls):
        cls.st.stop()

    def ask(self, body, user):
        """(task header, model header, the row's task_type, sticky) of one answered chat"""
        st, h, b = self.st.chat(self.r, body, user=user, key="sk-model")
        self.assertEqual(st, 200, b)
        row = self.st.row(h["x-request-id"])
        self.assertEqual(row["served_model"], h["x-route-model"])
        self.assertEqual(row["cohort"], h["x-route-cohort"])
        return h["x-route-task"], h["x-route-model"], row["task_type"], row["sticky"]

    def test_model_is_loaded(self):
        self.assertIn("classifier model loaded", self.r.logs())

    def test_multi_turn_code_and_simple(self):
        # without stickiness (no assistant turn yet): each request is routed on its own
        self.assertEqual(self.ask(chat("how do I rebase my branch onto main in git without "
                                       "losing commits?"), "u-code"),
                         ("code", "coder", "code", "f"))
        self.assertEqual(self.ask(chat("what's the capital of Portugal?"), "u-simple"),
                         ("simple", "small", "simple", "f"))
        # multi-turn: the last user turn decides, the earlier turns are context
        code = chat("hi, quick question", "Sure, go ahead.",
                    "how do I rebase my branch onto main in git without losing commits?")
        task, _, row_task, _ = self.ask(code, "u-code-2")
        self.assertEqual((task, row_task), ("code", "code"))
        simple = chat("hi, quick question", "Sure, go ahead.", "what's the capital of Portugal?")
        task, _, row_task, _ = self.ask(simple, "u-simple-2")
        self.assertEqual((task, row_task), ("simple", "simple"))

    def test_follow_up_keeps_the_first_turns_model(self):
        # a code conversation: first turn to coder, the simple follow-up stays on coder
        first = chat("how do I rebase my branch onto main in git without losing commits?")
        self.assertEqual(self.ask(first, "u-conv"), ("code", "coder", "code", "f"))
        follow = chat("how do I rebase my branch onto main in git without losing commits?",
                      "Use git rebase main on your branch.", "thanks, that works")
        self.assertEqual(self.ask(follow, "u-conv"), ("simple", "coder", "simple", "t"))
        # a simple conversation whose follow-up is code stays on small
        follow = chat("what's the capital of Portugal?", "Lisbon.",
                      "how do I rebase my branch onto main in git without losing commits?")
        self.assertEqual(self.ask(follow, "u-conv-2"), ("code", "small", "code", "t"))

    def test_first_turn_in_parts_is_judged_whole(self):
        """The first turn was routed on all its text parts (code); the follow-up, with no
        record yet, must get that turn's model, not the greeting's (small)."""
        self.assertEqual(self.ask(chat(parts(GREETING, PASTED)), "u-parts"),
                         ("code", "coder", "code", "f"))
        follow = chat(parts(GREETING, PASTED), "Use a + b.", "thanks, that works")
        self.assertEqual(self.ask(follow, "u-parts"), ("simple", "coder", "simple", "t"))

    def test_first_turn_with_tools_keeps_the_tools_rule(self):
        """A simple first turn offering tools was routed as complex (the tools rule); its
        follow-up, offering the same tools, keeps that turn's model."""
        first = chat("what's the weather in Paris today?", tools=TOOLS)
        self.assertEqual(self.ask(first, "u-tools"), ("complex", "big", "complex", "f"))
        follow = chat("what's the weather in Paris today?", "Sunny, 21 C.",
                      "and tomorrow?", tools=TOOLS)
        self.assertEqual(self.ask(follow, "u-tools"), ("complex", "big", "complex", "t"))
        # the same chat with tool_choice "none": no tools rule, the first turn was simple
        follow["tool_choice"] = "none"
        self.assertEqual(self.ask(follow, "u-tools-none"), ("simple", "small", "simple", "t"))


if __name__ == "__main__":
    unittest.main()
