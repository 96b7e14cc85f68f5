"""Where a notice leads, as a path of the member's pages (shared by the page and the API)."""
from __future__ import annotations

from flask import url_for
from werkzeug.routing import BuildError

from .service import Shown


def href(item: Shown) -> str | None:
    """The page a notice leads to; None when it leads nowhere or that page is not built."""
    if item.link is None:
        return None
    endpoint, args = item.link
    try:
        return url_for(endpoint, **args)
    except BuildError:
        return None
