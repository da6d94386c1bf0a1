"""Fixtures shared by the test modules."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from support.fakeupstream import FakeUpstream
from support.gateway import Gateway, gateway_config


@pytest.fixture
def aibridge_script() -> Path:
    """The ``aibridge`` console script installed next to this Python."""
    return Path(sys.executable).parent / "aibridge"


@pytest.fixture
def clean_environ(tmp_path) -> dict[str, str]:
    """An environment for ``load_config``: no CODER_* variables, HOME and XDG_DATA_HOME under tmp_path."""
    return {"HOME": str(tmp_path / "home"), "XDG_DATA_HOME": str(tmp_path / "xdg")}


@pytest.fixture
def process_environ(tmp_path) -> dict[str, str]:
    """``os.environ`` for a subprocess: without CODER_* variables, HOME and XDG_DATA_HOME under tmp_path."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CODER_")}
    environ.update(HOME=str(tmp_path / "home"), XDG_DATA_HOME=str(tmp_path / "xdg"))
    return environ


class LoggedProcess:
    """A subprocess whose stderr lines are collected as they come, so tests can wait for one."""

    def __init__(self, argv: list[str], env: dict[str, str]):
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.stderr_lines: list[str] = []
        self._lines: queue.Queue = queue.Queue()
        self._ended = False  # the reader's end-of-stream marker was taken
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self._lines.put(line)
        self._lines.put(None)

    def wait_for_line(self, pattern: str, timeout: float = 60) -> re.Match:
        """Block until a stderr line matches ``pattern``; fail if the process ends first."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r}; stderr so far:\n{self.stderr}") from None
            if line is None:
                self._ended = True
                raise AssertionError(f"process exited ({self.proc.wait()}) before {pattern!r}:\n{self.stderr}")
            self.stderr_lines.append(line)
            match = re.search(pattern, line)
            if match:
                return match

    def wait(self, timeout: float = 60) -> int:
        """The exit status, once the process has ended and all its stderr is read."""
        status = self.proc.wait(timeout)
        while not self._ended:
            line = self._lines.get(timeout=timeout)
            self._ended = line is None
            if line is not None:
                self.stderr_lines.append(line)
        return status

    @property
    def stderr(self) -> str:
        return "".join(self.stderr_lines)


@pytest.fixture
def spawn():
    """Start LoggedProcess instances; any still running at the end of the test is killed."""
    started: list[LoggedProcess] = []

    def start(argv: list[str], env: dict[str, str]) -> LoggedProcess:
        started.append(LoggedProcess([str(arg) for arg in argv], env))
        return started[-1]

    yield start
    for process in started:
        if process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait()


# A real gateway per test module, against a fake upstream on 127.0.0.1. Modules
# that need other providers or settings define their own ``gateway``.


@pytest.fixture(scope="module")
def upstream():
    with FakeUpstream() as fake:
        yield fake


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, upstream):
    with Gateway(gateway_config(tmp_path_factory.mktemp("data"), upstream.url)) as gw:
        yield gw


@pytest.fixture(scope="module")
def token(gateway):
    """A gateway token of the member "alice"."""
    return gateway.create_token("alice")


@pytest.fixture
def collector(gateway, upstream):
    """A RecordCollector registered for one test (the upstream starts empty)."""
    with gateway.collecting(upstream) as plugin:
        yield plugin


# A fresh virtualenv with aibridge installed as docs/deployment.md says, from wheels of this
# environment (no package index): built once per test session, for the install and plugin-doc tests.

DEPLOYMENT_DOC = Path(__file__).resolve().parent.parent / "docs" / "deployment.md"


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory) -> Path:
    from support.wheelhouse import build_wheelhouse

    return build_wheelhouse(tmp_path_factory.mktemp("wheelhouse"))


@pytest.fixture(scope="session")
def installed_venv(tmp_path_factory, wheelhouse) -> Path:
    """The bin directory of a new virtualenv where the deployment guide's ``pip install`` line was run."""
    from support.wheelhouse import fresh_venv, offline_pip_environ, source_copy

    match = re.search(r"^pip install '(aibridge\[gunicorn\])'$", DEPLOYMENT_DOC.read_text(), re.M)
    assert match, "docs/deployment.md no longer says: pip install 'aibridge[gunicorn]'"
    root = tmp_path_factory.mktemp("install")
    source = source_copy(root / "source")
    bin_dir = fresh_venv(root / "venv")
    requirement = match.group(1).replace("aibridge", str(source), 1)  # the same extras, from this source
    done = subprocess.run([bin_dir / "pip", "install", "--no-index", "--find-links", wheelhouse, requirement],
                          env=offline_pip_environ(dict(os.environ)), capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return bin_dir


# PostgreSQL: the machine's server on 127.0.0.1:5432 (trust authentication, user postgres, database test).
# Each test or module that asks gets a database of its own, dropped afterwards. Without a server the tests
# that need one are skipped with one line saying why; under CI (CI=true) they fail instead.

from support.postgres_support import POSTGRES_ADMIN_URL, PostgresServer  # noqa: E402


def pytest_sessionstart(session):
    """Under CI a missing PostgreSQL fails the run at once, with one line (locally its tests are skipped)."""
    if os.environ.get("CI") == "true":
        problem = PostgresServer(POSTGRES_ADMIN_URL).problem()
        if problem:
            pytest.exit(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} ({problem}): CI runs the tests "
                        "against it (.ci/run starts the machine's server when it is installed)", returncode=1)


@pytest.fixture(scope="session")
def postgres_server():
    server = PostgresServer(POSTGRES_ADMIN_URL)
    problem = server.problem()
    if problem:
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} ({problem})")
    return server


@pytest.fixture
def postgres_url(postgres_server):
    """The URL of a new, empty PostgreSQL database for this test."""
    with postgres_server.database() as url:
        yield url


@pytest.fixture(scope="module")
def module_postgres_url(postgres_server):
    """The URL of a new, empty PostgreSQL database for this test module."""
    with postgres_server.database() as url:
        yield url


STORES = ("sqlite", "postgres")


@pytest.fixture(params=STORES)
def store(request, tmp_path):
    """Where a test's gateway keeps its data, once for each store: config overrides for ``Config`` (or {})."""
    if request.param == "sqlite":
        return {}
    return {"postgres_url": request.getfixturevalue("postgres_url")}
