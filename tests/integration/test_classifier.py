"""switchyard classifier: accuracy targets on the shipped model, bit-for-bit
retraining, and CLI errors.

Env: SWITCHYARD_BIN (the binary), SY_SOURCE_DIR (the repository)."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import Services

BIN = os.environ.get("SWITCHYARD_BIN", "build/switchyard")
SRC = os.environ.get("SY_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = os.path.join(SRC, "classifier", "data")
MODEL = os.path.join(SRC, "classifier", "model", "switchyard-task.model")


def run(*args, stdin=None, env=None):
    e = dict(os.environ)
    e.pop("SWITCHYARD_CLASSIFIER_MODEL", None)
    if env:
        e.update(env)
    return subprocess.run([BIN, "classifier", *args], input=stdin, capture_output=True,
                          text=True, env=e, timeout=600)


def eval_json(data, *extra):
    p = run("eval", "--data", data, "--json", *extra)
    if p.returncode != 0:
        raise AssertionError(p.stderr)
    return json.loads(p.stdout)


class Accuracy(unittest.TestCase):
    def test_dev_rows(self):
        r = eval_json(os.path.join(DATA, "dev.jsonl"), "--model", MODEL)
        self.assertEqual(r["rows"], 715)
        self.assertGreaterEqual(r["accuracy"], 0.97, r)

    def test_realistic_set(self):
        r = eval_json(os.path.join(DATA, "realistic-eval.jsonl"), "--model", MODEL)
        self.assertGreaterEqual(r["rows"], 190)
        self.assertGreaterEqual(r["accuracy"], 0.90, r)
        for cls in ("simple", "code", "reasoning", "complex"):
            self.assertIn(cls, r["per_class"])
        self.assertEqual(len(r["confusion"]["rows_true_columns_predicted"]), 4)

    def test_default_model_is_the_shipped_one(self):
        a = eval_json(os.path.join(DATA, "realistic-eval.jsonl"))
        self.assertEqual(os.path.realpath(a["model"]), os.path.realpath(MODEL))
        p = run("eval", "--data", os.path.join(DATA, "realistic-eval.jsonl"), "--json",
                env={"SWITCHYARD_CLASSIFIER_MODEL": "/nonexistent/m.model"})
        self.assertEqual(p.returncode, 1)
        self.assertIn("/nonexistent/m.model: cannot open", p.stderr)

    def test_model_size(self):
        self.assertLess(os.path.getsize(MODEL), 2 * 1024 * 1024)


class Reproducible(unittest.TestCase):
    def test_train_reproduces_shipped_model(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "m.model")
            p = run("train", "--data", os.path.join(DATA, "train.jsonl"), "--dev",
                    os.path.join(DATA, "dev.jsonl"), "--out", out)
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(out, "rb") as a, open(MODEL, "rb") as b:
                self.assertTrue(a.read() == b.read(), "retrained model differs from the shipped one")


class Cli(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.dir)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_missing_data_file(self):
        p = run("eval", "--data", os.path.join(self.dir, "nope.jsonl"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("nope.jsonl: cannot open: No such file or directory", p.stderr)
        p = run("train", "--data", os.path.join(self.dir, "nope.jsonl"), "--out",
                os.path.join(self.dir, "m"))
        self.assertEqual(p.returncode, 1)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "m")))

    def test_bad_json_line_names_its_line(self):
        bad = self.write("bad.jsonl", '{"text": "a", "label": "simple"}\n\n{"text": "b", "label"\n')
        for cmd in (["eval", "--data", bad], ["train", "--data", bad, "--out", bad + ".m"]):
            p = run(*cmd)
            self.assertEqual(p.returncode, 1)
            self.assertIn("bad.jsonl:3: invalid JSON", p.stderr)

    def test_bad_label(self):
        bad = self.write("label.jsonl", '{"text": "a", "label": "poetry"}\n')
        p = run("eval", "--data", bad)
        self.assertEqual(p.returncode, 1)
        self.assertIn("label.jsonl:1: \"label\" must be one of simple, code, reasoning, complex",
                      p.stderr)

    def test_usage(self):
        self.assertEqual(run("eval").returncode, 2)
        self.assertEqual(run("train", "--data", "x").returncode, 2)
        self.assertEqual(run("frobnicate").returncode, 2)
        self.assertEqual(run("--help").returncode, 0)

    def test_corrupt_model_is_refused(self):
        with open(MODEL, "rb") as f:
            data = bytearray(f.read())
        data[len(data) // 2] ^= 0x40
        bad = os.path.join(self.dir, "corrupt.model")
        with open(bad, "wb") as f:
            f.write(data)
        p = run("eval", "--model", bad, "--data", os.path.join(DATA, "realistic-eval.jsonl"))
        self.assertEqual(p.returncode, 1)
        self.assertIn(bad + ": checksum mismatch (file is corrupt or truncated)", p.stderr)

    def test_predict_from_stdin(self):
        p = run("predict", stdin="how do i undo my last git commit")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(p.stdout.startswith("code "), p.stdout)
        rules = self.write("rules.json", '{"patterns": [{"regex": "git", "task": "simple"}]}')
        p = run("predict", "--rules", rules, stdin="how do i undo my last git commit")
        self.assertTrue(p.stdout.startswith("simple 1.0000 (pattern 0)"), p.stdout)

    def test_train_small_and_eval(self):
        rows = [("what is the capital of peru", "simple"), ("translate cat to french", "simple"),
                ("fix my python KeyError", "code"), ("git revert a commit", "code"),
                ("solve 2x + 1 = 9", "reasoning"), ("how many ways to seat 5 people", "reasoning"),
                ("compare these three reports", "complex"), ("synthesise several sources", "complex")]
        data = self.write("small.jsonl", "".join(
            json.dumps({"text": t, "label": l}) + "\n" for t, l in rows))
        out = os.path.join(self.dir, "small.model")
        p = run("train", "--data", data, "--out", out, "--set", "char_bits=10")
        self.assertEqual(p.returncode, 0, p.stderr)
        r = eval_json(data, "--model", out)
        self.assertEqual(r["rows"], 8)
        self.assertGreaterEqual(r["accuracy"], 0.75)


class FromDb(unittest.TestCase):
    """train --from-db reads the majority human label of each request with a stored prompt."""

    def test_train_from_db(self):
        with Services() as svc:
            m = subprocess.run([BIN, "migrate", "--database-url", svc.database_url],
                               capture_output=True, text=True, timeout=120,
                               env=svc.env(SWITCHYARD_MIGRATIONS_DIR=os.path.join(SRC, "migrations")))
            self.assertEqual(m.returncode, 0, m.stderr)
            svc.psql(
                "INSERT INTO labels (request_id, labeller, task_type, prompt) VALUES "
                "('r1', 'ann', 'code', 'how do i rebase onto main'),"
                "('r1', 'bob', 'code', 'how do i rebase onto main'),"
                "('r1', 'cat', 'simple', 'how do i rebase onto main'),"
                "('r2', 'ann', 'reasoning', 'how many ways to pick 2 of 5'),"
                "('r3', 'ann', 'complex', NULL)")
            with tempfile.TemporaryDirectory() as d:
                data = os.path.join(d, "seed.jsonl")
                with open(data, "w") as f:
                    for t, l in (("capital of chile", "simple"), ("fix this segfault", "code"),
                                 ("solve x + 2 = 5", "reasoning"),
                                 ("compare these two reports", "complex")):
                        f.write(json.dumps({"text": t, "label": l}) + "\n")
                out = os.path.join(d, "m.model")
                p = run("train", "--data", data, "--from-db", "--out", out, "--set", "char_bits=10",
                        env={"SWITCHYARD_DATABASE_URL": svc.database_url})
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertIn("from-db: 2 labelled prompts", p.stdout)
                self.assertIn("trained on 6 rows", p.stdout)
                self.assertIn("code 2", p.stdout)
                p = run("train", "--from-db", "--out", out, env={"SWITCHYARD_DATABASE_URL": ""})
                self.assertEqual(p.returncode, 2)
                self.assertIn("--from-db needs --db-url or SWITCHYARD_DATABASE_URL", p.stderr)


if __name__ == "__main__":
    unittest.main()
