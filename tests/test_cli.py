"""The ``aibridge`` command line: users, tokens, plugins, and one-line configuration errors."""

import json
import re
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from aibridge.cli import build_cli
from aibridge.config.loader import load_config
from aibridge.db import open_database
from aibridge.people.users import UserStore

TOKEN = re.compile(r"aib_[0-9a-f]{16}_[A-Za-z0-9_-]{43}")


@pytest.fixture
def data_dir(tmp_path):
    return str(tmp_path / "data")


@pytest.fixture
def run(clean_environ, data_dir):
    """Invoke the CLI in-process with a clean environment; --data-dir is added for you."""
    runner = CliRunner()
    environ = {**clean_environ, "CODER_CONFIG_PATH": None, "CODER_AIBRIDGE_DISABLE_PLUGINS": None}

    def invoke(*args, env=None, with_data_dir=True):
        argv = [*args, "--data-dir", data_dir] if with_data_dir else list(args)
        merged = {**environ, **(env or {})}
        return runner.invoke(build_cli({k: v for k, v in merged.items() if v is not None}), argv, env=merged)

    return invoke


def test_users_create_and_list(run):
    created = run("users", "create", "alice", "--email", "alice@example.com", "--role", "owner")
    assert created.exit_code == 0, created.output
    assert created.stdout.startswith("created owner alice (id ")
    assert run("users", "create", "bob").exit_code == 0
    listed = run("users", "list", "--format", "table")
    assert listed.exit_code == 0
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["USERNAME", "EMAIL", "ROLE", "STATUS", "CREATED", "ID"]
    assert lines[1].split()[:4] == ["alice", "alice@example.com", "owner", "active"]
    assert lines[2].split()[:4] == ["bob", "-", "member", "active"]


def test_tokens_create_prints_only_the_token(run, data_dir):
    run("users", "create", "alice")
    result = run("tokens", "create", "alice", "--lifetime", "90d", "--name", "laptop")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert TOKEN.fullmatch(token) and result.stdout == token + "\n"
    assert "shown only this once" in result.stderr
    store = UserStore(open_database(load_config({"data-dir": data_dir}, {}).database_path))
    assert store.actor_for_token(token).username == "alice"
    assert store.list_tokens("alice")[0].label == "laptop"


def test_tokens_list_and_revoke(run):
    run("users", "create", "alice")
    token = run("tokens", "create", "alice", "--name", "ci").stdout.strip()
    token_id = token.split("_")[1]
    listed = run("tokens", "list", "alice", "--format", "table")
    assert listed.exit_code == 0
    header, row = listed.stdout.splitlines()
    assert header.split() == ["ID", "NAME", "STATUS", "CREATED", "EXPIRES", "LAST", "USED"]
    assert row.split()[:3] == [token_id, "ci", "active"]
    assert token not in listed.stdout and token.split("_", 2)[2] not in listed.stdout
    revoked = run("tokens", "revoke", token_id)
    assert revoked.exit_code == 0 and revoked.stdout == f"revoked token {token_id} of alice\n"
    assert [t["status"] for t in json.loads(run("tokens", "list", "alice").stdout)] == ["revoked"]


def test_lifetime_zero_never_expires(run):
    run("users", "create", "alice")
    assert run("tokens", "create", "alice", "--lifetime", "0").exit_code == 0
    assert run("tokens", "list", "alice", "--format", "table").stdout.splitlines()[1].split()[-2:] == ["never", "never"]
    [listed] = json.loads(run("tokens", "list", "alice").stdout)
    assert (listed["expires_at"], listed["last_used_at"]) == (None, None)


def test_suspend_and_activate(run):
    run("users", "create", "alice")
    assert run("users", "suspend", "alice").stdout == "suspended alice\n"
    assert "suspended" in run("users", "list").stdout
    refused = run("tokens", "create", "alice")
    assert refused.exit_code == 1 and refused.stderr == "aibridge: error: user 'alice' is suspended\n"
    assert run("users", "activate", "alice").exit_code == 0
    assert run("tokens", "create", "alice").exit_code == 0


@pytest.mark.parametrize(
    "args",
    [("users", "suspend", "ghost"), ("tokens", "create", "ghost"), ("tokens", "list", "ghost")],
)
def test_unknown_user_exits_1_with_a_message(run, args):
    result = run(*args)
    assert result.exit_code == 1
    assert result.stderr == "aibridge: error: unknown user 'ghost'\n"
    assert result.stdout == ""


def test_user_errors(run):
    assert run("users", "create", "Alice").stderr.startswith("aibridge: error: invalid username 'Alice'")
    run("users", "create", "alice")
    assert run("users", "create", "alice").exit_code == 1
    assert run("tokens", "revoke", "0123456789abcdef").stderr == "aibridge: error: unknown token '0123456789abcdef'\n"
    bad_lifetime = run("tokens", "create", "alice", "--lifetime", "soon")
    assert bad_lifetime.exit_code == 2 and "invalid duration 'soon'" in bad_lifetime.stderr


def test_configuration_error_is_one_line_and_exit_2(run):
    result = run("users", "list", env={"CODER_AIBRIDGE_RETENTION": "forever"})
    assert result.exit_code == 2
    assert result.stderr.startswith("aibridge: error: CODER_AIBRIDGE_RETENTION: invalid duration 'forever'")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output


