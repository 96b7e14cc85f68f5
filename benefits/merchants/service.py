"""Partner merchants (普惠商家): onboarding by a union admin, stores, cashiers and terminal keys.

Every change is scoped to the admin's union subtree and written to the audit log.
"""
from __future__ import annotations

import hashlib
import secrets

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from .. import clock
from ..audit import service as audit
from ..auth import service as auth
from ..auth.models import User
from ..errors import Conflict, Forbidden, NotAuthenticated, NotFound, ValidationError
from ..extensions import db
from ..orgs.models import Organisation
from ..orgs.service import subtree_ids_select
from ..pii import mask_phone, normalise_phone
from .models import CATEGORIES, STATUSES, Merchant, MerchantStaff, Store, TerminalKey

KEY_PREFIX = "tk_"


def _snapshot(merchant: Merchant) -> dict:
    return {"name": merchant.name, "category": merchant.category, "status": merchant.status,
            "org_id": merchant.org_id, "contact_name": merchant.contact_name,
            "contact_phone": mask_phone(merchant.contact_phone),
            "accepts_card_number": merchant.accepts_card_number}


def _clean_fields(name, category, status, contact_name, contact_phone) -> dict:
    errors: dict[str, str] = {}
    name = (name or "").strip()
    if not name or len(name) > 128:
        errors["name"] = _("请填写名称（最多 128 个字）。")
    if category not in CATEGORIES:
        errors["category"] = _("商家类别不对。")
    if status not in STATUSES:
        errors["status"] = _("合作状态不对。")
    contact_name = (contact_name or "").strip() or None
    if contact_name and len(contact_name) > 64:
        errors["contact_name"] = _("最多 64 个字。")
    try:
        contact_phone = normalise_phone(contact_phone)
    except ValueError as exc:
        errors["contact_phone"] = str(exc)
    if errors:
        raise ValidationError(_("商家信息有误。"), details={"fields": errors})
    return {"name": name, "category": category, "status": status, "contact_name": contact_name,
            "contact_phone": contact_phone}


def create_merchant(actor, scope: Organisation, org: Organisation, *, name: str, category: str,
                    contact_name: str | None = None, contact_phone: str | None = None,
                    accepts_card_number: bool = True, status: str = "active") -> Merchant:
    if not scope.contains(org):
        raise NotFound(_("没有这个组织。"))
    fields = _clean_fields(name, category, status, contact_name, contact_phone)
    merchant = Merchant(org_id=org.id, accepts_card_number=bool(accepts_card_number), **fields)
    db.session.add(merchant)
    db.session.flush()
    audit.record(actor, "merchant.create", "merchant", merchant.id, org_id=org.id, after=_snapshot(merchant))
    return merchant


def update_merchant(actor, merchant: Merchant, *, name: str, category: str, status: str,
                    contact_name: str | None, contact_phone: str | None,
                    accepts_card_number: bool) -> Merchant:
    fields = _clean_fields(name, category, status, contact_name, contact_phone)
    before = _snapshot(merchant)
    for attr, value in fields.items():
        setattr(merchant, attr, value)
    merchant.accepts_card_number = bool(accepts_card_number)
    db.session.flush()
    audit.record(actor, "merchant.update", "merchant", merchant.id, org_id=merchant.org_id,
                 before=before, after=_snapshot(merchant))
    return merchant


def merchants_in_scope(scope: Organisation, *, q: str | None = None, status: str | None = None,
                       category: str | None = None):
    stmt = select(Merchant).where(Merchant.org_id.in_(subtree_ids_select(scope)))
    if q and q.strip():
        stmt = stmt.where(Merchant.name.contains(q.strip(), autoescape=True))
    if status:
        stmt = stmt.where(Merchant.status == status)
    if category:
        stmt = stmt.where(Merchant.category == category)
    return stmt.order_by(Merchant.id)


def get_merchant_in_scope(scope: Organisation, merchant_id: int) -> Merchant:
    merchant = db.session.get(Merchant, merchant_id)
    if merchant is None or not scope.contains(merchant.org):
        raise NotFound(_("没有这个商家。"))
    return merchant


def get_store(merchant: Merchant, store_id: int) -> Store:
    store = db.session.get(Store, store_id)
    if store is None or store.merchant_id != merchant.id:
        raise NotFound(_("没有这个门店。"))
    return store


def add_store(actor, merchant: Merchant, *, name: str, address: str = "") -> Store:
    name, address = (name or "").strip(), (address or "").strip()
    errors = {}
    if not name or len(name) > 128:
        errors["name"] = _("请填写门店名称（最多 128 个字）。")
    if len(address) > 255:
        errors["address"] = _("最多 255 个字。")
    if errors:
        raise ValidationError(_("门店信息有误。"), details={"fields": errors})
    store = Store(merchant_id=merchant.id, name=name, address=address, is_open=True)
    db.session.add(store)
    db.session.flush()
    audit.record(actor, "store.create", "store", store.id, org_id=merchant.org_id,
                 after={"merchant_id": merchant.id, "name": name, "address": address})
    return store


