"""The hook the mcp plugin adds for other plugins: a per-user credential for an MCP server.

Added to the plugin manager by the plugin's ``aibridge_add_hookspecs``; a
plugin that implements it should mark it ``@aibridge.hookimpl(optionalhook=True)``
so the gateway still starts when the mcp plugin is disabled.
"""

import aibridge


@aibridge.hookspec(firstresult=True)
def aibridge_mcp_credential(interception, server):
    """Return the ``Authorization`` value for this user's calls to MCP ``server`` (an MCPServerConfig), or None."""
