"""A filtered list page (sessions, requests): the filter form, one page read off the hub, the error if any."""

from __future__ import annotations

from flask import g, render_template, request

from ..storage import BadParameter, UnknownInitiator
from .offhub import read_off_hub
from .page_filters import describe, read_filter

PAGE_SIZE = 50


def listing_page(template: str, title: str, read):
    """Render ``template`` with ``read(conn, where, PAGE_SIZE, after)``'s page; 400 with the reason on a bad filter."""
    page = read_filter(request.args, g.viewer)
    after = request.args.get("after") or None
    data, error = None, page.error
    if page.where is not None:
        try:
            data = read_off_hub(read, page.where, PAGE_SIZE, after)
        except (UnknownInitiator, BadParameter) as problem:
            error = describe(problem)
    html = render_template(template, title=title, page=page, data=data, error=error, after=after)
    return html, 400 if error else 200
