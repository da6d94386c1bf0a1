"""The plugin manager: plugins that do not fit the hooks stop the start, and hooks are dispatched plugin by plugin."""

from __future__ import annotations

import logging
import re
import textwrap

import pluggy
import pytest

import aibridge
from aibridge import hookspecs
from aibridge.cli import main
from aibridge.plugins import collect, load_plugins, make_plugin_manager, notify, plugin_names


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A directory on sys.path where a test installs plugins, as pip would (a module and its entry point)."""
    directory = tmp_path / "site"
    directory.mkdir()
    monkeypatch.syspath_prepend(str(directory))
    return directory


def install(site, name: str, source: str) -> None:
    """Install the module ``aibridge_test_<name>`` as the plugin ``<name>`` of the ``aibridge`` entry-point group."""
    module = f"aibridge_test_{name}"
    info = site / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[aibridge]\n{name} = {module}\n")
    (site / f"{module}.py").write_text("import aibridge\n" + textwrap.dedent(source))


MISSPELLED = """
    @aibridge.hookimpl
    def on_token_usages(interception, usage):
        pass
"""


def test_a_misspelled_hook_stops_the_start_naming_the_plugin(site):
    install(site, "typo", MISSPELLED)
    with pytest.raises(aibridge.ConfigError) as error:
        make_plugin_manager()
    assert str(error.value) == (
        "plugin 'typo' implements on_token_usages, which is not a hook (misspelled @aibridge.hookimpl?); "
        "fix or uninstall it, or disable it with --aibridge-disable-plugins typo (CODER_AIBRIDGE_DISABLE_PLUGINS=typo)"
    )
    assert "typo" not in plugin_names(make_plugin_manager(["typo"]))


def test_an_argument_the_hook_does_not_give_stops_the_start(site):
    install(site, "badargs", """
        @aibridge.hookimpl
        def on_token_usage(interception, tokens):
            pass
    """)
    with pytest.raises(aibridge.ConfigError, match=r"^plugin 'badargs' does not fit aibridge's hooks: Plugin 'badargs' "
                                                   r"for hook 'on_token_usage'; .*\{'tokens'\}"):
        make_plugin_manager()
    assert "badargs" not in plugin_names(load_plugins()[0])  # nothing of it stays registered


def test_the_command_line_warns_about_a_misspelled_hook_and_lists_the_plugin_as_not_loaded(site, capsys):
    install(site, "cli_typo", MISSPELLED)
    with pytest.raises(SystemExit) as exit:
        main(["plugins", "--format", "table"])
    assert exit.value.code == 0
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("aibridge: warning: plugin 'cli_typo' implements on_token_usages")
    assert re.search(r"^cli_typo +\(not loaded\) implements on_token_usages, which is not a hook", out, re.M)
    assert re.search(r"^recorder +aibridge_", out, re.M)


CREDENTIAL = """
    @aibridge.hookimpl{options}
    def aibridge_mcp_credential(interception, server):
        return None
"""


def test_the_mcp_plugin_adds_the_credential_hook_for_other_plugins(site):
    install(site, "credential", CREDENTIAL.format(options=""))
    pm = make_plugin_manager()  # whichever plugin the entry points load first
    assert pm.hook.aibridge_mcp_credential.spec.opts["firstresult"]
    with pytest.raises(aibridge.ConfigError, match="plugin 'credential' implements aibridge_mcp_credential"):
        make_plugin_manager(["mcp"])


def test_an_optional_implementation_of_a_plugin_hook_starts_without_that_plugin(site):
    install(site, "optional_credential", CREDENTIAL.format(options="(optionalhook=True)"))
    assert "optional_credential" in plugin_names(make_plugin_manager(["mcp"]))


class Contributes:
    def __init__(self, tools):
        self.tools = tools

    @aibridge.hookimpl
    def aibridge_tools(self, interception):
        return self.tools


class Fails:
    @aibridge.hookimpl
    def aibridge_tools(self, interception):
        raise RuntimeError("boom")

    @aibridge.hookimpl
    def on_interception_start(self, interception):
        raise RuntimeError("boom")


class Sees:
    def __init__(self):
        self.seen = []

    @aibridge.hookimpl
    def on_interception_start(self, interception):
        self.seen.append(interception)


@pytest.fixture
def pm():
    """A plugin manager with aibridge's hooks and, registered for the test, plugins that answer, fail and observe."""
    manager = pluggy.PluginManager("aibridge")
    manager.add_hookspecs(hookspecs)
    plugins = {"first": Contributes(["a"]), "silent": Contributes(None), "failing": Fails(),
               "last": Contributes(["b"]), "observer": Sees()}
    for name, plugin in plugins.items():
        manager.register(plugin, name=name)
    yield manager
    for plugin in plugins.values():
        if manager.is_registered(plugin):  # a test may have taken one out
            manager.unregister(plugin)


def test_collect_gives_each_answer_in_pluggys_order_and_skips_a_failing_plugin(pm, caplog):
    with caplog.at_level(logging.ERROR, logger="aibridge.plugins"):
        answers = collect(pm, "aibridge_tools", interception="int-1")
    assert answers == [["b"], ["a"]]
    assert [r.getMessage() for r in caplog.records] == ["plugin 'failing' failed in aibridge_tools"]
    pm.unregister(name="failing")
    assert collect(pm, "aibridge_tools", interception="int-1") == pm.hook.aibridge_tools(interception="int-1")


def test_notify_calls_every_plugin_past_a_failing_one(pm, caplog):
    with caplog.at_level(logging.ERROR, logger="aibridge.plugins"):
        notify(pm, "on_interception_start", interception="int-1")
    assert pm.get_plugin("observer").seen == ["int-1"]
    assert [r.getMessage() for r in caplog.records] == ["plugin 'failing' failed in on_interception_start"]
