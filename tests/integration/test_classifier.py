"""switchyard classifier: accuracy, under-routing and calibration targets on the shipped
model, honest splits (no near-duplicates), bit-for-bit retraining, the retraining loop
from human labels, and CLI errors.

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
TRAIN = [os.path.join(DATA, "train.jsonl"), os.path.join(DATA, "train-generated.jsonl")]
DEV = os.path.join(DATA, "dev.jsonl")
REALISTIC = os.path.join(DATA, "realistic-eval.jsonl")


def train_args():
    """The command that produced the shipped model (classifier/data/README.md)."""
    args = ["train"]
    for t in TRAIN:
        args += ["--data", t]
    return args + ["--dev", DEV]


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
    """The targets of docs/benchmarks.md, section Classifier."""

    def test_dev_rows(self):
        r = eval_json(DEV, "--model", MODEL)
        self.assertEqual(r["rows"], 715)
        # the target is 0.98 (docs/benchmarks.md): the shipped model is at 0.9846 (11 errors,
        # 14 allowed); top-1 0.9832
        self.assertGreaterEqual(r["accuracy"], 0.98, r)
        self.assertGreaterEqual(r["model_top1_accuracy"], 0.98, r)

    def test_realistic_set(self):
        r = eval_json(REALISTIC, "--model", MODEL)
        self.assertGreaterEqual(r["rows"], 190)
        self.assertGreaterEqual(r["accuracy"], 0.97, r)
        for cls in ("simple", "code", "reasoning", "complex"):
            self.assertIn(cls, r["per_class"])
        self.assertEqual(len(r["confusion"]["rows_true_columns_predicted"]), 4)

    def test_under_routing(self):
        for data in (DEV, REALISTIC):
            r = eval_json(data, "--model", MODEL)
            # target 2 %; the shipped model: dev 0.36 % (2 of 556), realistic 1.36 % (2 of 147)
            self.assertLessEqual(r["under_routing"]["rate"], 0.02, (data, r["under_routing"]))
            conf = r["confusion"]["rows_true_columns_predicted"]
            costly = sum(sum(row) for row in conf[1:])
            self.assertAlmostEqual(r["under_routing"]["rate"],
                                   sum(row[0] for row in conf[1:]) / costly, places=6)

    def test_calibration_reported(self):
        r = eval_json(DEV, "--model", MODEL)
        cal = r["calibration"]
        self.assertEqual(len(cal["bins"]), 10)
        self.assertEqual(sum(b["rows"] for b in cal["bins"]), cal["rows"])
        self.assertEqual(cal["rows"], r["rows"])  # no rules: the model decides every row
        ece = sum(b["rows"] * abs(b["accuracy"] - b["mean_confidence"]) for b in cal["bins"])
        self.assertAlmostEqual(cal["ece"], ece / cal["rows"], places=4)
        self.assertLess(cal["ece"], 0.02)
        p = run("eval", "--model", MODEL, "--data", DEV)
        self.assertEqual(p.returncode, 0, p.stderr)
        for line in ("confusion matrix (rows: true, columns: predicted)",
                     "under-routing (costly class sent to simple): ",
                     "calibration of the model's top probability (715 rows)",
                     "expected calibration error (ECE, 10 bins): "):
            self.assertIn(line, p.stdout)

    def test_default_model_is_the_shipped_one(self):
        a = eval_json(REALISTIC)
        self.assertEqual(os.path.realpath(a["model"]), os.path.realpath(MODEL))
        p = run("eval", "--data", REALISTIC, "--json",
                env={"SWITCHYARD_CLASSIFIER_MODEL": "/nonexistent/m.model"})
        self.assertEqual(p.returncode, 1)
        self.assertIn("/nonexistent/m.model: cannot open", p.stderr)

    def test_model_size(self):
        self.assertLess(os.path.getsize(MODEL), 2 * 1024 * 1024)


class Splits(unittest.TestCase):
    """No dev or realistic-eval prompt is a near-duplicate of a training prompt."""

    def overlap(self, train, check):
        args = ["overlap"]
        for t in train:
            args += ["--train", t]
        for c in check:
            args += ["--check", c]
        return run(*args)

    def test_no_near_duplicates_across_splits(self):
        p = self.overlap(TRAIN, [DEV, REALISTIC])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn(" 0 near-duplicates (jaccard >= 0.80)", p.stdout)
        p = self.overlap([DEV], [REALISTIC])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_overlap_catches_a_near_duplicate(self):
        with tempfile.TemporaryDirectory() as d:
            tr, ck = os.path.join(d, "tr.jsonl"), os.path.join(d, "ck.jsonl")
            with open(tr, "w") as f:
                f.write(json.dumps({"text": "How do I undo my last git commit, keeping the changes?",
                                    "label": "code"}) + "\n")
                f.write(json.dumps({"text": "capital of peru", "label": "simple"}) + "\n")
            with open(ck, "w") as f:
                f.write(json.dumps({"text": "what is 2 + 2", "label": "reasoning"}) + "\n")
                f.write(json.dumps({"text": "how do i undo my last git-commit keeping the changes",
                                    "label": "code"}) + "\n")
                f.write(json.dumps({"messages": [{"role": "user", "content": "Capital of Peru?"}],
                                    "label": "simple"}) + "\n")
            p = self.overlap([tr], [ck])
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertIn("ck.jsonl:2 near-duplicate of " + tr + ":1 (jaccard 1.000)", p.stdout)
            self.assertIn("ck.jsonl:3 near-duplicate of " + tr + ":2 (jaccard 1.000)", p.stdout)
            self.assertIn("overlap: 3 rows checked against 2, 2 near-duplicates", p.stdout)

    def test_generated_data_is_reproducible(self):
        p = subprocess.run(["python3", os.path.join(DATA, "generate.py")], capture_output=True,
                           timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(os.path.join(DATA, "train-generated.jsonl"), "rb") as f:
            self.assertTrue(p.stdout == f.read(), "generate.py does not reproduce train-generated.jsonl")


class Reproducible(unittest.TestCase):
    def test_train_reproduces_shipped_model(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "m.model")
            p = run(*train_args(), "--out", out)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("calibrated on 715 dev rows: temperature ", p.stdout)
            with open(out, "rb") as a, open(MODEL, "rb") as b:
                self.assertTrue(a.read() == b.read(), "retrained model differs from the shipped one")


class Messages(unittest.TestCase):
    """Rows may be chat requests: the text is the last user turn, as the router takes it,
    and a row offering tools gets the tools rule."""

    def test_chat_rows(self):
        with tempfile.TemporaryDirectory() as d:
            data = os.path.join(d, "chat.jsonl")
            rows = [
                {"messages": [{"role": "system", "content": "You are terse."},
                              {"role": "user", "content": "how do i rebase onto main"},
                              {"role": "assistant", "content": "git rebase main"},
                              {"role": "user", "content": [{"type": "text", "text": "what's the capital of peru"}]}],
                 "label": "simple"},
                {"messages": [{"role": "user", "content": "what's the capital of peru"}],
                 "tools": [{"type": "function", "function": {"name": "f"}}], "label": "complex"},
                {"messages": [{"role": "user", "content": "what's the capital of peru"}],
                 "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "none",
                 "label": "simple"},
            ]
            with open(data, "w") as f:
                for r in rows:
                    f.write(json.dumps(r) + "\n")
            r = eval_json(data, "--model", MODEL)
            self.assertEqual(r["rows"], 3)
            self.assertEqual(r["accuracy"], 1.0, r)

    def test_earlier_turns_weigh_in(self):
        """Follow-ups after a code answer: alone most read as simple or reasoning; with the
        earlier turns at the default weight (0.2) the model keeps them at code."""
        hist = [{"role": "user", "content": "Write a Python function that parses a CSV file of "
                 "orders and returns the total per customer, using csv.DictReader."},
                {"role": "assistant", "content": "```python\nimport csv\nfrom collections import "
                 "defaultdict\n\ndef totals(path):\n    out = defaultdict(float)\n    with "
                 "open(path) as f:\n        for row in csv.DictReader(f):\n            "
                 "out[row['customer']] += float(row['amount'])\n    return dict(out)\n```"}]
        lasts = ["now make it faster", "and what if the file is huge?",
                 "thanks! can you explain that again more simply?",
                 "ok, now do the same for the second one", "make it shorter",
                 "what about the other column?", "and now?", "perfect, do it again but sorted"]
        with tempfile.TemporaryDirectory() as d:
            data = os.path.join(d, "followups.jsonl")
            with open(data, "w") as f:
                for last in lasts:
                    f.write(json.dumps({"messages": hist + [{"role": "user", "content": last}],
                                        "label": "code"}) + "\n")
            alone = eval_json(data, "--model", MODEL, "--context-weight", "0")
            chat = eval_json(data, "--model", MODEL)
            self.assertLessEqual(alone["accuracy"], 0.5, alone)  # 3 of 8 when measured
            self.assertGreaterEqual(chat["accuracy"], 0.875, chat)  # 7 of 8
            p = run("eval", "--model", MODEL, "--data", data, "--context-weight", "11")
            self.assertEqual(p.returncode, 2)
            self.assertEqual(p.stderr, "classifier eval: --context-weight must be within 0..10\n")
            p = run("eval", "--model", MODEL, "--data", data, "--context-weight", "x")
            self.assertEqual(p.returncode, 2)


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

    def test_from_labels_replaces_only_a_model_that_is_not_better(self):
        """train --from-labels: the candidate (training data + human labels) is scored
        against the current model on dev, and replaces it only if it is not worse."""
        with Services() as svc:
            m = subprocess.run([BIN, "migrate", "--database-url", svc.database_url],
                               capture_output=True, text=True, timeout=120,
                               env=svc.env(SWITCHYARD_MIGRATIONS_DIR=os.path.join(SRC, "migrations")))
            self.assertEqual(m.returncode, 0, m.stderr)
            labels = [("l1", "code", "kubectl says ImagePullBackOff on my new deployment, why"),
                      ("l2", "reasoning", "if 4 machines make 4 parts in 4 minutes how long do 8 take for 8"),
                      ("l3", "simple", "what is the capital of ghana"),
                      ("l4", "complex", "compare the three vendor quotes below and recommend one")]
            svc.psql("INSERT INTO labels (request_id, labeller, task_type, prompt) VALUES " +
                     ",".join(f"('{r}', 'ann', '{t}', '{p}')" for r, t, p in labels))
            env = {"SWITCHYARD_DATABASE_URL": svc.database_url}
            with tempfile.TemporaryDirectory() as d:
                out = os.path.join(d, "m.model")
                # a small current model: the candidate from the full data beats it
                small = os.path.join(d, "small.jsonl")
                with open(small, "w") as f:
                    for t, l in (("capital of chile", "simple"), ("fix this segfault", "code"),
                                 ("solve x + 2 = 5", "reasoning"), ("compare these two reports", "complex")):
                        f.write(json.dumps({"text": t, "label": l}) + "\n")
                p = run("train", "--data", small, "--out", out, "--set", "char_bits=10")
                self.assertEqual(p.returncode, 0, p.stderr)
                with open(out, "rb") as f:
                    small_model = f.read()
                p = run(*train_args(), "--from-labels", "--out", out, env=env)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                self.assertIn("from-labels: 4 labelled prompts", p.stdout)
                self.assertIn("candidate " + out + ".candidate: dev accuracy ", p.stdout)
                self.assertIn("current   " + out + ": dev accuracy ", p.stdout)
                self.assertIn("accepted: " + out + " replaced", p.stdout)
                self.assertFalse(os.path.exists(out + ".candidate"))
                with open(out, "rb") as f:
                    full = f.read()
                self.assertNotEqual(full, small_model)
                # now the current model is the full one; a candidate from the tiny set loses
                p = run("train", "--data", small, "--dev", DEV, "--from-labels", "--out", out,
                        "--set", "char_bits=10", env=env)
                self.assertEqual(p.returncode, 3, p.stdout + p.stderr)
                self.assertIn("rejected: the candidate is worse (rule: accuracy >= ", p.stdout)
                self.assertIn(out + " left unchanged", p.stdout)
                self.assertFalse(os.path.exists(out + ".candidate"))
                with open(out, "rb") as f:
                    self.assertEqual(f.read(), full)
                # no usable current model (a missing file): the candidate is written
                other = os.path.join(d, "new.model")
                p = run("train", "--data", small, "--dev", DEV, "--from-labels", "--out", other,
                        "--current", os.path.join(d, "none.model"), "--set", "char_bits=10",
                        env=env)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                self.assertIn("not usable", p.stdout)
                self.assertTrue(os.path.exists(other))
                # --from-labels needs the dev rows to judge on
                p = run("train", "--data", small, "--from-labels", "--out", other, env=env)
                self.assertEqual(p.returncode, 2)
                self.assertIn("--from-labels needs --dev", p.stderr)


if __name__ == "__main__":
    unittest.main()
