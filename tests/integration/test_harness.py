"""The throwaway-services harness itself: start, reach, restart, stop."""

import os
import unittest

from harness import Services, free_port, http, source_dir


class HarnessTest(unittest.TestCase):
    def test_lifecycle(self):
        svc = Services().start()
        try:
            d = svc.dir
            self.assertTrue(os.path.isfile(os.path.join(d, "env")))
            with open(os.path.join(d, "env")) as f:
                env = f.read()
            for key in ("SWITCHYARD_REDIS_URL", "SWITCHYARD_DATABASE_URL", "SY_REDIS_PORT",
                        "SY_PG_PORT", "SY_PG_BIN", "SY_SERVICES_DIR"):
                self.assertIn(f"export {key}=", env)
            self.assertTrue(svc.database_url.endswith(f":{svc.pg_port}/switchyard"))
            self.assertEqual(svc.redis_url, f"redis://127.0.0.1:{svc.redis_port}/0")

            self.assertEqual(svc.psql("SELECT 1, 'a'"), [["1", "a"]])
            self.assertEqual(svc.psql("SELECT current_database()"), [["switchyard"]])
            self.assertEqual(svc.redis("PING"), "PONG")

            svc.psql("CREATE TABLE t (x int); INSERT INTO t VALUES (42)")
            svc.restart_pg()
            self.assertEqual(svc.psql("SELECT x FROM t"), [["42"]])

            svc.stop_pg()
            self.assertEqual(svc.psql("SELECT 1", check=False), [])
            svc.start_pg()
            self.assertEqual(svc.psql("SELECT x FROM t"), [["42"]])

            svc.redis("SET", "k", "v")
            svc.restart_redis()  # no persistence by default: a restart empties Redis
            self.assertEqual(svc.redis("PING"), "PONG")
            self.assertEqual(svc.redis("EXISTS", "k"), "0")
        finally:
            svc.stop()
        self.assertFalse(os.path.exists(d))

    def test_redis_aof_keeps_data(self):
        with Services(redis_aof=True) as svc:
            svc.redis("SET", "k", "v")
            svc.restart_redis()
            self.assertEqual(svc.redis("GET", "k"), "v")

    def test_helpers(self):
        p = free_port()
        self.assertTrue(1024 <= p <= 65535)
        self.assertTrue(os.path.isfile(os.path.join(source_dir(), "scripts", "services")))
        with self.assertRaises(OSError):
            http("GET", f"http://127.0.0.1:{p}/", timeout=1)


if __name__ == "__main__":
    unittest.main()
