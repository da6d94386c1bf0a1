"""The plugin manager: built-in and third-party plugins load the same way."""

from __future__ import annotations

import logging

import pluggy

from . import hookspecs

log = logging.getLogger("aibridge.plugins")

ENTRY_POINT_GROUP = "aibridge"


def make_plugin_manager(disabled: tuple[str, ...] | list[str] = ()) -> pluggy.PluginManager:
    """Load every plugin of the ``aibridge`` entry-point group except the disabled names."""
    pm = pluggy.PluginManager("aibridge")
    pm.add_hookspecs(hookspecs)
    for name in disabled:
        pm.set_blocked(name)
    pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    return pm


def notify(pm: pluggy.PluginManager, hook_name: str, **kwargs) -> None:
    """Call an observer hook on every plugin, isolating each plugin's failures.

    pluggy stops at the first exception; an observer must never break the
    client's request or keep the other plugins from seeing the record.
    """
    hook = getattr(pm.hook, hook_name)
    for impl in reversed(hook.get_hookimpls()):
        if impl.hookwrapper or impl.wrapper:
            continue
        try:
            impl.function(*[kwargs[name] for name in impl.argnames])
        except Exception:
            log.exception("plugin %r failed in %s", impl.plugin_name, hook_name)


def collect(pm: pluggy.PluginManager, hook_name: str, **kwargs) -> list:
    """Each plugin's non-None result of a contribution hook; a failing plugin is logged and skipped."""
    results = []
    hook = getattr(pm.hook, hook_name)
    for impl in reversed(hook.get_hookimpls()):
        if impl.hookwrapper or impl.wrapper:
            continue
        try:
            result = impl.function(*[kwargs[name] for name in impl.argnames])
        except Exception:
            log.exception("plugin %r failed in %s", impl.plugin_name, hook_name)
            continue
        if result is not None:
            results.append(result)
    return results


def plugin_names(pm: pluggy.PluginManager) -> list[str]:
    """Names of the registered plugins, in registration order."""
    return [name for name, plugin in pm.list_name_plugin() if plugin is not None]