def test_data_dir_from_the_environment_and_yaml(run, tmp_path):
    env_dir = tmp_path / "from-env"
    assert run("users", "create", "alice", env={"CODER_DATA_DIR": str(env_dir)}, with_data_dir=False).exit_code == 0
    assert (env_dir / "aibridge.db").exists()
    yaml_dir = tmp_path / "from-yaml"
    config = tmp_path / "c.yaml"
    config.write_text(f"data_dir: {yaml_dir}\n")
    assert run("users", "create", "bob", "--config", str(config), with_data_dir=False).exit_code == 0
    assert (yaml_dir / "aibridge.db").exists()


def test_server_help_lists_every_option(run):
    result = run("server", "--help", with_data_dir=False)
    assert result.exit_code == 0
    for flag in ("--aibridge-enabled", "--aibridge-retention", "--http-address", "--data-dir", "--config",
                 "--log-human", "--log-json", "--shutdown-grace", "--aibridge-bedrock-small-fast-model"):  # fmt: skip
        assert flag in result.stdout


def test_plugins_lists_nothing_disabled(run):
    result = run("plugins", "--format", "table", env={"CODER_AIBRIDGE_DISABLE_PLUGINS": "recorder"})
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0].split() == ["PLUGIN", "HOOKS"]
    assert re.search(r"^recorder\s+\(disabled\)$", result.stdout, re.M)


@pytest.fixture
def hello_plugin(tmp_path, monkeypatch):
    """A real installed plugin (a dist-info with an ``aibridge`` entry point) that adds a ``hello`` command."""
    site = tmp_path / "site"
    (site / "aibridge_hello-1.0.dist-info").mkdir(parents=True)
    (site / "aibridge_hello-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: aibridge-hello\nVersion: 1.0\n")
    (site / "aibridge_hello-1.0.dist-info" / "entry_points.txt").write_text("[aibridge]\nhello = aibridge_hello\n")
    (site / "aibridge_hello.py").write_text(
        textwrap.dedent(
            """
            import click
            import aibridge

            @aibridge.hookimpl
            def aibridge_commands(cli):
                @cli.command()
                def hello():
                    click.echo("hello from a plugin")
            """
        )
    )
    monkeypatch.syspath_prepend(str(site))
    return site


def test_plugins_add_commands_and_are_listed(run, hello_plugin):
    assert run("hello", with_data_dir=False).stdout == "hello from a plugin\n"
    listed = run("plugins", "--format", "table")
    assert re.search(r"^hello\s+aibridge_commands$", listed.stdout, re.M)
    disabled = run("hello", with_data_dir=False, env={"CODER_AIBRIDGE_DISABLE_PLUGINS": "hello"})
    assert disabled.exit_code == 2 and "No such command 'hello'" in disabled.stderr
    assert re.search(r"^hello\s+\(disabled\)$", run("plugins", "--format", "table", env={"CODER_AIBRIDGE_DISABLE_PLUGINS": "hello"}).stdout, re.M)


def test_console_script_reports_configuration_errors_in_one_line(aibridge_script, process_environ):
    for args in (["users", "list"], ["server"]):
        result = subprocess.run(
            [str(aibridge_script), *args],
            env={**process_environ, "CODER_AIBRIDGE_PROVIDER_0_TYPE": "openai", "CODER_AIBRIDGE_PROVIDER_2_TYPE": "openai"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2, result.stderr
        assert result.stderr == (
            "aibridge: error: CODER_AIBRIDGE_PROVIDER_1_*: missing; indices must run 0, 1, 2, ... without gaps (found 0, 2)\n"
        )
        assert result.stdout == ""


def test_console_script_users_and_tokens(aibridge_script, process_environ, tmp_path):
    environ = {**process_environ, "CODER_DATA_DIR": str(tmp_path / "data")}

    def aibridge(*args):
        return subprocess.run([str(aibridge_script), *args], env=environ, capture_output=True, text=True, timeout=60)

    assert aibridge("users", "create", "alice", "--role", "owner").returncode == 0
    created = aibridge("tokens", "create", "alice")
    assert created.returncode == 0 and TOKEN.fullmatch(created.stdout.strip())
    missing = aibridge("tokens", "list", "ghost")
    assert missing.returncode == 1 and missing.stderr == "aibridge: error: unknown user 'ghost'\n"


@pytest.mark.parametrize("args, patched", [(["server", "--help"], True), (["users", "--help"], False)])
def test_gevent_patching_only_for_the_server(args, patched, process_environ):
    """The console script's entry point patches the standard library for ``server`` and nothing else."""
    code = (
        "import sys\n"
        "from aibridge import entry\n"
        "try:\n    entry.main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "from gevent import monkey\n"
        "print('PATCHED', monkey.is_module_patched('socket'))\n"
    )
    result = subprocess.run([sys.executable, "-c", code, *args], env=process_environ, capture_output=True, text=True)
    assert result.stdout.splitlines()[-1] == f"PATCHED {patched}"
    assert "MonkeyPatchWarning" not in result.stderr