def set_store_open(actor, store: Store, is_open: bool) -> Store:
    before = {"is_open": store.is_open}
    store.is_open = bool(is_open)
    db.session.flush()
    audit.record(actor, "store.update", "store", store.id, org_id=store.merchant.org_id,
                 before=before, after={"is_open": store.is_open})
    return store


def create_cashier(actor, merchant: Merchant, *, username: str, display_name: str, password: str,
                   store: Store | None = None) -> User:
    """A merchant_staff sign-in account tied to this merchant (and optionally one store)."""
    username = (username or "").strip()
    if not username or len(username) > 64:
        raise ValidationError(_("请填写登录账号（最多 64 位）。"),
                              details={"fields": {"username": _("必填，最多 64 位")}})
    if store is not None and store.merchant_id != merchant.id:
        raise NotFound(_("没有这个门店。"))
    user = auth.create_staff_user(actor, username=username, display_name=(display_name or username)[:64],
                                  password=password, role="merchant_staff")
    db.session.add(MerchantStaff(user_id=user.id, merchant_id=merchant.id,
                                 store_id=store.id if store else None))
    db.session.flush()
    audit.record(actor, "merchant.cashier_create", "user", user.id, org_id=merchant.org_id,
                 after={"username": username, "merchant_id": merchant.id,
                        "store_id": store.id if store else None})
    return user


def staff_of(merchant: Merchant) -> list[tuple[User, MerchantStaff]]:
    return list(db.session.execute(
        select(User, MerchantStaff).join(MerchantStaff, MerchantStaff.user_id == User.id)
        .where(MerchantStaff.merchant_id == merchant.id).order_by(User.id)).all())


def staff_link(user) -> MerchantStaff:
    link = db.session.get(MerchantStaff, user.id) if user.role == "merchant_staff" else None
    if link is None:
        raise Forbidden(_("这个账号不是商家收银员。"))
    return link


def _hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_terminal_key(actor, store: Store, label: str = "") -> tuple[TerminalKey, str]:
    """A new key for a store's till. The plain key is returned once and never stored."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = TerminalKey(store_id=store.id, label=(label or "").strip()[:64], key_hash=_hash_key(key),
                      key_prefix=key[:10], created_by_user_id=getattr(actor, "id", None))
    db.session.add(row)
    db.session.flush()
    audit.record(actor, "terminal_key.issue", "terminal_key", row.id, org_id=store.merchant.org_id,
                 after={"store_id": store.id, "label": row.label, "prefix": row.key_prefix})
    return row, key


def revoke_terminal_key(actor, key: TerminalKey) -> TerminalKey:
    if key.revoked_at is not None:
        raise Conflict(_("这个密钥已经吊销。"), code="key_revoked")
    key.revoked_at = clock.now()
    db.session.flush()
    audit.record(actor, "terminal_key.revoke", "terminal_key", key.id, org_id=key.store.merchant.org_id,
                 before={"prefix": key.key_prefix}, after={"revoked": True})
    return key


def get_terminal_key(merchant: Merchant, key_id: int) -> TerminalKey:
    key = db.session.get(TerminalKey, key_id)
    if key is None or key.store.merchant_id != merchant.id:
        raise NotFound(_("没有这个终端密钥。"))
    return key


def terminal_keys_of(merchant: Merchant) -> list[TerminalKey]:
    return list(db.session.scalars(
        select(TerminalKey).join(Store).where(Store.merchant_id == merchant.id).order_by(TerminalKey.id)))


def hash_terminal_key(key: str) -> str:
    return _hash_key(key.strip())


def invalid_terminal_key() -> NotAuthenticated:
    return NotAuthenticated(_("终端密钥无效或已吊销。"),
                            code="invalid_terminal_key")


def authenticate_terminal(key: str) -> TerminalKey:
    """The live key for this plain key, or 401."""
    # One query for the key, its store, merchant and owning union: every till request needs them.
    row = db.session.scalar(select(TerminalKey).where(TerminalKey.key_hash == hash_terminal_key(key))
                            .options(joinedload(TerminalKey.store).joinedload(Store.merchant).joinedload(Merchant.org)))
    if row is None or row.revoked_at is not None:
        raise invalid_terminal_key()
    return row


def check_can_trade(merchant: Merchant, store: Store) -> None:
    if merchant.status != "active":
        raise Forbidden(_("商家已暂停或终止合作，不能收款。"),
                        code="merchant_inactive")
    if not store.is_open:
        raise Forbidden(_("门店已停用。"), code="store_closed")


def programme_merchants(org: Organisation):
    """Active merchants in a member's programme: owned by their union or any union above it."""
    ancestor_ids = [int(p) for p in org.path.strip("/").split("/") if p]
    return (select(Merchant).where(Merchant.org_id.in_(ancestor_ids), Merchant.status == "active")
            .order_by(Merchant.category, Merchant.id))
