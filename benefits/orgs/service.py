"""Organisation tree: creation, subtree queries and the admin scope rule."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import Select, case, func, select

from ..errors import NotFound, ValidationError
from ..extensions import db
from ..inputs import row_id
from .models import LEVELS, Organisation

_CHILD_LEVEL = {"province": "city", "city": "county", "county": "grassroots"}


def create_org(code: str, name: str, level: str, parent: Organisation | None) -> Organisation:
    if level not in LEVELS:
        raise ValidationError(_("组织级别须为省、市、县或基层。"))
    if parent is None and level != "province":
        raise ValidationError(_("只有省级工会没有上级。"))
    if parent is not None and LEVELS.index(level) <= LEVELS.index(parent.level):
        raise ValidationError(_("组织级别须低于上级组织。"))
    if db.session.scalar(select(Organisation.id).where(Organisation.code == code)):
        raise ValidationError(_("组织代码 %(code)s 已存在。", code=code), details={"code": code})
    org = Organisation(code=code, name=name, level=level, parent=parent)
    db.session.add(org)
    db.session.flush()
    org.path = (parent.path if parent else "/") + f"{org.id}/"
    db.session.flush()
    return org


def subtree_filter(org: Organisation):
    """SQL condition: organisation is `org` or below it."""
    return Organisation.path.startswith(org.path, autoescape=True)


def subtree_ids_select(org: Organisation) -> Select:
    return select(Organisation.id).where(subtree_filter(org))


def get_in_scope(scope: Organisation, org_id: int) -> Organisation:
    """The organisation if it is inside `scope`, else NotFound (we don't reveal it exists). Pages
    pass what a query string held: None or an id beyond 32 bits names no organisation."""
    org = db.session.get(Organisation, org_id) if row_id(org_id) else None
    if org is None or not scope.contains(org):
        raise NotFound(_("没有这个组织。"))
    return org


def get_by_code(code: str) -> Organisation | None:
    return db.session.scalar(select(Organisation).where(Organisation.code == code))


def children(org: Organisation) -> list[Organisation]:
    return list(db.session.scalars(
        select(Organisation).where(Organisation.parent_id == org.id).order_by(Organisation.code)))


SEARCH_LIMIT = 20


def search(scope: Organisation, text: str, limit: int = SEARCH_LIMIT) -> list[Organisation]:
    """Organisations inside `scope` whose name or code holds `text` (the organisation picker):
    exact code first, then the higher levels, then by code."""
    text = text.strip()
    if not text:
        return []
    like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    level_rank = case({level: rank for rank, level in enumerate(LEVELS)}, value=Organisation.level)
    return list(db.session.scalars(
        select(Organisation).where(subtree_filter(scope),
                                   Organisation.name.ilike(like, escape="\\") | Organisation.code.ilike(like, escape="\\"))
        .order_by((Organisation.code != text), level_rank, Organisation.code).limit(limit)))


def child_counts(org: Organisation) -> dict[int, int]:
    """Number of direct children of each child of `org` (for an expandable tree)."""
    child = Organisation.__table__.alias("child")
    rows = db.session.execute(
        select(Organisation.id, func.count(child.c.id))
        .join(child, child.c.parent_id == Organisation.id)
        .where(Organisation.parent_id == org.id)
        .group_by(Organisation.id))
    return {org_id: n for org_id, n in rows}


def ancestors(org: Organisation) -> list[Organisation]:
    ids = [int(p) for p in org.path.strip("/").split("/") if p]
    found = {o.id: o for o in db.session.scalars(select(Organisation).where(Organisation.id.in_(ids)))}
    return [found[i] for i in ids if i in found]
