"""The plugin manager: built-in and third-party plugins load the same way, and hooks are dispatched here.

A plugin that cannot be loaded (its module fails to import, it implements a
hook that does not exist or takes an argument its hook does not give) is
named with its error: the server refuses to start without it (one line, exit
2, how to disable it); every other command goes on without it, with a warning.
"""

from __future__ import annotations

import importlib.metadata
import logging
from dataclasses import dataclass
from typing import Any, Iterator

import pluggy

from . import hookspecs
from .config import ConfigError

log = logging.getLogger("aibridge.plugins")

ENTRY_POINT_GROUP = "aibridge"
# Plugins the core registers itself (they can be disabled by name too).
CORE_PLUGINS = ("token-store",)


@dataclass(frozen=True)
class PluginProblem:
    """A plugin left out, and why."""

    name: str
    error: str  # "cannot be imported: ModuleNotFoundError: No module named 'x'"

    def message(self, disabled: tuple[str, ...] | list[str] = ()) -> str:
        """One line: the plugin, its error, and the setting that starts the gateway without it."""
        names = ",".join([*disabled, self.name])
        return (f"plugin {self.name!r} {self.error}; fix or uninstall it, or disable it with "
                f"--aibridge-disable-plugins {names} (CODER_AIBRIDGE_DISABLE_PLUGINS={names})")


def make_plugin_manager(disabled: tuple[str, ...] | list[str] = ()) -> pluggy.PluginManager:
    """Every plugin of the ``aibridge`` entry-point group except the disabled names; ConfigError for a broken one."""
    pm, problems = load_plugins(disabled)
    if problems:
        raise ConfigError(problems[0].message(disabled))
    return pm


def load_plugins(disabled: tuple[str, ...] | list[str] = ()) -> tuple[pluggy.PluginManager, list[PluginProblem]]:
    """The plugin manager with every plugin that loads, and the problems of those that do not.

    Raises ConfigError when ``disabled`` names a plugin that does not exist.
    """
    entry_points = _entry_points()
    unknown = [name for name in disabled if name not in entry_points and name not in CORE_PLUGINS]
    if unknown:
        known = ", ".join(sorted([*entry_points, *CORE_PLUGINS]))
        raise ConfigError(f"--aibridge-disable-plugins / CODER_AIBRIDGE_DISABLE_PLUGINS: no plugin named "
                          f"{unknown[0]!r} (installed: {known})")
    pm = pluggy.PluginManager("aibridge")
    pm.add_hookspecs(hookspecs)
    # Historic: replayed for every plugin registered later, so a plugin's own
    # hookspecs exist before the plugins that implement them are checked.
    pm.hook.aibridge_add_hookspecs.call_historic(kwargs={"pm": pm})
    for name in disabled:
        pm.set_blocked(name)
    problems = []
    for name, entry_point in entry_points.items():
        if pm.is_blocked(name):
            continue
        problem = _register(pm, name, entry_point)
        if problem is not None:
            problems.append(problem)
    for name, plugin in list(pm.list_name_plugin()):
        unknown_hooks = _unknown_hooks(pm, plugin) if plugin is not None else []
        if unknown_hooks:
            pm.unregister(plugin)
            problems.append(PluginProblem(name, f"implements {', '.join(unknown_hooks)}, which is not a hook "
                                                "(misspelled @aibridge.hookimpl?)"))
    return pm, problems


def start_plugins(pm: pluggy.PluginManager, app, config) -> None:
    """Let every plugin add its routes, then start it; one that fails stops the start (ConfigError naming it).

    What the plugins started before the failure is stopped again.
    """
    for hook_name in ("aibridge_routes", "aibridge_startup"):
        for impl in _implementations(pm, hook_name):
            try:
                impl.function(*[{"app": app, "config": config}[name] for name in impl.argnames])
            except ConfigError:  # already one line naming the setting
                notify(pm, "aibridge_shutdown", app=app)
                raise
            except Exception as error:
                notify(pm, "aibridge_shutdown", app=app)
                problem = PluginProblem(impl.plugin_name, f"failed in {hook_name}: {one_line(error)}")
                raise ConfigError(problem.message(config.disable_plugins)) from error


