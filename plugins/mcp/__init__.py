"""MCP tool injection: tools of configured MCP servers are offered to the model and run by the gateway.

The client speaks the Streamable HTTP transport over ``requests`` (so it is
cooperative under gevent); see docs/mcp.md.
"""
