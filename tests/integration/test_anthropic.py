"""Anthropic's wire at both ends of the router (issue 13, parts 3-5), against the simulator
speaking both wires, real Redis, PostgreSQL and ingest:

- outbound: an OpenAI client, a provider with "type": "anthropic" -- plain, streamed and
  tool-calling answers translated back, cached prompt tokens priced apart, the provider's
  own faults (529 overloaded) retried and failed over;
- inbound: POST /v1/messages through the same auth, routing, failover and events, answered
  in Anthropic's format whatever the upstream's wire, with Anthropic-shaped errors for bad
  input (exact statuses and bodies).
"""

import json
import unittest

from harness import http
from stack import KEY, Stack

EXP = "exp-anth"
SALT = "salt-anth"

SIM = {
    "oai": {"tier": "x", "completion_tokens": {"min": 8, "max": 24}, "cache_hit_rate": 0.5},
    "ant": {"tier": "x", "wire": "anthropic", "completion_tokens": {"min": 8, "max": 24},
            "cache_hit_rate": 0.5},
    "ant-529": {"wire": "anthropic", "error_rate": 1, "errors": {"529": 1}},
    "oai-500": {"error_rate": 1, "errors": {"500": 1}},
    "ant-mid": {"wire": "anthropic", "error_rate": 1, "errors": {"midstream": 1},
                "completion_tokens": {"min": 200, "max": 200}},
}

PRICES = {"in": 3.0, "out": 15.0, "cached": 0.3}


def model(provider, upstream, tier, **extra):
    m = {"provider": provider, "upstream": upstream, "tier": tier,
         "input_usd_per_mtok": PRICES["in"], "output_usd_per_mtok": PRICES["out"],
         "cached_input_usd_per_mtok": PRICES["cached"]}
    m.update(extra)
    return m


def config(sim_url, default_model="claude", models=None):
    return {
        "default_model": default_model,
        "experiment": {"name": EXP, "salt": SALT, "holdout_pct": 0},
        "providers": {
            "anthropic": {"type": "anthropic", "base_url": sim_url, "api_key_env": "SY_ANT_KEY"},
            "openai": {"base_url": sim_url},
        },
        "models": models or {
            "claude": model("anthropic", "ant", "premium"),
            "gpt": model("openai", "oai", "standard"),
            "claude-down": model("anthropic", "ant-529", "flaky"),
            "gpt-down": model("openai", "oai-500", "broken"),
            "claude-mid": model("anthropic", "ant-mid", "dies"),
        },
        "dispatch": {"retry_backoff_ms": 10},
        "api_keys": [{"key": KEY, "project": "p", "allow_model_prefer": True}],
        "classifier_model": "/nonexistent/model",
    }


TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}]

LONG = "Summarise the following notes. " + " ".join(f"note {i} says nothing new." for i in range(900))


def sse_events(raw):
    """(event name or None, parsed data or the raw string) of each SSE event."""
    out = []
    for block in raw.decode().split("\n\n"):
        if not block.strip():
            continue
        name, data = None, None
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
        out.append((name, data if data == "[DONE]" else json.loads(data)))
    return out


class AnthropicTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.st = Stack(sim_models=SIM).start()
        try:
            cls.r = cls.st.router(config(cls.st.sim_url()), SY_ANT_KEY="sk-ant-test")
        except Exception:
            cls.st.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.st.stop()

    def chat(self, body, **headers):
        return self.st.chat(self.r, body, user="u-anth", **headers)

    def messages(self, body, key=KEY, headers=None, raw=None):
        h = {"x-api-key": key, "anthropic-version": "2023-06-01"} if key else {}
        h.update(headers or {})
        return http("POST", f"http://127.0.0.1:{self.r.port}/v1/messages",
                    raw if raw is not None else body, h, timeout=30)

    # ---- outbound: OpenAI client, Anthropic provider ----

    def test_plain_answer_through_an_anthropic_provider(self):
        st, h, b = self.chat({"model": "auto", "messages": [
            {"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]})
        self.assertEqual(st, 200, b)
        resp = json.loads(b)
        self.assertEqual(resp["object"], "chat.completion")
        self.assertTrue(resp["id"].startswith("chatcmpl-msg_"), resp["id"])
        msg = resp["choices"][0]["message"]
        self.assertEqual((msg["role"], resp["choices"][0]["finish_reason"]), ("assistant", "stop"))
        self.assertTrue(msg["content"])
        row = self.st.row(h["x-request-id"])
        self.assertEqual((row["served_model"], row["provider"], row["attempts"]),
                         ("claude", "anthropic", "1"))
        self.assertEqual(int(row["tokens_in"]), resp["usage"]["prompt_tokens"])
        self.assertEqual(int(row["tokens_out"]), resp["usage"]["completion_tokens"])

    def test_cached_prompt_tokens_are_priced_apart(self):
        for name in ("claude", "gpt"):  # both wires report the cache their own way
            st, h, b = self.chat({"model": "auto", "messages": [{"role": "user", "content": LONG}]},
                                 X_Model_Prefer=name)
            self.assertEqual(st, 200, b)
            usage = json.loads(b)["usage"]
            p, c = usage["prompt_tokens"], usage["prompt_tokens_details"]["cached_tokens"]
            self.assertGreaterEqual(p, 1024)
            self.assertEqual(c, p // 2 // 128 * 128, name)  # the simulator's cache rule
            row = self.st.row(h["x-request-id"])
            self.assertEqual((int(row["tokens_in"]), int(row["cached_tokens"]),
                              int(row["cache_write_tokens"])), (p, c, 0), name)
            o = usage["completion_tokens"]
            want = ((p - c) * PRICES["in"] + c * PRICES["cached"] + o * PRICES["out"]) / 1e6
            self.assertAlmostEqual(float(row["cost_usd"]), want, places=10)
            # the baseline is the default model at its own prices, the same cache
            self.assertAlmostEqual(float(row["baseline_cost_usd"]), want, places=10)

    def test_stream_through_an_anthropic_provider(self):
        st, h, b = self.chat({"model": "auto", "stream": True,
                              "stream_options": {"include_usage": True},
                              "messages": [{"role": "user", "content": "tell me a story"}]})
        self.assertEqual(st, 200, b)
        evs = sse_events(b)
        self.assertEqual(evs[-1], (None, "[DONE]"))
        chunks = [d for _, d in evs[:-1]]
        self.assertTrue(all(c["object"] == "chat.completion.chunk" for c in chunks))
        self.assertEqual(chunks[0]["choices"][0]["delta"]["role"], "assistant")
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks
                       if c["choices"])
        self.assertTrue(text)
        finish = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]
                  and c["choices"][0].get("finish_reason")]
        self.assertEqual(finish, ["stop"])
        usage = chunks[-1]["usage"]
        self.assertEqual(chunks[-1]["choices"], [])
        row = self.st.row(h["x-request-id"])
        self.assertEqual((int(row["tokens_in"]), int(row["tokens_out"]), row["stream"]),
                         (usage["prompt_tokens"], usage["completion_tokens"], "t"))
        # without include_usage no chunk carries usage, and the row still has it
        st, h, b = self.chat({"model": "auto", "stream": True,
                              "messages": [{"role": "user", "content": "tell me a story"}]})
        self.assertFalse([d for _, d in sse_events(b)[:-1] if d.get("usage")])
        self.assertGreater(int(self.st.row(h["x-request-id"])["tokens_out"]), 0)

    def test_tool_calls_through_an_anthropic_provider(self):
        body = {"model": "auto", "tools": TOOLS, "tool_choice": "required",
                "messages": [{"role": "user", "content": "weather in Paris?"}]}
        st, _, b = self.chat(body)
        self.assertEqual(st, 200, b)
        choice = json.loads(b)["choices"][0]
        self.assertEqual(choice["finish_reason"], "tool_calls")
        call = choice["message"]["tool_calls"][0]
        self.assertEqual((call["type"], call["function"]["name"]), ("function", "get_weather"))
        self.assertTrue(call["id"].startswith("toolu_"))
        self.assertIn("city", json.loads(call["function"]["arguments"]))
        # streamed: the argument deltas reassemble to the same object
        st, _, b = self.chat(dict(body, stream=True))
        chunks = [d for _, d in sse_events(b)[:-1]]
        deltas = [tc for c in chunks if c["choices"]
                  for tc in c["choices"][0]["delta"].get("tool_calls") or []]
        self.assertEqual(deltas[0]["function"]["name"], "get_weather")
        self.assertEqual({d["index"] for d in deltas}, {0})
        args = "".join(d["function"].get("arguments", "") for d in deltas)
        self.assertIn("city", json.loads(args))
        # the tool's result goes back, and the model answers in text
        st, _, b = self.chat({"model": "auto", "tools": TOOLS, "messages": [
            {"role": "user", "content": "weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call["id"], "content": "sunny, 21 C"}]})
        self.assertEqual(st, 200, b)
        self.assertEqual(json.loads(b)["choices"][0]["finish_reason"], "stop")

    def test_overloaded_anthropic_provider_is_retried_then_reported(self):
        st, h, b = self.chat({"model": "auto", "messages": [{"role": "user", "content": "x"}]},
                             X_Model_Prefer="claude-down")
        self.assertEqual(st, 502, b)
        self.assertEqual(json.loads(b)["error"], {
            "message": "provider anthropic answered HTTP 529 for model claude-down "
                       "(after 3 attempts)",
            "type": "api_error", "param": None, "code": "upstream_error"})
        self.assertEqual(self.st.row(h["x-request-id"])["attempts"], "3")

    def test_a_request_anthropic_cannot_take_is_refused_per_candidate(self):
        body = {"model": "auto", "messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
                                                  "function": {"name": "f", "arguments": "[1]"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "r"}]}
        st, _, b = self.chat(body)
        self.assertEqual(st, 502, b)
        self.assertEqual(json.loads(b)["error"]["message"],
                         "no provider available for model claude: the request cannot be sent "
                         "to an Anthropic provider: messages[1].tool_calls[0].function.arguments: "
                         "not a JSON object")

    def test_a_stream_that_dies_is_not_retried_and_says_so_in_band(self):
        body = {"model": "auto", "stream": True, "messages": [{"role": "user", "content": "x"}]}
        st, h, b = self.chat(body, X_Model_Prefer="claude-mid")
        self.assertEqual(st, 200, b)  # the status line went before the provider died
        last = sse_events(b)[-1][1]
        self.assertEqual(last["error"], {
            "message": "provider anthropic failed mid-stream for model claude-mid",
            "type": "api_error", "param": None, "code": "upstream_error"})
        row = self.st.row(h["x-request-id"])
        self.assertEqual((row["status"], row["error"], row["attempts"]),
                         ("502", "upstream_failed_mid_stream", "1"))
        # an Anthropic client gets Anthropic's error event
        st, h, b = self.messages({"model": "auto", "max_tokens": 300, "stream": True,
                                  "messages": [{"role": "user", "content": "x"}]},
                                 headers={"X-Model-Prefer": "claude-mid"})
        self.assertEqual(st, 200, b)
        self.assertEqual(sse_events(b)[-1], ("error", {"type": "error", "error": {
            "type": "api_error",
            "message": "provider anthropic failed mid-stream for model claude-mid"}}))

    def test_routed_request_falls_back_across_wires(self):
        # routed to an overloaded Anthropic model; the default is on the OpenAI wire
        r = self.st.router(dict(config(self.st.sim_url(), default_model="gpt"),
                                routing={"simple": {"balanced": "claude-down"}},
                                dispatch={"retry_backoff_ms": 10, "breaker_failures": 100},
                                classifier_rules={"patterns": [{"regex": ".", "task": "simple"}]}),
                           SY_ANT_KEY="k")
        self.st.set_state(EXP, 5, phase="full", routed_bp=10000, holdout_bp=0, salt=SALT)
        self.st.wait_phase(r, "full")
        for inbound in ("chat", "messages"):
            if inbound == "chat":
                st, h, b = self.st.chat(r, {"model": "auto",
                                            "messages": [{"role": "user", "content": "hi"}]},
                                        user="fb")
            else:
                st, h, b = http("POST", f"http://127.0.0.1:{r.port}/v1/messages",
                                {"model": "auto", "max_tokens": 50,
                                 "messages": [{"role": "user", "content": "hi"}]},
                                {"x-api-key": KEY, "X-User-Id": "fb"}, timeout=30)
            self.assertEqual(st, 200, b)
            row = self.st.row(h["x-request-id"])
            self.assertEqual((row["cohort"], row["served_model"], row["provider"],
                              row["fallback"], row["attempts"]),
                             ("routed", "gpt", "openai", "default", "4"), inbound)
        # a follow-up in Anthropic's wire keeps the conversation's model: the first
        # turn's routed model (claude-down, which fails again), so the default answers
        st, h, b = http("POST", f"http://127.0.0.1:{r.port}/v1/messages",
                        {"model": "auto", "max_tokens": 50, "messages": [
                            {"role": "user", "content": "hi"},
                            {"role": "assistant", "content": "hello"},
                            {"role": "user", "content": "more"}]},
                        {"x-api-key": KEY, "X-User-Id": "fb"}, timeout=30)
        self.assertEqual(st, 200, b)
        row = self.st.row(h["x-request-id"])
        self.assertEqual((row["sticky"], row["fallback"]), ("t", "default"))

    # ---- inbound: POST /v1/messages ----

    def test_messages_plain_both_upstream_wires(self):
        for name, provider in (("claude", "anthropic"), ("gpt", "openai")):
            st, h, b = self.messages({"model": "auto", "max_tokens": 100,
                                      "system": "be brief",
                                      "messages": [{"role": "user", "content": "hello"}]},
                                     headers={"X-Model-Prefer": name, "X-User-Id": "m-user"})
            self.assertEqual(st, 200, b)
            resp = json.loads(b)
            self.assertEqual((resp["type"], resp["role"], resp["stop_reason"]),
                             ("message", "assistant", "end_turn"), name)
            self.assertTrue(resp["id"].startswith("msg_"))
            self.assertEqual(resp["content"][0]["type"], "text")
            self.assertTrue(resp["content"][0]["text"])
            u = resp["usage"]
            row = self.st.row(h["x-request-id"])
            self.assertEqual((row["served_model"], row["provider"], row["status"]),
                             (name, provider, "200"))
            self.assertEqual(int(row["tokens_in"]), u["input_tokens"] +
                             u["cache_read_input_tokens"] + u["cache_creation_input_tokens"])
            self.assertEqual(int(row["tokens_out"]), u["output_tokens"])
            self.assertEqual(h["x-route-model"], name)

    def test_messages_stream_both_upstream_wires(self):
        for name in ("claude", "gpt"):
            st, h, b = self.messages({"model": "auto", "max_tokens": 100, "stream": True,
                                      "messages": [{"role": "user", "content": "a story"}]},
                                     headers={"X-Model-Prefer": name})
            self.assertEqual(st, 200, b)
            evs = sse_events(b)
            names = [n for n, _ in evs]
            self.assertEqual(names[0], "message_start", name)
            self.assertEqual(names[-2:], ["message_delta", "message_stop"], name)
            self.assertIn("content_block_start", names)
            self.assertIn("content_block_stop", names)
            for n, d in evs:
                self.assertEqual(d["type"], n)  # data's type matches the event name
            text = "".join(d["delta"]["text"] for n, d in evs if n == "content_block_delta")
            self.assertTrue(text, name)
            final = evs[-2][1]
            self.assertEqual(final["delta"]["stop_reason"], "end_turn")
            row = self.st.row(h["x-request-id"])
            self.assertEqual(int(row["tokens_out"]), final["usage"]["output_tokens"], name)

    def test_messages_tool_use(self):
        tools = [{"name": "get_weather", "description": "weather",
                  "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                                   "required": ["city"]}}]
        for name in ("claude", "gpt"):
            st, _, b = self.messages({"model": "auto", "max_tokens": 100, "tools": tools,
                                      "tool_choice": {"type": "any"},
                                      "messages": [{"role": "user", "content": "Paris?"}]},
                                     headers={"X-Model-Prefer": name})
            self.assertEqual(st, 200, b)
            resp = json.loads(b)
            self.assertEqual(resp["stop_reason"], "tool_use", name)
            use = [c for c in resp["content"] if c["type"] == "tool_use"][0]
            self.assertEqual(use["name"], "get_weather")
            self.assertIn("city", use["input"])
            st, _, b = self.messages({"model": "auto", "max_tokens": 100, "tools": tools,
                                      "messages": [
                                          {"role": "user", "content": "Paris?"},
                                          {"role": "assistant", "content": resp["content"]},
                                          {"role": "user", "content": [
                                              {"type": "tool_result", "tool_use_id": use["id"],
                                               "content": "sunny"}]}]},
                                     headers={"X-Model-Prefer": name})
            self.assertEqual(st, 200, b)
            self.assertEqual(json.loads(b)["stop_reason"], "end_turn", name)

    def test_messages_failover_and_final_error_are_anthropic_shaped(self):
        st, h, b = self.messages({"model": "auto", "max_tokens": 10,
                                  "messages": [{"role": "user", "content": "x"}]},
                                 headers={"X-Model-Prefer": "gpt-down"})
        self.assertEqual(st, 502, b)
        self.assertEqual(json.loads(b), {"type": "error", "error": {
            "type": "api_error",
            "message": "provider openai answered HTTP 500 for model gpt-down (after 3 attempts)"}})
        self.assertEqual(self.st.row(h["x-request-id"])["status"], "502")

    def test_messages_bad_input(self):
        def err(typ, msg):
            return {"type": "error", "error": {"type": typ, "message": msg}}
        ok = {"model": "auto", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}
        cases = [
            (dict(ok, max_tokens=None), 400, err("invalid_request_error",
                                                 "max_tokens: Input should be a valid integer")),
            ({k: v for k, v in ok.items() if k != "max_tokens"}, 400,
             err("invalid_request_error", "max_tokens: Field required")),
            (dict(ok, messages=[]), 400, None),
            (dict(ok, messages=[{"role": "robot", "content": "x"}]), 400,
             err("invalid_request_error",
                 "messages.0.role: Input should be 'user' or 'assistant'")),
            (dict(ok, messages=[{"role": "user"}]), 400,
             err("invalid_request_error", "messages.0.content: Field required")),
            (dict(ok, stream="yes"), 400, None),
            ([1, 2], 400, None),
        ]
        for body, status, want in cases:
            st, h, b = self.messages(body)
            self.assertEqual(st, status, (body, b))
            got = json.loads(b)
            self.assertEqual(got["type"], "error", b)
            self.assertEqual(got["error"]["type"], "invalid_request_error", b)
            if want:
                self.assertEqual(got, want)
            self.assertIn("x-request-id", h)
        st, _, b = self.messages(None, raw=b"{not json")
        self.assertEqual(st, 400)
        self.assertEqual(json.loads(b)["error"]["type"], "invalid_request_error")
        self.assertTrue(json.loads(b)["error"]["message"].startswith(
            "request body is not valid JSON: "), b)
        st, _, b = self.messages(ok, key=None)
        self.assertEqual((st, json.loads(b)), (401, err(
            "authentication_error", "missing API key: send it as 'x-api-key: <key>'")))
        st, _, b = self.messages(ok, key="sk-wrong")
        self.assertEqual((st, json.loads(b)), (401, err("authentication_error", "invalid API key")))
        st, _, b = self.messages(ok, key=None, headers={"Authorization": f"Bearer {KEY}"})
        self.assertEqual(st, 200, b)  # a Bearer key works too
        big = dict(ok, messages=[{"role": "user", "content": "x" * (2 << 20)}])
        st, _, b = self.messages(big)
        self.assertEqual((st, json.loads(b)), (413, err(
            "request_too_large", "request body of 2097234 bytes exceeds the limit of 1048576 bytes")))
        st, h, b = http("GET", f"http://127.0.0.1:{self.r.port}/v1/messages")
        self.assertEqual((st, h.get("allow")), (405, "POST"))


if __name__ == "__main__":
    unittest.main()
