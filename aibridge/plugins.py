"""The plugin manager: built-in and third-party plugins load the same way, and hooks are dispatched here."""

from __future__ import annotations

import logging
from typing import Any, Iterator

import pluggy

from . import hookspecs
from .config import ConfigError

log = logging.getLogger("aibridge.plugins")

ENTRY_POINT_GROUP = "aibridge"


def make_plugin_manager(disabled: tuple[str, ...] | list[str] = ()) -> pluggy.PluginManager:
    """Load every plugin of the ``aibridge`` entry-point group except the disabled names.

    Raises ConfigError naming the plugin when one implements a hook that does
    not exist (a misspelled ``@hookimpl`` would otherwise never be called) or
    takes an argument its hook does not give.
    """
    pm = pluggy.PluginManager("aibridge")
    pm.add_hookspecs(hookspecs)
    # Historic: replayed for every plugin registered later, so a plugin's own
    # hookspecs exist before the plugins that implement them are checked.
    pm.hook.aibridge_add_hookspecs.call_historic(kwargs={"pm": pm})
    for name in disabled:
        pm.set_blocked(name)
    try:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        pm.check_pending()
    except pluggy.PluginValidationError as error:
        raise _plugin_error(pm, error) from None
    return pm


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


def _call_each(pm: pluggy.PluginManager, hook_name: str, kwargs: dict[str, Any]) -> Iterator[Any]:
    """Call each plugin's implementation in pluggy's order, logging (with the plugin's name) and skipping failures."""
    hook = getattr(pm.hook, hook_name)
    for impl in reversed(hook.get_hookimpls()):  # pluggy calls the last registered first
        if impl.hookwrapper or impl.wrapper:
            continue
        try:
            result = impl.function(*[kwargs[name] for name in impl.argnames])
        except Exception:
            log.exception("plugin %r failed in %s", impl.plugin_name, hook_name)
            continue
        yield result


def _plugin_error(pm: pluggy.PluginManager, error: pluggy.PluginValidationError) -> ConfigError:
    """One line naming the plugin that does not fit the hooks, and how to start without it."""
    name = pm.get_name(error.plugin)
    unknown = _unknown_hooks(pm, error.plugin) if name else []
    if unknown:
        return ConfigError(
            f"plugin {name!r} implements {', '.join(unknown)}, which is not a hook (misspelled @aibridge.hookimpl?); "
            f"fix the plugin or disable it with CODER_AIBRIDGE_DISABLE_PLUGINS={name}"
        )
    # Refused while registering (an argument its hook does not give): pluggy's message names the plugin.
    detail = "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
    return ConfigError(f"a plugin does not fit aibridge's hooks: {detail}")


def _unknown_hooks(pm: pluggy.PluginManager, plugin) -> list[str]:
    """The hooks ``plugin`` implements that no hookspec declares (optional implementations aside)."""
    return sorted(
        caller.name for caller in pm.get_hookcallers(plugin) or ()
        if not caller.has_spec()
        and any(impl.plugin is plugin and not impl.optionalhook for impl in caller.get_hookimpls())
    )
