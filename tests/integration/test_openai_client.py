"""The official `openai` npm client (a client nobody here wrote) against the router.

Starts Redis + PostgreSQL, migrate, the simulator, ingest and the router like
test_router.py, then runs `node tests/node/openai_client.mjs` (openai pinned in
tests/node/package.json) and checks what the SDK saw: plain and streaming completions,
the usage it reports against the row the router stored in PostgreSQL for the same
X-Request-Id, and the SDK's error classes for 401, 400 and 502.

node and npm are required: when they are missing the test fails (run scripts/install-deps).
When tests/node/node_modules is missing, the test runs `npm ci --prefix tests/node` first
(needs the npm registry).
"""

import json
import os
import shutil
import subprocess
import unittest

from harness import source_dir, wait_for
from stack import Stack

KEY = "sk-test-openai-node"
USER = "node-sdk-user@example.com"
FAILING_MODEL = "always-500"
TOOL_MODELS = ("big", "claude")  # an OpenAI-wire and an Anthropic-wire provider


def router_config(sim_port):
    sim = f"http://127.0.0.1:{sim_port}/v1"
    return {
        "default_model": "big",
        "experiment": {"name": "exp-node", "salt": "salt-node", "holdout_pct": 5},
        "providers": {
            "sim": {"base_url": sim, "connect_timeout_ms": 1000, "timeout_ms": 5000},
            # the simulator on Anthropic's wire: tool calls translated both ways
            "anthropic": {"type": "anthropic", "base_url": sim, "timeout_ms": 5000},
            # a provider whose only model always answers 500: no failover candidate
            # (other tier, other provider), so the client must see the router's 502
            "broken": {"base_url": sim, "connect_timeout_ms": 1000, "timeout_ms": 5000},
        },
        "models": {
            "big": {"provider": "sim", "upstream": "sim-instant", "tier": "premium",
                    "input_usd_per_mtok": 2.5, "output_usd_per_mtok": 10.0},
            FAILING_MODEL: {"provider": "broken", "upstream": "fault-500", "tier": "broken",
                            "input_usd_per_mtok": 1.0, "output_usd_per_mtok": 1.0},
            "claude": {"provider": "anthropic", "upstream": "sim-claude-instant",
                       "tier": "anthropic", "input_usd_per_mtok": 3.0,
                       "output_usd_per_mtok": 15.0},
        },
        "api_keys": [{"key": KEY, "project": "proj-node", "allow_model_prefer": True}],
    }


def node_dir():
    return os.path.join(source_dir(), "tests", "node")


def require_node():
    """Paths of node and npm; fails (never skips) when either is missing."""
    node, npm = shutil.which("node"), shutil.which("npm")
    missing = [n for n, p in (("node", node), ("npm", npm)) if not p]
    if missing:
        raise AssertionError(
            f"{' and '.join(missing)} not found on PATH: test_openai_client needs Node.js and "
            "npm to run the openai npm client; run scripts/install-deps")
    return node, npm


