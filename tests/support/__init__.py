"""What the tests share: fake upstreams and MCP servers, gateways in-process and as real processes, faults caused for real, a browser."""
