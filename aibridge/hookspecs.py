"""The hooks plugins implement. See docs/plugins.md for one example per hook.

Observer hooks (``on_*``) are called for every plugin; an exception in one is
logged with the plugin's name and never reaches the client. They run in the
request's greenlet: a plugin that does I/O hands the work to a queue.

A plugin may declare hooks of its own (``aibridge_add_hookspecs``), as the
mcp plugin does for ``aibridge_mcp_credential``.
"""

import pluggy

hookspec = pluggy.HookspecMarker("aibridge")
"""Marker for hook specifications; a plugin that adds hooks of its own marks them with it too."""


@hookspec
def on_interception_start(interception):
    """An intercepted request was authenticated and is about to go upstream."""


@hookspec
def on_prompt_usage(interception, prompt):
    """The last user prompt of an interception (a PromptUsage)."""


@hookspec
def on_token_usage(interception, usage):
    """Tokens reported by the upstream for one message (a TokenUsage)."""


@hookspec
def on_tool_usage(interception, tool):
    """The model called a tool (a ToolUsage)."""


@hookspec
def on_tool_result(interception, result):
    """The request returns the result of a tool call the model made earlier (a ToolCallResult)."""


@hookspec
def on_model_thought(interception, thought):
    """The model shared reasoning (a ModelThought)."""


@hookspec
def on_interception_end(interception):
    """An interception finished; ``ended_at``, ``status`` and (unless it completed) ``error`` are set."""


@hookspec
def on_upstream_attempt(interception, attempt):
    """The gateway sent a request upstream and got its answer's head or an error (an UpstreamAttempt)."""


@hookspec
def on_injected_tool_call(interception, call):
    """The gateway ran an injected tool for the model (an InjectedToolCall)."""


@hookspec
def on_key_state_change(provider_name, key_hint, state, reason):
    """A key of a provider instance became valid, temporary or permanent; ``reason`` says why."""


@hookspec
def on_key_pool_exhausted(provider_name, outcome):
    """A request found no usable key of an instance; ``outcome``: rate_limited or auth_failed."""


@hookspec
def on_circuit_breaker_change(provider_name, endpoint, model, state):
    """A circuit breaker became closed, half-open or open."""


@hookspec
def on_circuit_breaker_reject(provider_name, endpoint, model):
    """A request was refused without reaching the upstream: its circuit breaker is open."""


@hookspec
def on_budget_threshold(user_id, username, percent, spent_usd, budget_usd, budget, resets_at):
    """A person's spend this month reached ``percent`` (85 or 100) of their budget; once per person, month and percent."""


@hookspec(firstresult=True)
def aibridge_authenticate(request):
    """Return an Actor for this Flask request, or None to let the next plugin decide."""


@hookspec(firstresult=True)
def aibridge_refuse_interception(request, actor):
    """Return a Refusal to turn this authenticated intercepted request away before it starts, or None."""


@hookspec
def aibridge_measurements(app):
    """Return a list of Measurement: this plugin's values for the metrics endpoint (memory only, no I/O)."""


@hookspec
def aibridge_readiness(app):
    """Return a dict with ``name`` and ``ready`` (bool) and details for /readyz, from memory only; or None."""


@hookspec
def aibridge_migrations():
    """Return a list of aibridge.Migrations: the sets of this plugin's tables, for ``aibridge db`` commands."""


@hookspec
def aibridge_tools(interception):
    """Return a list of Tool to inject into this interception's upstream request."""


@hookspec(firstresult=True)
def aibridge_call_tool(interception, tool, arguments):
    """Run an injected Tool with the model's arguments; return a ToolResult, or None if not yours."""


@hookspec
def aibridge_startup(app, config):
    """The app was created: start background work (threads, sessions)."""


@hookspec
def aibridge_shutdown(app):
    """The server is stopping: stop background work and flush what is pending."""


@hookspec
def aibridge_reload(app, config):
    """The configuration was loaded again (SIGHUP): apply ``config`` to what you set up at startup."""


@hookspec
def aibridge_routes(app, config):
    """Add HTTP routes (Flask blueprints or view functions) to the app."""


@hookspec
def aibridge_commands(cli):
    """Add commands to the ``aibridge`` click group."""


@hookspec(historic=True)
def aibridge_add_hookspecs(pm):
    """Add this plugin's own hookspecs (``pm.add_hookspecs(module)``) so other plugins can implement them."""
