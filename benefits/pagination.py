"""Page through a query with a total count: {"items", "page", "per_page", "total"}."""
from __future__ import annotations

from flask import request
from marshmallow import Schema, fields, validate
from sqlalchemy import func, select

from .extensions import db
from .inputs import Integer, whole_number

MAX_PAGE = 100_000


class PageArgs(Schema):
    page = Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = Integer(load_default=50, validate=validate.Range(min=1, max=200))


def page_number(values=None) -> int:
    """The `page` argument of a page (HTML) view: from the query string, or from `values` (a
    form's). 1 to MAX_PAGE; anything else (not a whole number, below 1, too big for the
    database's offset) is read as page 1 or the last."""
    values = request.args if values is None else values
    return max(1, min(values.get("page", 1, type=whole_number) or 1, MAX_PAGE))


def paginate(stmt, page: int, per_page: int) -> tuple[list, int]:
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    items = db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    return list(items), int(total or 0)


def page_schema(item_schema_cls, name: str):
    """A marshmallow schema for one page of `item_schema_cls`."""
    return type(name, (Schema,), {
        "items": fields.List(fields.Nested(item_schema_cls)),
        "page": fields.Integer(),
        "per_page": fields.Integer(),
        "total": fields.Integer(),
    })
