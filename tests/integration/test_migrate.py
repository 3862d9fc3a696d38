"""switchyard migrate against a throwaway PostgreSQL."""

import datetime
import os
import re
import shutil
import subprocess
import tempfile
import threading
import unittest

from harness import Services, source_dir, switchyard_bin


def migrations_dir():
    """The migrations under test: $SWITCHYARD_MIGRATIONS_DIR, else the source tree's."""
    return os.environ.get("SWITCHYARD_MIGRATIONS_DIR") or os.path.join(source_dir(),
                                                                       "migrations")


def migrate(svc, *args, env=None):
    e = svc.env() if svc else dict(os.environ)
    e["SWITCHYARD_MIGRATIONS_DIR"] = migrations_dir()
    e.update(env or {})
    return subprocess.run([switchyard_bin(), "migrate", *args], capture_output=True, text=True,
                          env=e, timeout=120)


class MigrateTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.svc = Services().start()

    @classmethod
    def tearDownClass(cls):
        cls.svc.stop()

    def setUp(self):
        # a fresh database per test
        self.db = f"m_{self._testMethodName}"[:60]
        self.svc.psql(f"DROP DATABASE IF EXISTS {self.db}")
        self.svc.psql(f"CREATE DATABASE {self.db}")
        self.url = self.svc.database_url.rsplit("/", 1)[0] + "/" + self.db
        self.tmp = tempfile.mkdtemp(prefix="sy-mig-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _q(self, sql):
        return self.svc.psql(sql, url=self.url)

    def test_fresh_then_rerun(self):
        utc_today = lambda: datetime.datetime.now(datetime.timezone.utc).date()
        before = utc_today()
        r = migrate(self.svc, "--database-url", self.url,
                    "--dir", migrations_dir())
        self.assertEqual(r.returncode, 0, r.stderr)
        files = sorted(f for f in os.listdir(migrations_dir())
                       if f.endswith(".sql"))
        applied = [l for l in r.stdout.splitlines() if l.startswith("applied ")]
        self.assertEqual([l.split()[1] for l in applied], files)
        rows = self._q("SELECT version, name, length(checksum) FROM schema_migrations "
                       "ORDER BY version")
        self.assertEqual(len(rows), len(files))
        self.assertEqual(rows[0], ["1", "init", "64"])
        for t in ("experiments", "experiment_phases", "decisions", "requests", "feedback",
                  "labels", "requests_default"):
            self.assertEqual(self._q(f"SELECT to_regclass('{t}') IS NOT NULL"), [["t"]], t)

        # partitions today .. today+7 (UTC); "today" of the migration, which ran between
        # `before` and now (a run across midnight may have either date)
        parts = {r[0] for r in self._q(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'requests'::regclass")}
        week = lambda day: {"requests_" + (day + datetime.timedelta(days=d)).strftime("%Y%m%d")
                            for d in range(8)}
        self.assertTrue(any(week(day) <= parts for day in {before, utc_today()}),
                        (before, sorted(parts)))
        self.assertIn("requests_default", parts)

        # the checksum is SHA-256 of the file bytes
        import hashlib
        with open(os.path.join(migrations_dir(), files[0]), "rb") as f:
            want = hashlib.sha256(f.read()).hexdigest()
        self.assertEqual(self._q("SELECT checksum FROM schema_migrations WHERE version = 1"),
                         [[want]])

        # without --dir: $SWITCHYARD_MIGRATIONS_DIR
        r = migrate(self.svc, "--database-url", self.url,
                    env={"SWITCHYARD_MIGRATIONS_DIR": migrations_dir()})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("applied ", r.stdout)
        self.assertIn("0 applied", r.stdout)

    def test_requests_columns_match_the_event_fields(self):
        """The migrations create exactly wire/event.h's fields as `requests` columns, with
        the types the list declares: a field added on one side only fails here."""
        r = migrate(self.svc, "--database-url", self.url, "--dir", migrations_dir())
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(source_dir(), "wire", "event.h")) as f:
            text = f.read()
        body = text[text.index("#define WIRE_EVENT_FIELDS(X)"):]
        body = body[:body.index("\n\n")]
        fields = re.findall(r'X\((\w+), "(\w+)", (WIRE_F_\w+), ([01])\)', body)
        self.assertEqual(len(fields), body.count("X("), "an X(...) line the test cannot read")
        sql_type = {"WIRE_F_TEXT": "text", "WIRE_F_INT4": "integer", "WIRE_F_INT8": "bigint",
                    "WIRE_F_REAL4": "real", "WIRE_F_REAL8": "double precision",
                    "WIRE_F_BOOL": "boolean", "WIRE_F_TS_US": "timestamp with time zone"}
        want = sorted((col, sql_type[t]) for _, col, t, _ in fields)
        got = sorted(tuple(row) for row in self._q(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = 'requests'"))
        self.assertEqual(got, want)

    def test_dry_run_changes_nothing(self):
        r = migrate(self.svc, "--database-url", self.url, "--dry-run",
                    "--dir", migrations_dir())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("would apply 0001_init.sql", r.stdout)
        self.assertEqual(self._q("SELECT to_regclass('schema_migrations') IS NULL"), [["t"]])

    def copy_migrations(self):
        """A private copy of the migrations; returns (dir, N = the highest version)."""
        d = os.path.join(self.tmp, "migrations")
        shutil.copytree(migrations_dir(), d)
        n = len([f for f in os.listdir(d) if not f.startswith(".")])
        return d, n

    def write(self, d, name, sql):
        with open(os.path.join(d, name), "w") as f:
            f.write(sql)

    def test_changed_checksum_refused(self):
        d, n = self.copy_migrations()
        r = migrate(self.svc, "--database-url", self.url, "--dir", d)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(d, "0001_init.sql"), "a") as f:
            f.write("\n-- edited\n")
        self.write(d, f"{n + 1:04d}_more.sql", "CREATE TABLE more_stuff (x int);\n")
        r = migrate(self.svc, "--database-url", self.url, "--dir", d)
        self.assertEqual(r.returncode, 1)
        self.assertIn("0001_init.sql: checksum changed", r.stderr)
        # nothing after it was applied either
        self.assertEqual(self._q("SELECT to_regclass('more_stuff') IS NULL"), [["t"]])

    def test_new_migration_applies_and_failure_rolls_back(self):
        d, n = self.copy_migrations()
        self.assertEqual(migrate(self.svc, "--database-url", self.url, "--dir", d).returncode, 0)
        self.write(d, f"{n + 1:04d}_add_t.sql",
                   "CREATE TABLE t2 (x int);\nINSERT INTO t2 VALUES (1);\n")
        self.write(d, f"{n + 2:04d}_broken.sql",
                   "CREATE TABLE t3 (x int);\n\nSELECT no_such_column FROM t3;\n")
        r = migrate(self.svc, "--database-url", self.url, "--dir", d)
        self.assertEqual(r.returncode, 1)
        applied = [l.split()[1] for l in r.stdout.splitlines() if l.startswith("applied ")]
        self.assertEqual(applied, [f"{n + 1:04d}_add_t.sql"])
        self.assertIn(f"{n + 2:04d}_broken.sql:3: column \"no_such_column\" does not exist",
                      r.stderr)
        self.assertEqual(self._q("SELECT max(version) FROM schema_migrations"), [[str(n + 1)]])
        self.assertEqual(self._q("SELECT to_regclass('t3') IS NULL"), [["t"]])

    def test_gap_and_bad_name(self):
        d, n = self.copy_migrations()
        self.write(d, f"{n + 2:04d}_skip.sql", "SELECT 1;\n")
        r = migrate(self.svc, "--database-url", self.url, "--dir", d)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"{n + 2:04d}_skip.sql: gap in migration versions "
                      f"(expected {n + 1:04d} next)", r.stderr)
        os.remove(os.path.join(d, f"{n + 2:04d}_skip.sql"))
        self.write(d, "0002-bad name.sql", "SELECT 1;\n")
        r = migrate(self.svc, "--database-url", self.url, "--dir", d)
        self.assertEqual(r.returncode, 1)
        self.assertIn("0002-bad name.sql: not a migration file name", r.stderr)
        os.remove(os.path.join(d, "0002-bad name.sql"))
        self.write(d, "0001_again.sql", "SELECT 1;\n")
        r = migrate(self.svc, "--database-url", self.url, "--dir", d)
        self.assertEqual(r.returncode, 1)
        self.assertIn("version 0001 is also used by", r.stderr)
        self.assertEqual(self._q("SELECT to_regclass('schema_migrations') IS NULL"), [["t"]])

    def test_concurrent_runs_apply_once(self):
        d, n = self.copy_migrations()
        self.write(d, f"{n + 1:04d}_slow.sql", "SELECT pg_sleep(1);\nCREATE TABLE slow (x int);\n")
        results = []

        def run():
            results.append(migrate(self.svc, "--database-url", self.url, "--dir", d))

        threads = [threading.Thread(target=run) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for r in results:
            self.assertEqual(r.returncode, 0, r.stderr)
        applied = sorted(l.split()[1] for r in results for l in r.stdout.splitlines()
                         if l.startswith("applied "))
        self.assertEqual(applied, sorted(os.listdir(d)))  # each file exactly once
        self.assertEqual(self._q("SELECT count(*) FROM schema_migrations"), [[str(n + 1)]])

    def test_partition_function_moves_nothing(self):
        self.assertEqual(migrate(self.svc, "--database-url", self.url, "--dir",
                                 migrations_dir()).returncode, 0)
        # a row far in the future lands in the default partition ...
        self._q("INSERT INTO requests (request_id, ts) VALUES ('x', '2100-01-02 12:00+00')")
        self.assertEqual(self._q("SELECT count(*) FROM requests_default"), [["1"]])
        # ... and its day is then skipped, the next one created
        self.assertEqual(self._q("SELECT sy_create_request_partitions(1, '2100-01-02')"),
                         [["1"]])
        self.assertEqual(self._q("SELECT to_regclass('requests_21000102') IS NULL, "
                                 "to_regclass('requests_21000103') IS NOT NULL"), [["t", "t"]])
        self.assertEqual(self._q("SELECT count(*) FROM requests_default"), [["1"]])

    def test_dashboards_recreated(self):
        # dashboards/ beside the migrations directory: every view, on every run
        for _ in range(2):
            r = migrate(self.svc, "--database-url", self.url, "--dir", migrations_dir())
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("dashboards re-created from ", r.stdout)
            self.assertEqual(self._q("SELECT to_regclass('dash_savings') IS NOT NULL"), [["t"]])
        # a broken file rolls every dashboard file back and names file:line
        d = os.path.join(self.tmp, "dash")
        os.mkdir(d)
        self.write(d, "a_ok.sql", "CREATE OR REPLACE VIEW dash_zz AS SELECT 1 AS x;\n")
        self.write(d, "b_bad.sql", "\nSELECT nope FROM dash_zz;\n")
        self.write(d, "README.md", "not SQL\n")
        r = migrate(self.svc, "--database-url", self.url, "--dir", migrations_dir(),
                    "--dashboards-dir", d)
        self.assertEqual(r.returncode, 1)
        self.assertIn("b_bad.sql:2: column \"nope\" does not exist", r.stderr)
        self.assertEqual(self._q("SELECT to_regclass('dash_zz') IS NULL"), [["t"]])
        # an explicit directory must exist
        r = migrate(self.svc, "--database-url", self.url, "--dir", migrations_dir(),
                    env={"SWITCHYARD_DASHBOARDS_DIR": os.path.join(self.tmp, "none")})
        self.assertEqual(r.returncode, 1)
        self.assertIn("dashboards directory", r.stderr)

    def test_help_and_usage_errors(self):
        r = migrate(None, "--help")
        self.assertEqual(r.returncode, 0)
        for flag in ("--database-url", "--dir", "--dry-run", "--help"):
            self.assertIn(flag, r.stdout)
        r = migrate(None, "--frobnicate")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr.strip(),
                         "migrate: unknown option '--frobnicate' (see 'switchyard migrate --help')")
        r = migrate(None, "--dir")
        self.assertEqual(r.returncode, 2)
        self.assertIn("option '--dir' needs a value", r.stderr)
        env = dict(os.environ)
        env.pop("SWITCHYARD_DATABASE_URL", None)
        r = subprocess.run([switchyard_bin(), "migrate"], capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 2)
        self.assertIn("SWITCHYARD_DATABASE_URL", r.stderr)

    def test_bad_url_messages(self):
        r = migrate(None, "--database-url", "notaurl")
        self.assertEqual(r.returncode, 2)
        self.assertIn('migrate: --database-url: not a postgresql:// URL: "notaurl"', r.stderr)
        r = migrate(None, "--database-url", "postgresql://sy:hunter2@127.0.0.1:1/db")
        self.assertEqual(r.returncode, 1)
        self.assertIn("migrate: cannot connect to PostgreSQL at postgresql://sy:***@127.0.0.1:1/db",
                      r.stderr)
        self.assertIn("Connection refused", r.stderr)
        self.assertNotIn("hunter2", r.stderr)
        r = migrate(None, "--database-url", self.url.rsplit("/", 1)[0] + "/no_such_db")
        self.assertEqual(r.returncode, 1)
        self.assertIn('database "no_such_db" does not exist', r.stderr)


if __name__ == "__main__":
    unittest.main()
