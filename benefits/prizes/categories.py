"""Prize categories (品类): the short, fixed list an admin files a prize under, each with its name
and the placeholder picture a prize of that category shows until a picture is uploaded.

This is the one home of the list: the column's CHECK constraint (models.py), the admin form, the
API's allowed values, the audit log's words and the placeholders all read it from here.
"""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

# code → Chinese name, in the order a select lists them. The names are the message ids (English
# in benefits/prizes/translations).
NAMES = {
    "appliances": "家电",
    "food": "粮油食品",
    "household": "日用百货",
    "digital": "数码",
    "books_sports": "图书文体",
    "gift_cards": "卡券",
    "other": "其他",
}
CATEGORIES = tuple(NAMES)
DEFAULT_CATEGORY = "other"
LABELS = {code: _l(name) for code, name in NAMES.items()}   # in the page's language


def label(category: str):
    return LABELS.get(category, category)


def choices() -> list[tuple[str, object]]:
    """(code, name) in the list's order, for a select."""
    return [(c, LABELS[c]) for c in CATEGORIES]


def invalid_message() -> str:
    """What an admin reads when a category is not one of the list (in their language)."""
    names = _("、").join(str(LABELS[c]) for c in CATEGORIES)   # the list separator: ", " in English
    return _("品类须为以下之一：%(names)s", names=names)


def placeholder(category: str) -> str:
    """The placeholder picture of a category, a file under static/ (one hand-drawn SVG each)."""
    return f"prizes/{category}.svg"
