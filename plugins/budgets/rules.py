"""Which budget applies to whom: a person's own, else the highest of their groups' and the default.

Built from the store in the background and read on every request: lookups
only, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .money import usd_text


@dataclass(frozen=True)
class Budget:
    """A monthly budget in nano-dollars and where it comes from: ``scope`` user, group or default, and its name."""

    nanos: int
    scope: str
    name: str = ""

    def describe(self) -> str:
        """Whose budget, as the refusal and the notices say it."""
        if self.scope == "user":
            return f"the monthly budget of user {self.name}"
        if self.scope == "group":
            return f"the monthly budget of group {self.name}"
        return "the default monthly budget"

    @property
    def source(self) -> str:
        """``user``, ``group:eng`` or ``default``, as ``aibridge budgets list`` shows it."""
        return f"group:{self.name}" if self.scope == "group" else self.scope

    def __str__(self) -> str:
        return f"{usd_text(self.nanos)} ({self.source})"


@dataclass(frozen=True)
class Rules:
    """Every budget that is set, by person: ``own`` and ``from_groups`` (the highest of their groups') by user id."""

    own: dict[str, Budget] = field(default_factory=dict)
    from_groups: dict[str, Budget] = field(default_factory=dict)
    default: Budget | None = None

    @property
    def empty(self) -> bool:
        return not self.own and not self.from_groups and self.default is None

    def budget_for(self, user_id: str) -> Budget | None:
        """The budget that applies to ``user_id``, or None: nothing limits them."""
        own = self.own.get(user_id)
        if own is not None:
            return own  # a person's own budget overrides, higher or lower
        group, default = self.from_groups.get(user_id), self.default
        if group is None or default is None:
            return group or default
        return group if group.nanos >= default.nanos else default


def build_rules(budgets: list[dict], members: list[dict], usernames: dict[str, str]) -> Rules:
    """Rules from the store's rows: budgets (scope, subject_id, monthly_usd_nanos, name) and memberships
    (group_id, user_id); ``usernames`` by user id."""
    own: dict[str, Budget] = {}
    by_group: dict[str, Budget] = {}
    default = None
    for row in budgets:
        budget = Budget(int(row["monthly_usd_nanos"]), row["scope"],
                        usernames.get(row["subject_id"], row["subject_id"]) if row["scope"] == "user" else row["name"] or "")
        if row["scope"] == "user":
            own[row["subject_id"]] = budget
        elif row["scope"] == "group":
            by_group[row["subject_id"]] = budget
        else:
            default = budget
    from_groups: dict[str, Budget] = {}
    for member in members:
        budget = by_group.get(member["group_id"])
        if budget is None:
            continue
        known = from_groups.get(member["user_id"])
        # The highest wins; of equal ones, the group named first, so that the answer never changes between reads.
        if known is None or (budget.nanos, known.name) > (known.nanos, budget.name):
            from_groups[member["user_id"]] = budget
    return Rules(own, from_groups, default)
