"""Monthly budgets per person, group and default, enforced before a request goes upstream (docs/cost.md#budgets)."""
