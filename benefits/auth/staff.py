"""Staff accounts managed from the console: union admins (管理员), merchant cashiers (收银员) and
prize-counter pickup staff (核销员). Create, disable, enable, reset the password; each audited.

Who manages whom, once (`refusal`):
- a cashier belongs to a merchant, pickup staff to a union office: any admin whose subtree holds
  that merchant's union or that office manages them;
- an admin is managed only from above: by an admin of a union strictly above theirs. A county
  admin manages the admins of the grassroots unions below it, never another county admin, nor a
  city admin, nor their own account (their union's admins are managed by the city). So a
  grassroots admin creates no admin at all, and two admins of one union cannot lock each other
  out;
- nobody disables, enables or resets their own account here.
An account outside the admin's subtree is a 404, like every other object of the console.

A password reset either takes the password the admin typed or makes one up (shown once, on that
answer only); either way it must pass the password rules, and every session of the account ends.
"""
from __future__ import annotations

import secrets

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import joinedload

from ..audit import service as audit
from ..errors import Conflict, Forbidden, NotFound, ValidationError
from ..extensions import db
from ..inputs import row_id
from ..merchants import service as merchants
from ..merchants.models import Merchant, MerchantStaff, Store
from ..orgs.models import Organisation
from ..orgs.service import subtree_filter, subtree_ids_select
from . import passwords
from . import service as auth
from .models import User

STAFF_ROLES = ("admin", "merchant_staff", "pickup_staff")
# A made-up password: 12 letters and digits that cannot be misread (no 0/O, 1/l/I), in three
# groups of four, about 60 bits.
_ALPHABET = "abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY23456789"


def new_password() -> str:
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(3))


# --- reading -------------------------------------------------------------------------------------

def _in_scope(scope: Organisation):
    """SQL: the account is staff of `scope`'s subtree (an admin or pickup staff of a union in it, a
    cashier of a merchant of a union in it)."""
    subtree = subtree_ids_select(scope)
    cashier_here = exists().where(MerchantStaff.user_id == User.id, Merchant.id == MerchantStaff.merchant_id,
                                  Merchant.org_id.in_(subtree))
    return or_(and_(User.role.in_(("admin", "pickup_staff")), User.org_id.in_(subtree)),
               and_(User.role == "merchant_staff", cashier_here))


def staff_in_scope(scope: Organisation, *, role: str | None = None, enabled: bool | None = None,
                   q: str | None = None):
    """Staff accounts of the subtree, newest first; `q` matches the account or the name."""
    stmt = select(User).where(_in_scope(scope)).options(joinedload(User.org))
    if role:
        stmt = stmt.where(User.role == role)
    if enabled is not None:
        stmt = stmt.where(User.is_enabled.is_(enabled))
    if q and q.strip():
        q = q.strip()
        stmt = stmt.where(or_(User.username.contains(q, autoescape=True), User.display_name.contains(q, autoescape=True)))
    return stmt.order_by(User.id.desc())


def get_staff(scope: Organisation, user_id) -> User:
    user_id = row_id(user_id)
    user = db.session.scalar(select(User).where(User.id == user_id, _in_scope(scope))) if user_id else None
    if user is None:
        raise NotFound(_("没有这个账号。"))
    return user


def workplaces(users) -> dict[int, str]:
    """Where each account works, in words: its union, or its merchant (· store) for a cashier.
    One query for the cashiers of the whole list."""
    out = {u.id: u.org.name for u in users if u.org is not None}
    cashier_ids = [u.id for u in users if u.role == "merchant_staff"]
    if cashier_ids:
        rows = db.session.execute(
            select(MerchantStaff.user_id, Merchant.name, Store.name)
            .join(Merchant, Merchant.id == MerchantStaff.merchant_id)
            .outerjoin(Store, Store.id == MerchantStaff.store_id)
            .where(MerchantStaff.user_id.in_(cashier_ids)))
        out.update({uid: f"{merchant} · {store}" if store else merchant for uid, merchant, store in rows})
    return out


def home_org(user: User) -> Organisation:
    """The union an account belongs to: its own, or its merchant's for a cashier."""
    if user.role == "merchant_staff":
        return db.session.scalar(select(Organisation).join(Merchant, Merchant.org_id == Organisation.id)
                                 .join(MerchantStaff, MerchantStaff.merchant_id == Merchant.id)
                                 .where(MerchantStaff.user_id == user.id))
    return user.org


