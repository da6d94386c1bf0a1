"""The filter form of the sessions, requests and usage pages, read into the store's filter.

The fields are the audit API's filters under the names a person reads
(``person`` is ``initiator``, ``since`` / ``until`` the start-time bounds,
which take the CLI's times: ``7d``, ``2026-12-01``, RFC 3339). They are parsed
by the same code as the API's ``q`` (plugins/storage), so a value means the
same thing in both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..storage import BadParameter, InterceptionFilter, build_filter

# form field -> the filter key it sets
FIELDS = {"person": "initiator", "client": "client", "provider": "provider", "model": "model", "status": "status",
          "since": "started_after", "until": "started_before", "text": "text"}
_LABELS = {key: name for name, key in FIELDS.items()}


@dataclass
class PageFilter:
    """The form as filled in, the filter it makes, and what is wrong with it (then the filter matches nothing)."""

    form: dict[str, str] = field(default_factory=dict)
    where: InterceptionFilter | None = None
    error: str | None = None

    def query(self, **changes) -> dict[str, str]:
        """The form's values as URL parameters (for links to other pages and the next page), with ``changes``."""
        values = {name: value for name, value in self.form.items() if value}
        values.update({name: value for name, value in changes.items() if value is not None})
        return values


def read_filter(args, viewer, defaults: dict[str, str] | None = None) -> PageFilter:
    """The filter of a page's query string; a member's view is always limited to their own interceptions."""
    form = {name: (args.get(name) if name in args else (defaults or {}).get(name, "")) or "" for name in FIELDS}
    if not viewer.is_owner:
        form["person"] = ""
    values = {FIELDS[name]: value.strip() for name, value in form.items() if value.strip()}
    page = PageFilter(form)
    try:
        page.where = build_filter(values, viewer.id, viewer.is_owner)
    except BadParameter as error:
        page.error = describe(error)
    return page


def describe(error: BadParameter) -> str:
    """A filter error as the form names the field."""
    return f"{_LABELS.get(error.field, error.field).capitalize()}: {error.message}"
