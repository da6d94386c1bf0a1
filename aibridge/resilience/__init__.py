"""Upstream resilience: every decision about sending a request upstream, made before its first byte is relayed.

- :mod:`.keypool`: a provider instance's keys (valid, temporary, permanent) and failover between them;
- :mod:`.breaker`: circuit breakers per instance, endpoint and model;
- :mod:`.retry`: when an answer (or its absence) may be sent again, and how long to wait;
- :mod:`.limits`: the per-process concurrency and rate limits;
- :mod:`.fallback`: the instances that take over when one is unavailable;
- :mod:`.attempts`: the one attempt loop, the ``send(body)`` every intercepted round goes through;
- :mod:`.refusals`: the answers the gateway gives itself (limits, open breakers, exhausted pools);
- :mod:`.status`: a read-only snapshot of the instances (API, CLI, metrics);
- :mod:`.events`: key and breaker changes announced through the observer hooks;
- :mod:`.clock`: time, injected so tests move it instead of waiting.

Key pools and breakers are state machines that take the time as an argument;
only the attempt loop and the limits read the clock. Nothing here imports the
relay, the APIs, the tool loop or the providers (providers own their pools and
breakers; the attempt loop drives them through their methods).
"""
