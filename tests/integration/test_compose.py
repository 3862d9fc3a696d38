"""docker-compose.yml and Dockerfile: valid, and describing the stack the architecture needs.

No Docker engine is needed: `docker-compose config` only reads and validates the files.
A missing docker-compose is a failure, not a skip: scripts/install-deps installs it.
"""
import os
import re
import shutil
import subprocess
import unittest

ROOT = os.environ.get("SY_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
COMPOSE_FILE = os.path.join(ROOT, "docker-compose.yml")
DOCKERFILE = os.path.join(ROOT, "Dockerfile")

# Every part of the deployment in docs/architecture.md: stores, one-shot schema, daemons.
REQUIRED_SERVICES = {"redis", "postgres", "migrate", "sim", "ingest", "router"}
DAEMONS_WITH_HEALTHCHECK = {"redis", "postgres", "sim", "router"}


def compose(*args):
    exe = shutil.which("docker-compose")
    if exe is None:
        raise AssertionError(
            "docker-compose not found: run scripts/install-deps (it installs the Debian "
            "package docker-compose, which validates docker-compose.yml without a Docker engine)")
    env = dict(os.environ)
    env.pop("COMPOSE_FILE", None)
    env.pop("COMPOSE_PROJECT_NAME", None)
    return subprocess.run([exe, "-f", COMPOSE_FILE, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def services_of(normalized):
    """{service: text of its block} from `docker-compose config` output (normalized YAML:
    top-level keys at column 0, services at 2 spaces, their keys at 4)."""
    out, current, in_services = {}, None, False
    for line in normalized.splitlines():
        if re.match(r"^\S", line):
            in_services = line.rstrip() == "services:"
            current = None
            continue
        if not in_services:
            continue
        m = re.match(r"^  ([A-Za-z0-9_.-]+):\s*$", line)
        if m:
            current = m.group(1)
            out[current] = ""
        elif current is not None:
            out[current] += line + "\n"
    return out


def keys_of(block):
    return {m.group(1) for m in re.finditer(r"^    ([a-z_]+):", block, re.M)}


def depends_of(block):
    """{dependency: condition} from a service block's depends_on."""
    deps, inside, dep = {}, False, None
    for line in block.splitlines():
        if re.match(r"^    \S", line):
            inside = line.strip() == "depends_on:"
            continue
        if not inside:
            continue
        m = re.match(r"^      ([A-Za-z0-9_.-]+):\s*$", line)
        if m:
            dep = m.group(1)
            deps[dep] = None
        m = re.match(r"^        condition:\s*(\S+)", line)
        if m and dep:
            deps[dep] = m.group(1)
    return deps


class ComposeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        r = compose("config")
        if r.returncode != 0:
            raise AssertionError("docker-compose config failed:\n" + r.stderr)
        cls.services = services_of(r.stdout)

    def test_config_is_valid(self):
        r = compose("config", "-q")
        self.assertEqual(r.returncode, 0, "docker-compose config -q:\n" + r.stderr)

    def test_services_the_architecture_needs(self):
        r = compose("config", "--services")
        self.assertEqual(r.returncode, 0, r.stderr)
        listed = set(r.stdout.split())
        self.assertTrue(REQUIRED_SERVICES <= listed,
                        "missing services: %s" % sorted(REQUIRED_SERVICES - listed))
        self.assertEqual(set(self.services), listed)

    def test_healthchecks(self):
        for name in sorted(DAEMONS_WITH_HEALTHCHECK):
            with self.subTest(service=name):
                self.assertIn("healthcheck", keys_of(self.services[name]))

    def test_start_order(self):
        expect = {
            "migrate": {"postgres": "service_healthy"},
            "ingest": {"redis": "service_healthy",
                       "migrate": "service_completed_successfully"},
            "router": {"redis": "service_healthy", "sim": "service_healthy",
                       "migrate": "service_completed_successfully"},
        }
        for name, deps in expect.items():
            with self.subTest(service=name):
                got = depends_of(self.services[name])
                for dep, cond in deps.items():
                    self.assertEqual(got.get(dep), cond, "%s depends_on %s" % (name, dep))

    def test_store_urls_in_environment(self):
        for name in ("migrate", "ingest", "router"):
            with self.subTest(service=name):
                block = self.services[name]
                self.assertRegex(block, r"SWITCHYARD_REDIS_URL: redis://redis:")
                self.assertRegex(block, r"SWITCHYARD_DATABASE_URL: postgres(ql)?://\S+@postgres:")

    def test_switchyard_services_use_the_image(self):
        for name in ("migrate", "sim", "ingest", "router"):
            with self.subTest(service=name):
                self.assertIn("build", keys_of(self.services[name]))

    def test_observability_services_are_optional(self):
        # prometheus and grafana only with --profile observability, their files mounted
        for name, mounts in (("prometheus", ["dashboards/prometheus"]),
                             ("grafana", ["dashboards/grafana/provisioning",
                                          "dashboards/grafana/dashboards"])):
            with self.subTest(service=name):
                block = self.services[name]
                self.assertRegex(block, r"profiles:\n\s+- observability")
                for m in mounts:
                    self.assertIn(os.path.join(ROOT, m), block)
                    self.assertTrue(os.path.isdir(os.path.join(ROOT, m)), m)
        for name in REQUIRED_SERVICES | {"controller"}:
            self.assertNotIn("profiles:", self.services[name], name)
        self.assertIn("--metrics-listen", self.services["ingest"])

    def test_dockerfile(self):
        with open(DOCKERFILE, encoding="utf-8") as f:
            text = f.read()
        froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
        self.assertGreaterEqual(len(froms), 2, "multi-stage build expected")
        for image in froms:
            self.assertRegex(image, r"^debian:(bookworm|12)")
        self.assertRegex(text, r'(?m)^ENTRYPOINT \["switchyard"\]')
        for path in ("migrations", "config", "classifier/model"):
            self.assertIn(path, text)
        for path in ("migrations", "config"):
            self.assertTrue(os.path.isdir(os.path.join(ROOT, path)), path)


if __name__ == "__main__":
    unittest.main()