def ensure_node_modules(npm, package="openai"):
    """npm ci in tests/node unless node_modules already holds package."""
    d = node_dir()
    if os.path.isfile(os.path.join(d, "node_modules", package, "package.json")):
        return
    r = subprocess.run([npm, "ci", "--prefix", d, "--no-audit", "--no-fund"],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise AssertionError(f"npm ci --prefix tests/node failed ({r.returncode}):\n"
                             f"{r.stdout}\n{r.stderr}")


class OpenAIClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # node first: a missing toolchain is a failure with instructions, not a skip
        cls.node, npm = require_node()
        ensure_node_modules(npm)
        cls.st = Stack().start()  # Redis, PostgreSQL (migrated), simulator, ingest
        try:
            cls.router = cls.st.router(router_config(cls.st.sim.port))
            cls.result = cls.run_client()
        except Exception:
            cls.st.stop()
            raise

    @classmethod
    def run_client(cls):
        script = os.path.join(node_dir(), "openai_client.mjs")
        argv = [cls.node, script, "--base-url", f"http://127.0.0.1:{cls.router.port}/v1",
                "--api-key", KEY, "--user", USER, "--failing-model", FAILING_MODEL,
                "--tool-models", ",".join(TOOL_MODELS)]
        env = dict(os.environ)
        for k in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):
            env.pop(k, None)
        r = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
        if not r.stdout.strip():
            raise AssertionError(f"openai_client.mjs printed nothing (exit {r.returncode}):\n"
                                 f"{r.stderr}")
        try:
            res = json.loads(r.stdout.strip().splitlines()[-1])
        except ValueError as e:
            raise AssertionError(f"openai_client.mjs output is not JSON ({e}):\n{r.stdout}\n"
                                 f"{r.stderr}")
        res["_exit"] = r.returncode
        res["_stderr"] = r.stderr
        return res

    @classmethod
    def tearDownClass(cls):
        cls.st.stop()

    def row(self, request_id, timeout=15):
        cols = ("request_id,project,stream,status,error,served_model,provider,tokens_in,"
                "tokens_out,attempts")
        rows = wait_for(lambda: self.st.svc.psql(
            f"SELECT {cols} FROM requests WHERE request_id = '{request_id}'"),
            timeout, what=f"row {request_id}")
        self.assertEqual(len(rows), 1)
        return dict(zip(cols.split(","), rows[0]))

    def case(self, name):
        r = self.result.get(name)
        self.assertIsNotNone(r, f"no result for {name}: {self.result}")
        self.assertNotIn("unexpected_error", r, json.dumps(r, indent=1))
        return r

    def assert_usage_matches_row(self, usage, row):
        self.assertEqual(int(row["tokens_in"]), usage["prompt_tokens"])
        self.assertEqual(int(row["tokens_out"]), usage["completion_tokens"])
        self.assertEqual(usage["total_tokens"], usage["prompt_tokens"] + usage["completion_tokens"])

    # ---- the client ran ----

    def test_client_ran_everything(self):
        self.assertEqual(self.result["_exit"], 0,
                         json.dumps(self.result, indent=1) + self.result["_stderr"])
        self.assertRegex(self.result["openai_version"], r"^\d+\.\d+\.\d+$")
        with open(os.path.join(node_dir(), "package.json")) as f:
            pinned = json.load(f)["dependencies"]["openai"]
        self.assertRegex(pinned, r"^\d+\.\d+\.\d+$", "openai must be pinned to an exact version")
        self.assertEqual(self.result["openai_version"], pinned)

    # ---- plain ----

    def test_plain_completion(self):
        r = self.case("plain")
        self.assertEqual(r["http_status"], 200)
        self.assertEqual(r["object"], "chat.completion")
        self.assertEqual(r["role"], "assistant")
        self.assertIsInstance(r["content"], str)
        self.assertGreater(len(r["content"]), 0)
        self.assertTrue(r["id"])
        rid = r["headers"]["x-request-id"]
        self.assertRegex(rid, r"^req_[0-9a-f]{28}$")
        self.assertEqual(r["request_id"], rid)  # the SDK's own reading of the header
        self.assertIn(r["headers"]["x-route-cohort"], ("holdout", "control"))
        self.assertEqual(r["headers"]["x-route-model"], "big")
        self.assertEqual(r["headers"]["x-route-phase"], "off")
        usage = r["usage"]
        self.assertGreater(usage["prompt_tokens"], 0)
        self.assertGreater(usage["completion_tokens"], 0)
        row = self.row(rid)
        self.assertEqual((row["project"], row["stream"], row["status"], row["served_model"],
                          row["provider"]), ("proj-node", "f", "200", "big", "sim"))
        self.assert_usage_matches_row(usage, row)

    # ---- streaming ----

    def test_stream_with_include_usage(self):
        r = self.case("stream_usage")
        self.assertEqual(r["http_status"], 200)
        self.assertEqual(r["content_type"], "text/event-stream")
        self.assertGreater(r["deltas"], 0)
        self.assertGreater(len(r["content"]), 0)
        self.assertEqual(r["finish_reason"], "stop")
        self.assertEqual(r["usage_chunks"], 1)
        self.assertEqual(r["empty_choice_chunks"], 1)  # the usage chunk has choices: []
        row = self.row(r["headers"]["x-request-id"])
        self.assertEqual((row["stream"], row["status"]), ("t", "200"))
        self.assert_usage_matches_row(r["usage"], row)

    def test_stream_without_include_usage(self):
        r = self.case("stream_no_usage")
        self.assertEqual(r["http_status"], 200)
        self.assertGreater(r["deltas"], 0)
        self.assertGreater(len(r["content"]), 0)
        self.assertEqual(r["finish_reason"], "stop")
        self.assertEqual(r["usage_chunks"], 0)
        self.assertIsNone(r["usage"])
        self.assertTrue(r["no_usage_chunk"])
        self.assertEqual(r["empty_choice_chunks"], 0)
        # the router still asked the provider for usage and recorded it
        row = self.row(r["headers"]["x-request-id"])
        self.assertEqual((row["stream"], row["status"]), ("t", "200"))
        self.assertGreater(int(row["tokens_in"]), 0)
        self.assertGreater(int(row["tokens_out"]), 0)

    # ---- errors, as the SDK classifies them ----

    def test_wrong_key_is_authentication_error(self):
        e = self.case("errors")["wrong_key"]
        self.assertTrue(e["threw"], e)
        self.assertEqual(e["class"], "AuthenticationError")
        self.assertTrue(e["is_authentication_error"])
        self.assertTrue(e["is_api_error"])
        self.assertEqual(e["status"], 401)
        self.assertEqual(e["type"], "authentication_error")
        self.assertEqual(e["code"], "invalid_api_key")
        self.assertEqual(e["error"]["message"], "invalid API key")

    def test_malformed_messages_is_bad_request(self):
        e = self.case("errors")["malformed_messages"]
        self.assertTrue(e["threw"], e)
        self.assertEqual(e["class"], "BadRequestError")
        self.assertTrue(e["is_bad_request_error"])
        self.assertEqual(e["status"], 400)
        self.assertEqual(e["type"], "invalid_request_error")
        self.assertEqual(e["code"], "missing_required_parameter")
        self.assertEqual(e["param"], "messages")
        self.assertEqual(e["error"]["message"], "'messages[0].role' must be a string")
        row = self.row(e["request_id"])
        self.assertEqual(row["status"], "400")

    def test_failing_provider_is_502_api_error(self):
        e = self.case("errors")["failing_provider"]
        self.assertTrue(e["threw"], e)
        self.assertTrue(e["is_api_error"])
        self.assertFalse(e["is_connection_error"])
        self.assertEqual(e["status"], 502)
        self.assertEqual(e["class"], "InternalServerError")  # the SDK's class for any 5xx
        self.assertEqual(e["type"], "api_error")
        self.assertEqual(e["code"], "upstream_error")
        self.assertEqual(e["error"]["message"],
                         f"provider broken answered HTTP 500 for model {FAILING_MODEL} "
                         "(after 3 attempts)")
        # served_model/provider are what answered: nothing did (NULL, '' from psql)
        row = self.row(e["request_id"])
        self.assertEqual((row["status"], row["error"], row["served_model"], row["provider"],
                          row["attempts"]), ("502", "upstream_error", "", "", "3"))

    # ---- tools and content parts ----

    def test_tool_calls_plain_streamed_and_answered(self):
        for m in TOOL_MODELS:
            r = self.case(f"tools_{m}")
            p = r["plain"]
            self.assertEqual((p["finish_reason"], p["headers"]["x-route-model"]),
                             ("tool_calls", m), m)
            self.assertEqual(len(p["tool_calls"]), 1, m)
            call = p["tool_calls"][0]
            self.assertEqual((call["type"], call["function"]["name"]), ("function", "get_weather"))
            self.assertTrue(call["id"], m)
            # the simulator's rule: the required keys, enums take their first value
            self.assertEqual(sorted(p["arguments"]), ["city", "unit"], m)
            self.assertEqual(p["arguments"]["unit"], "c", m)
            s = r["stream"]
            self.assertEqual(s["finish_reason"], "tool_calls", m)
            self.assertGreater(s["deltas"], 2, m)  # arguments came in pieces
            self.assertEqual(len(s["calls"]), 1, m)
            self.assertEqual(s["calls"][0]["name"], "get_weather", m)
            self.assertTrue(s["calls"][0]["id"], m)
            self.assertEqual(s["calls"][0]["arguments"], p["arguments"], m)
            f = r["follow_up"]
            self.assertEqual(f["finish_reason"], "stop", m)
            self.assertTrue(f["content"], m)

    def test_content_parts_with_an_image(self):
        r = self.case("multimodal")
        self.assertEqual(r["http_status"], 200)
        self.assertTrue(r["content"])
        # the classifier read the text part (a coding request), not the image
        self.assertEqual(r["headers"]["x-route-task"], "code")
        row = self.row(r["headers"]["x-request-id"])
        self.assertEqual(int(row["tokens_in"]), r["usage"]["prompt_tokens"])


if __name__ == "__main__":
    unittest.main()
