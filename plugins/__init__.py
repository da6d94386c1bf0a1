"""The built-in plugins, importable as ``aibridge_plugins``.

Each one uses only the public plugin API (``aibridge.hookimpl``, the hook
arguments, ``aibridge.records``) and is registered through the ``aibridge``
entry-point group exactly like a third-party plugin.
"""
