"""A broken third-party plugin, installed for real (a dist-info on PYTHONPATH): the server refuses to start
with one line naming it, every other command works with a warning, and --aibridge-disable-plugins gets past it."""

from __future__ import annotations

import re
import signal
import subprocess
import textwrap

import pytest
from support.faults import AIBRIDGE, LISTENING

BROKEN_IMPORT = "import aibridge\nimport aibridge_no_such_dependency\n"
FAILS_AT_STARTUP = textwrap.dedent("""
    import aibridge

    @aibridge.hookimpl
    def aibridge_startup(app, config):
        raise RuntimeError("cannot reach the license server")
""")


def install(site, name: str, source: str) -> None:
    """Install module ``aibridge_test_<name>`` as plugin ``<name>`` of the ``aibridge`` entry-point group."""
    module = f"aibridge_test_{name}"
    info = site / f"{module}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[aibridge]\n{name} = {module}\n")
    (site / f"{module}.py").write_text(source)


@pytest.fixture
def environ(process_environ, tmp_path):
    site = tmp_path / "site"
    install(site, "broken", BROKEN_IMPORT)
    return {**process_environ, "PYTHONPATH": str(site), "CODER_DATA_DIR": str(tmp_path / "data")}


def run(environ: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([AIBRIDGE, *args], env=environ, capture_output=True, text=True, timeout=60)


REFUSAL = ("aibridge: error: plugin 'broken' cannot be imported: ModuleNotFoundError: No module named "
           "'aibridge_no_such_dependency'; fix or uninstall it, or disable it with --aibridge-disable-plugins broken "
           "(CODER_AIBRIDGE_DISABLE_PLUGINS=broken)\n")
WARNING = REFUSAL.replace("aibridge: error: ", "aibridge: warning: ")


def test_the_server_refuses_to_start_with_one_line_naming_the_plugin(environ):
    done = run(environ, "server", "--http-address", "127.0.0.1:0")
    assert (done.returncode, done.stderr) == (2, REFUSAL)


def test_other_commands_work_with_a_warning(environ):
    for args in (["--help"], ["users", "list"], ["plugins"], ["interceptions", "--help"]):
        done = run(environ, *args)
        assert done.returncode == 0, done.stderr
        assert done.stderr == WARNING
    assert re.search(r"^broken +\(not loaded\) cannot be imported: ModuleNotFoundError", run(environ, "plugins", "--format", "table").stdout,
                     re.M)


@pytest.mark.parametrize("where", ["flag after the command", "flag before it", "variable"])
def test_disabling_the_plugin_by_flag_or_variable_starts_the_server(environ, spawn, where):
    args = ["server", "--http-address", "127.0.0.1:0"]
    if where == "flag after the command":
        args += ["--aibridge-disable-plugins", "broken"]
    elif where == "flag before it":
        args = ["--aibridge-disable-plugins=broken", *args]
    else:
        environ = {**environ, "CODER_AIBRIDGE_DISABLE_PLUGINS": "broken"}
    server = spawn([AIBRIDGE, *args], environ)
    server.wait_for_line(LISTENING)
    server.proc.send_signal(signal.SIGTERM)
    assert server.wait() == 0
    assert "broken" not in server.stderr


def test_the_flag_silences_the_warning_of_other_commands(environ):
    done = run(environ, "--aibridge-disable-plugins", "broken", "users", "list")
    assert (done.returncode, done.stderr) == (0, "")


def test_an_unknown_name_in_the_list_is_an_error(environ):
    for args, env in ((["--aibridge-disable-plugins", "brokn", "--help"], environ),
                      (["users", "list"], {**environ, "CODER_AIBRIDGE_DISABLE_PLUGINS": "broken,brokn"})):
        done = run(env, *args)
        assert done.returncode == 2
        assert done.stderr.startswith("aibridge: error: --aibridge-disable-plugins / CODER_AIBRIDGE_DISABLE_PLUGINS: "
                                      "no plugin named 'brokn' (installed: audit, broken, budgets, dashboard, mcp, metrics, ")
        assert done.stderr.count("\n") == 1


def test_a_plugin_that_fails_to_start_is_named_too(environ, tmp_path):
    install(tmp_path / "site", "unlicensed", FAILS_AT_STARTUP)
    done = run(environ, "server", "--http-address", "127.0.0.1:0", "--aibridge-disable-plugins", "broken")
    assert done.returncode == 2
    # (Plugins started before it may have logged; they are stopped again.)
    assert done.stderr.splitlines()[-1] == (
        "aibridge: error: plugin 'unlicensed' failed in aibridge_startup: RuntimeError: cannot reach the license "
        "server; fix or uninstall it, or disable it with --aibridge-disable-plugins broken,unlicensed "
        "(CODER_AIBRIDGE_DISABLE_PLUGINS=broken,unlicensed)")
    assert "Traceback" not in done.stderr
