"""The hook the budgets plugin adds for other plugins: its groups, budgets and each person's spend, to show and change.

Added to the plugin manager by the plugin's ``aibridge_add_hookspecs``. The
dashboard's "Groups and budgets" page calls it; a plugin calling it should
first check that the hook exists (``hasattr(aibridge.hooks(), "aibridge_budgets_admin")``):
it does not when the budgets plugin is disabled.
"""

import aibridge


@aibridge.hookspec(firstresult=True)
def aibridge_budgets_admin(app):
    """Return the budgets of ``app``'s gateway (a BudgetsAdmin: its methods read and write the database, so call
    them off the gevent hub), or None when they are not running."""
