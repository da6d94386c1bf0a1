"""OpenTelemetry tracing (``--trace-enable``): a span per interception, its upstream attempts, tool calls and record write."""
