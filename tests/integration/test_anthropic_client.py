"""The official `@anthropic-ai/sdk` npm client against the router's POST /v1/messages.

Starts Redis + PostgreSQL, migrate, the simulator, ingest and the router, then runs
`node tests/node/anthropic_client.mjs` (the SDK pinned in tests/node/package.json) for a
model behind an OpenAI-wire provider and one behind an Anthropic-wire provider, and checks
what the SDK saw: plain, streamed and tool-use messages, the usage it reports against the
row the router stored for the same X-Request-Id, and the SDK's error classes for 401, 400
and 502.

node and npm are required: when missing the test fails (run scripts/install-deps). When
tests/node/node_modules lacks the SDK, `npm ci --prefix tests/node` runs first.
"""

import json
import os
import subprocess
import unittest

from harness import wait_for
from stack import Stack
from test_openai_client import ensure_node_modules, node_dir, require_node

KEY = "sk-test-anthropic-node"
USER = "anthropic-sdk-user@example.com"
FAILING_MODEL = "always-500"
MODELS = {"gpt": "openai", "claude": "anthropic"}  # model -> its provider's wire


def router_config(sim_port):
    sim = f"http://127.0.0.1:{sim_port}/v1"
    return {
        "default_model": "gpt",
        "experiment": {"name": "exp-anth-node", "salt": "salt", "holdout_pct": 5},
        "providers": {
            "openai": {"base_url": sim, "timeout_ms": 5000},
            "anthropic": {"type": "anthropic", "base_url": sim, "timeout_ms": 5000},
            "broken": {"base_url": sim, "timeout_ms": 5000},
        },
        "models": {
            "gpt": {"provider": "openai", "upstream": "sim-instant", "tier": "premium",
                    "input_usd_per_mtok": 2.5, "output_usd_per_mtok": 10.0},
            "claude": {"provider": "anthropic", "upstream": "sim-claude-instant",
                       "tier": "anthropic", "input_usd_per_mtok": 3.0,
                       "output_usd_per_mtok": 15.0},
            FAILING_MODEL: {"provider": "broken", "upstream": "fault-500", "tier": "broken",
                            "input_usd_per_mtok": 1.0, "output_usd_per_mtok": 1.0},
        },
        "dispatch": {"retry_backoff_ms": 10},
        "api_keys": [{"key": KEY, "project": "proj-anth", "allow_model_prefer": True}],
    }


class AnthropicClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node, npm = require_node()
        ensure_node_modules(npm, "@anthropic-ai/sdk")
        cls.st = Stack().start()
        try:
            cls.router = cls.st.router(router_config(cls.st.sim.port))
            cls.result = cls.run_client()
        except Exception:
            cls.st.stop()
            raise

    @classmethod
    def run_client(cls):
        argv = [cls.node, os.path.join(node_dir(), "anthropic_client.mjs"),
                "--base-url", f"http://127.0.0.1:{cls.router.port}", "--api-key", KEY,
                "--user", USER, "--models", ",".join(MODELS), "--failing-model", FAILING_MODEL]
        env = {k: v for k, v in os.environ.items()
               if k not in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN")}
        r = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
        if not r.stdout.strip():
            raise AssertionError(f"anthropic_client.mjs printed nothing (exit {r.returncode}):\n"
                                 f"{r.stderr}")
        res = json.loads(r.stdout.strip().splitlines()[-1])
        res["_exit"], res["_stderr"] = r.returncode, r.stderr
        return res

    @classmethod
    def tearDownClass(cls):
        cls.st.stop()

    def row(self, request_id):
        cols = "status,error,served_model,provider,stream,tokens_in,tokens_out,attempts"
        rows = wait_for(lambda: self.st.svc.psql(
            f"SELECT {cols} FROM requests WHERE request_id = '{request_id}'"), 15,
            what=f"row {request_id}")
        return dict(zip(cols.split(","), rows[0]))

    def case(self, name):
        r = self.result.get(name)
        self.assertIsNotNone(r, f"no result for {name}")
        self.assertNotIn("unexpected_error", r, json.dumps(r, indent=1))
        return r

    def test_client_ran_everything(self):
        self.assertEqual(self.result["_exit"], 0,
                         json.dumps(self.result, indent=1) + self.result["_stderr"])
        with open(os.path.join(node_dir(), "package.json")) as f:
            pinned = json.load(f)["dependencies"]["@anthropic-ai/sdk"]
        self.assertRegex(pinned, r"^\d+\.\d+\.\d+$", "the SDK must be pinned to an exact version")
        self.assertEqual(self.result["sdk_version"], pinned)

    def test_plain(self):
        for m, wire in MODELS.items():
            r = self.case(f"plain_{m}")
            self.assertEqual((r["http_status"], r["type"], r["role"], r["stop_reason"]),
                             (200, "message", "assistant", "end_turn"), m)
            self.assertTrue(r["id"].startswith("msg_"), m)
            self.assertEqual(r["content"][0]["type"], "text")
            self.assertTrue(r["content"][0]["text"])
            self.assertEqual(r["headers"]["x-route-model"], m)
            row = self.row(r["headers"]["x-request-id"])
            self.assertEqual((row["status"], row["served_model"], row["provider"], row["stream"]),
                             ("200", m, wire, "f"))
            u = r["usage"]
            self.assertEqual(int(row["tokens_in"]), u["input_tokens"] +
                             (u.get("cache_read_input_tokens") or 0) +
                             (u.get("cache_creation_input_tokens") or 0))
            self.assertEqual(int(row["tokens_out"]), u["output_tokens"])

    def test_stream(self):
        for m in MODELS:
            r = self.case(f"stream_{m}")
            self.assertEqual(r["http_status"], 200, m)
            self.assertGreater(r["deltas"], 0, m)
            self.assertEqual(r["text"], r["final_text"], m)
            self.assertEqual(r["events"][0], "message_start", m)
            self.assertEqual(r["events"][-1], "message_stop", m)
            self.assertEqual(r["stop_reason"], "end_turn", m)
            row = self.row(r["headers"]["x-request-id"])
            self.assertEqual((row["status"], row["stream"]), ("200", "t"), m)
            self.assertEqual(int(row["tokens_out"]), r["usage"]["output_tokens"], m)

    def test_tool_use(self):
        for m in MODELS:
            r = self.case(f"tools_{m}")
            for part in ("plain", "stream"):
                p = r[part]
                self.assertEqual(p["stop_reason"], "tool_use", (m, part))
                self.assertEqual(p["tool_use"]["name"], "get_weather", (m, part))
                self.assertTrue(p["tool_use"]["id"], (m, part))
                self.assertEqual(sorted(p["tool_use"]["input"]), ["city", "unit"], (m, part))
                self.assertEqual(p["tool_use"]["input"]["unit"], "c", (m, part))
            self.assertEqual(r["plain"]["tool_use"]["input"], r["stream"]["tool_use"]["input"])
            self.assertEqual(r["answer"]["stop_reason"], "end_turn", m)
            self.assertTrue(r["answer"]["text"], m)

    def test_errors(self):
        e = self.case("errors")
        w = e["wrong_key"]
        self.assertTrue(w["threw"], w)
        self.assertEqual((w["class"], w["status"]), ("AuthenticationError", 401))
        self.assertEqual(w["error"], {"type": "error", "error": {
            "type": "authentication_error", "message": "invalid API key"}})
        b = e["empty_messages"]
        self.assertEqual((b["class"], b["status"]), ("BadRequestError", 400))
        self.assertEqual(b["error"]["error"]["type"], "invalid_request_error")
        f = e["failing_provider"]
        self.assertEqual((f["class"], f["status"]), ("InternalServerError", 502))
        self.assertEqual(f["error"], {"type": "error", "error": {
            "type": "api_error",
            "message": f"provider broken answered HTTP 500 for model {FAILING_MODEL} "
                       "(after 3 attempts)"}})
        row = self.row(f["request_id"])
        self.assertEqual((row["status"], row["attempts"]), ("502", "3"))


if __name__ == "__main__":
    unittest.main()
