"""Page through a query with a total count: {"items", "page", "per_page", "total"}."""
from __future__ import annotations

from marshmallow import Schema, fields, validate
from sqlalchemy import func, select

from .extensions import db
from .inputs import Integer


class PageArgs(Schema):
    page = Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = Integer(load_default=50, validate=validate.Range(min=1, max=200))


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
