"""Prometheus metrics of the gateway, served on ``--prometheus-address`` when ``--prometheus-enable`` is set."""
