"""The built-in plugins, importable as ``aibridge_plugins``.

Each one uses only the public plugin API (the names of ``aibridge.__all__``)
and its own modules, and is registered through the ``aibridge`` entry-point
group exactly like a third-party plugin. ``storage`` is not a plugin: it is
the store the recorder, retention and audit plugins share.
"""
