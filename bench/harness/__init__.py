"""The benchmark harness: fake upstreams, load clients, gateways under test, the report."""