def refusal(actor: User, scope: Organisation, user: User) -> str | None:
    """Why `actor` (an admin of `scope`) may not change this account of their subtree, or None."""
    if user.id == actor.id:
        return "own_account"
    if user.role == "admin" and user.org_id == scope.id:
        return "same_union_admin"
    return None


_REFUSALS = {
    "own_account": _l("不能停用、启用或重置自己的账号。"),
    "same_union_admin": _l("本级工会的管理员由上级工会管理。"),
}


def _require_manageable(actor: User, scope: Organisation, user: User) -> None:
    reason = refusal(actor, scope, user)
    if reason:
        raise Forbidden(_REFUSALS[reason], code=reason)


# --- choices for the forms ----------------------------------------------------------------------

def offices(scope: Organisation) -> list[Organisation]:
    """Unions where pickup staff may work: the whole subtree."""
    return list(db.session.scalars(select(Organisation).where(subtree_filter(scope)).order_by(Organisation.path)))


def admin_unions(scope: Organisation) -> list[Organisation]:
    """Unions an admin of `scope` may create admins for: strictly below it."""
    return [org for org in offices(scope) if org.id != scope.id]


def merchants_in_scope(scope: Organisation) -> list[Merchant]:
    return list(db.session.scalars(select(Merchant).where(Merchant.org_id.in_(subtree_ids_select(scope)))
                                   .options(joinedload(Merchant.stores)).order_by(Merchant.name)).unique())


# --- operations ---------------------------------------------------------------------------------

def _field_error(field: str, message: str) -> ValidationError:
    return ValidationError(message, details={"fields": {field: message}})


def create_staff(actor: User, scope: Organisation, *, role: str, username: str, display_name: str,
                 password: str, org_id=None, merchant_id=None, store_id=None) -> User:
    """One new staff account inside the admin's union: an admin of a union below it, pickup staff
    of an office in it, or a cashier of a merchant in it (optionally tied to one store)."""
    username = (username or "").strip()
    if role == "merchant_staff":
        merchant = db.session.get(Merchant, row_id(merchant_id)) if row_id(merchant_id) else None
        if merchant is None or not scope.contains(merchant.org):
            raise _field_error("merchant_id", _("请选择您管辖范围内的商家。"))
        store = None
        if store_id not in (None, "", 0, "0"):
            store = db.session.get(Store, row_id(store_id)) if row_id(store_id) else None
            if store is None or store.merchant_id != merchant.id:
                raise _field_error("store_id", _("这个门店不属于所选商家。"))
        return merchants.create_cashier(actor, merchant, username=username, display_name=display_name,
                                        password=password, store=store)
    if role not in ("admin", "pickup_staff"):
        raise _field_error("role", _("请选择账号类型。"))
    org = db.session.get(Organisation, row_id(org_id)) if row_id(org_id) else None
    allowed = org is not None and scope.contains(org) and (role == "pickup_staff" or org.id != scope.id)
    if not allowed:
        raise _field_error("org_id", _("请选择下级工会。") if role == "admin" else _("请选择您管辖范围内的工会。"))
    return auth.create_staff_user(actor, username=username, display_name=display_name, password=password,
                                  role=role, org=org)


def set_staff_enabled(actor: User, scope: Organisation, user: User, enabled: bool) -> User:
    """Disable (signs the account out everywhere: it cannot sign in again) or enable again."""
    _require_manageable(actor, scope, user)
    if user.is_enabled == enabled:
        raise Conflict(_("该账号已是启用状态。") if enabled else _("该账号已停用。"),
                       code="already_enabled" if enabled else "already_disabled")
    return auth.set_enabled(actor, user, enabled, org_id=home_org(user).id)


def reset_password(actor: User, scope: Organisation, user: User, password: str | None = None) -> str:
    """The account's new password: the one typed, or one made up. Every session of the account
    ends; the password itself goes nowhere but the answer (the log says only that it was reset)."""
    _require_manageable(actor, scope, user)
    generated = not password
    password = password or new_password()
    auth.check_password_rules(password, user.username)
    user.password_hash = passwords.make_hash(password)
    auth.rotate_sessions(user)
    audit.record(actor, "user.password_reset", "user", user.id, org_id=home_org(user).id,
                 after={"generated": generated, "sessions_ended": True})
    return password