def add_commands(pm: pluggy.PluginManager, cli) -> list[PluginProblem]:
    """Let every plugin add its commands to the click group; the problems of those that fail."""
    problems = []
    for impl in _implementations(pm, "aibridge_commands"):
        try:
            impl.function(cli=cli)
        except Exception as error:  # one plugin's commands must not take the others' away
            problems.append(PluginProblem(impl.plugin_name, f"failed to add its commands: {one_line(error)}"))
    return problems


def notify(pm: pluggy.PluginManager, hook_name: str, **kwargs) -> None:
    """Call an observer hook on every plugin, isolating each plugin's failures.

    pluggy stops at the first exception; an observer must never break the
    client's request or keep the other plugins from seeing the record.
    """
    for _ in _call_each(pm, hook_name, kwargs):
        pass


def collect(pm: pluggy.PluginManager, hook_name: str, **kwargs) -> list:
    """Each plugin's non-None answer to a hook, in call order; a failing plugin is logged and skipped.

    For contribution hooks (``aibridge_tools``): one plugin's failure costs its
    own contribution, never the others' or the request.
    """
    return [result for result in _call_each(pm, hook_name, kwargs) if result is not None]


def plugin_names(pm: pluggy.PluginManager) -> list[str]:
    """Names of the registered plugins, in registration order."""
    return [name for name, plugin in pm.list_name_plugin() if plugin is not None]


def one_line(error: BaseException) -> str:
    """``ModuleNotFoundError: No module named 'x'``: the error's type and the first line of its message."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    """The ``aibridge`` entry points by name (the first of a name wins, as on sys.path)."""
    found: dict[str, importlib.metadata.EntryPoint] = {}
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(entry_point.name, entry_point)
    return found


def _register(pm: pluggy.PluginManager, name: str, entry_point) -> PluginProblem | None:
    """Import and register one plugin; its problem if it cannot be."""
    try:
        plugin = entry_point.load()
    except (Exception, SystemExit) as error:  # a plugin's module may fail any way; it must not take us down
        return PluginProblem(name, f"cannot be imported: {one_line(error)}")
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as error:
        # Refused while registering (an argument its hook does not give); pluggy may have added some hooks.
        if pm.get_plugin(name) is not None:
            pm.unregister(name=name)
        detail = "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
        return PluginProblem(name, f"does not fit aibridge's hooks: {detail}")
    except ValueError as error:  # the same module under two names
        return PluginProblem(name, f"cannot be registered: {one_line(error)}")
    return None


def _implementations(pm: pluggy.PluginManager, hook_name: str):
    """A hook's implementations in pluggy's call order (hook wrappers left out)."""
    hook = getattr(pm.hook, hook_name)
    return [impl for impl in reversed(hook.get_hookimpls()) if not (impl.hookwrapper or impl.wrapper)]


def _call_each(pm: pluggy.PluginManager, hook_name: str, kwargs: dict[str, Any]) -> Iterator[Any]:
    """Call each plugin's implementation in pluggy's order, logging (with the plugin's name) and skipping failures."""
    for impl in _implementations(pm, hook_name):
        try:
            result = impl.function(*[kwargs[name] for name in impl.argnames])
        except Exception:
            log.exception("plugin %r failed in %s", impl.plugin_name, hook_name)
            continue
        yield result


def _unknown_hooks(pm: pluggy.PluginManager, plugin) -> list[str]:
    """The hooks ``plugin`` implements that no hookspec declares (optional implementations aside)."""
    return sorted(
        caller.name for caller in pm.get_hookcallers(plugin) or ()
        if not caller.has_spec()
        and any(impl.plugin is plugin and not impl.optionalhook for impl in caller.get_hookimpls())
    )
