"""Prize mall operations: prizes and pickup points (admin), redemption, cancellation, expiry,
pickup hand-over, approvals and reports. One function per operation, called by the API and the
pages alike; functions flush, never commit (the caller's unit of work does). Every limit is
enforced here in SQL with conditional updates and unique constraints; the Redis gate (gate.py)
only sheds the crowd in front of them, and its reservations live and die with the unit of work."""
from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import date, datetime, timedelta
from typing import Callable

from flask_babel import gettext as _
from sqlalchemy import Integer, String, bindparam, case, cast, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from .. import clock
from ..audit import service as audit
from ..auth.models import User
from ..errors import Conflict, Forbidden, NotAuthenticated, NotFound, ValidationError
from ..extensions import db
from ..idempotency import run_once
from ..members.models import CATEGORIES, Member
from ..notices import outbox
from ..notices.models import Notice
from ..merchants.models import MerchantStaff, Store
from ..orgs.models import Organisation
from ..orgs.service import subtree_ids_select
from ..periods import Period
from ..points import service as points
from . import categories, gate, schemas
from .models import (PickupPoint, Prize, PrizeCounter, PrizeImage, PrizeStock, Redemption,
                     StockChange)
from .rules import (MAX_COST, MAX_ID, MAX_STOCK, NotCancellable, PickupRefused, PrizeNotFound, RedemptionNotFound,
                    check_can_redeem, check_quantity, counter_outcome, delivery_contact, is_offered_to,
                    limits, pickup_point_for, refusal_error)

MAX_IMAGE_BYTES = 2 * 1024 * 1024
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10


def _get(model, row_id: int):
    """The row with this id, or None. An id beyond the column's range names no row: PostgreSQL
    would raise on it rather than find nothing, and an odd URL must not become a 500."""
    return db.session.get(model, row_id) if 0 < row_id <= MAX_ID else None


# --- pickup points ----------------------------------------------------------------------------

def create_pickup_point(actor, scope: Organisation, *, name: str, address: str = "",
                        office_org_id: int | None = None, store_id: int | None = None) -> PickupPoint:
    name = (name or "").strip()
    if not name or len(name) > 128:
        raise ValidationError(_("请填写领取点名称。"), details={"fields": {"name": _("1 到 128 个字")}})
    if (office_org_id is None) == (store_id is None):
        raise ValidationError(_("请选择一个工会办公室或一个商家门店。"),
                              details={"fields": {"office_org_id": _("工会办公室和门店只能选一个")}})
    if office_org_id is not None:
        office = _get(Organisation, office_org_id)
        if office is None or not scope.contains(office):
            raise NotFound(_("没有这个组织。"))
    else:
        store = _get(Store, store_id)
        if store is None or not scope.contains(store.merchant.org):
            raise NotFound(_("没有这个门店。"))
    point = PickupPoint(owner_org_id=scope.id, office_org_id=office_org_id, store_id=store_id,
                        name=name, address=(address or "").strip()[:255])
    db.session.add(point)
    db.session.flush()
    audit.record(actor, "pickup_point.create", "pickup_point", point.id, org_id=scope.id,
                 after={"name": point.name, "office_org_id": office_org_id, "store_id": store_id})
    return point


def pickup_points_in_scope(scope: Organisation):
    return (select(PickupPoint).where(PickupPoint.owner_org_id.in_(subtree_ids_select(scope)))
            .order_by(PickupPoint.id))


def _point_in_scope(scope: Organisation, point_id: int) -> PickupPoint:
    point = _get(PickupPoint, point_id)
    if point is None or not scope.contains(point.owner_org):
        raise NotFound(_("没有这个领取点。"), code="pickup_point_not_found")
    return point


def staff_points(user) -> list[PickupPoint]:
    """Pickup points this user hands prizes out at: pickup staff at their own union office's
    points (not the offices below it: each counter has its own staff), merchant staff at their
    merchant's stores. Nobody else, admins included: a code is checked only at its counter."""
    if user.role == "pickup_staff":
        return list(db.session.scalars(
            select(PickupPoint).where(PickupPoint.office_org_id == user.org_id).order_by(PickupPoint.id)))
    if user.role == "merchant_staff":
        merchant_id = db.session.scalar(select(MerchantStaff.merchant_id).where(MerchantStaff.user_id == user.id))
        if merchant_id is None:
            return []
        return list(db.session.scalars(
            select(PickupPoint).join(Store, Store.id == PickupPoint.store_id)
            .where(Store.merchant_id == merchant_id).order_by(PickupPoint.id)))
    return []


def staff_point(user, point_id: int) -> PickupPoint:
    for point in staff_points(user):
        if point.id == point_id:
            return point
    raise NotFound(_("没有这个领取点。"), code="pickup_point_not_found")


# --- prizes (admin) ---------------------------------------------------------------------------

def _int_field(errors: dict, data: dict, name: str, low: int, high: int, required: bool = False) -> int | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            errors[name] = _("必填")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        errors[name] = _("须为 %(low)s 到 %(high)s 的整数", low=low, high=high)
        return None
    return value


def _validated(scope: Organisation, data: dict, prize: Prize | None) -> dict:
    errors: dict[str, str] = {}
    out: dict = {}
    if "name" in data or prize is None:
        name = (data.get("name") or "").strip()
        if not name or len(name) > 128:
            errors["name"] = _("1 到 128 个字")
        out["name"] = name
    if "description" in data:
        out["description"] = (data.get("description") or "").strip()[:4000]
    if "cost_points" in data or prize is None:
        out["cost_points"] = _int_field(errors, data, "cost_points", 1, MAX_COST, required=True)
    for name in ("per_day_limit", "per_month_limit", "lifetime_limit", "daily_quota"):
        if name in data:
            out[name] = _int_field(errors, data, name, 1, 1_000_000)
    if "pickup_days" in data:
        out["pickup_days"] = _int_field(errors, data, "pickup_days", 1, 365, required=True)
    for name in ("opens_at", "closes_at"):
        if name in data:
            value = data.get(name)
            if value is not None and not isinstance(value, datetime):
                errors[name] = _("须为日期和时间")
            out[name] = clock.as_utc(value) if isinstance(value, datetime) else None
    opens = out.get("opens_at", prize.opens_at if prize else None)
    closes = out.get("closes_at", prize.closes_at if prize else None)
    if opens and closes and clock.as_utc(closes) <= clock.as_utc(opens):
        errors["closes_at"] = _("须晚于开始时间")
    if "eligible_org_id" in data and data["eligible_org_id"] is not None:
        org = _get(Organisation, data["eligible_org_id"])
        if org is None or not scope.contains(org):
            errors["eligible_org_id"] = _("不在您的管辖范围内")
        out["eligible_org_id"] = data["eligible_org_id"]
    if "eligible_categories" in data:
        cats = list(data.get("eligible_categories") or [])
        if any(c not in CATEGORIES for c in cats):
            errors["eligible_categories"] = _("会员类别不对")
        out["eligible_categories"] = ",".join(c for c in CATEGORIES if c in cats)
    if prize is None:
        fulfilment = data.get("fulfilment") or "pickup"
        if fulfilment not in ("pickup", "delivery"):
            errors["fulfilment"] = _("须为到点领取或配送")
        out["fulfilment"] = fulfilment
    if "category" in data or prize is None:
        category = data.get("category") or categories.DEFAULT_CATEGORY
        if category not in categories.CATEGORIES:
            errors["category"] = categories.invalid_message()
        out["category"] = category
    for name in ("high_value", "is_listed"):
        if name in data:
            out[name] = bool(data[name])
    if errors:
        raise ValidationError(_("有的项目没填或填得不对。"), details={"fields": errors})
    return out


def prize_snapshot(prize: Prize) -> dict:
    return {"name": prize.name, "cost_points": prize.cost_points, "stock": prize.stock,
            "per_day_limit": prize.per_day_limit, "per_month_limit": prize.per_month_limit,
            "lifetime_limit": prize.lifetime_limit, "daily_quota": prize.daily_quota,
            "opens_at": prize.opens_at.isoformat() if prize.opens_at else None,
            "closes_at": prize.closes_at.isoformat() if prize.closes_at else None,
            "eligible_org_id": prize.eligible_org_id, "eligible_categories": prize.eligible_categories,
            "fulfilment": prize.fulfilment, "high_value": prize.high_value, "is_listed": prize.is_listed,
            "category": prize.category}


def create_prize(actor, scope: Organisation, data: dict) -> Prize:
    """`data` as the admin schema loads it; pickup prizes take `allocations`
    [{pickup_point_id, stock}], delivery prizes a plain `stock`."""
    fields = _validated(scope, data, None)
    prize = Prize(org_id=scope.id, eligible_org_id=fields.pop("eligible_org_id", None) or scope.id, stock=0,
                  created_by_user_id=getattr(actor, "id", None), updated_by_user_id=getattr(actor, "id", None),
                  **fields)
    db.session.add(prize)
    db.session.flush()
    if prize.fulfilment == "pickup":
        allocations = data.get("allocations") or []
        if not allocations:
            raise ValidationError(_("到点领取的奖品至少需要一个领取点。"),
                                  details={"fields": {"allocations": _("至少一个领取点")}})
        for row in allocations:
            restock(actor, scope, prize, row.get("stock") or 0, row.get("pickup_point_id"), reason="initial",
                    allow_zero=True)
    else:
        restock(actor, scope, prize, data.get("stock") or 0, None, reason="initial", allow_zero=True)
    audit.record(actor, "prize.create", "prize", prize.id, org_id=prize.org_id, after=prize_snapshot(prize))
    gate.sync_after_commit(prize.id, members=False)
    return prize


def update_prize(actor, scope: Organisation, prize: Prize, data: dict) -> Prize:
    before = prize_snapshot(prize)
    fields = _validated(scope, data, prize)
    limit_fields = ("per_day_limit", "per_month_limit", "lifetime_limit", "daily_quota")
    limits_changed = any(k in fields and fields[k] != getattr(prize, k) for k in limit_fields)
    for name, value in fields.items():
        setattr(prize, name, value)
    prize.updated_by_user_id = getattr(actor, "id", None)
    db.session.flush()
    if limits_changed:
        rebuild_counters(prize)
    audit.record(actor, "prize.update", "prize", prize.id, org_id=prize.org_id, before=before,
                 after=prize_snapshot(prize))
    gate.sync_after_commit(prize.id, members=limits_changed)
    return prize


def restock(actor, scope: Organisation, prize: Prize, quantity, pickup_point_id: int | None, *,
            note: str = "", reason: str = "restock", allow_zero: bool = False) -> StockChange | None:
    """More stock (or, from `create_prize`, the initial stock); the Redis gate is rebuilt from
    SQL once the prize's change commits."""
    low = 0 if allow_zero else 1
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not low <= quantity <= MAX_STOCK:
        raise ValidationError(_("增加的库存须为整数。"),
                              details={"fields": {"stock": _("%(low)s 到 %(high)s", low=low, high=MAX_STOCK)}})
    if prize.fulfilment == "pickup":
        if pickup_point_id is None:
            raise ValidationError(_("请选择领取点。"), details={"fields": {"pickup_point_id": _("必填")}})
        point = _point_in_scope(scope, pickup_point_id)
        row = db.session.get(PrizeStock, (prize.id, point.id))
        if row is None:
            db.session.add(PrizeStock(prize_id=prize.id, pickup_point_id=point.id, stock=quantity))
        elif quantity:
            db.session.execute(update(PrizeStock).where(PrizeStock.prize_id == prize.id,
                                                        PrizeStock.pickup_point_id == point.id)
                               .values(stock=PrizeStock.stock + quantity)
                               .execution_options(synchronize_session=False))
    elif pickup_point_id is not None:
        raise ValidationError(_("配送的奖品没有领取点。"),
                              details={"fields": {"pickup_point_id": _("配送的奖品不用选")}})
    if quantity:
        db.session.execute(update(Prize).where(Prize.id == prize.id).values(stock=Prize.stock + quantity)
                           .execution_options(synchronize_session=False))
    change = None
    if quantity or reason == "initial":
        change = StockChange(prize_id=prize.id, pickup_point_id=pickup_point_id, delta=quantity, reason=reason,
                             note=(note or "")[:255], actor_user_id=getattr(actor, "id", None))
        db.session.add(change)
    db.session.flush()
    db.session.expire(prize)
    if reason == "restock":
        audit.record(actor, "prize.restock", "prize", prize.id, org_id=prize.org_id,
                     after={"added": quantity, "pickup_point_id": pickup_point_id, "stock": prize.stock})
        gate.sync_after_commit(prize.id, members=False)
    return change


_IMAGE_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF87a": "image/gif",
                b"GIF89a": "image/gif"}


def prize_image(image_id: int) -> PrizeImage | None:
    return _get(PrizeImage, image_id)


def sniff_image(data: bytes) -> str | None:
    for magic, content_type in _IMAGE_TYPES.items():
        if data.startswith(magic):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def set_image(actor, prize: Prize, data: bytes) -> PrizeImage:
    """Only PNG, JPEG, GIF or WebP (checked by content, not by name), at most 2 MB."""
    if not data:
        raise ValidationError(_("图片是空的。"), details={"fields": {"image": _("请选择图片")}})
    if len(data) > MAX_IMAGE_BYTES:
        raise ValidationError(_("图片超过 2 MB。"), code="image_too_large",
                              details={"fields": {"image": _("最大 2 MB")}})
    content_type = sniff_image(data)
    if content_type is None:
        raise ValidationError(_("图片须为 PNG、JPEG、GIF 或 WebP 格式。"), code="image_type",
                              details={"fields": {"image": _("PNG、JPEG、GIF 或 WebP")}})
    image = PrizeImage(content_type=content_type, data=data, sha256=hashlib.sha256(data).hexdigest())
    db.session.add(image)
    db.session.flush()
    prize.image_id = image.id
    db.session.flush()
    audit.record(actor, "prize.image", "prize", prize.id, org_id=prize.org_id,
                 after={"image_id": image.id, "bytes": len(data), "type": content_type})
    return image


def prizes_in_scope(scope: Organisation):
    return select(Prize).where(Prize.org_id.in_(subtree_ids_select(scope))).order_by(Prize.id.desc())


def prize_in_scope(scope: Organisation, prize_id: int) -> Prize:
    prize = _get(Prize, prize_id)
    if prize is None or not scope.contains(prize.org):
        raise PrizeNotFound(_("没有这个奖品。"))
    return prize


def rebuild_counters(prize: Prize) -> None:
    """Recount the SQL counters from the live redemptions (after limits change)."""
    db.session.execute(PrizeCounter.__table__.delete().where(PrizeCounter.prize_id == prize.id))
    live = select(Redemption).where(Redemption.prize_id == prize.id, Redemption.campaign_id.is_(None),
                                    Redemption.status.in_(("redeemed", "handed_over")))
    totals: dict[tuple[str, str], int] = {}
    for r in db.session.scalars(live):
        for subject, period, _limit in limits(prize, r.member_id, r.business_day):
            totals[(subject, period)] = totals.get((subject, period), 0) + r.quantity
    for (subject, period), count in totals.items():
        db.session.add(PrizeCounter(prize_id=prize.id, subject=subject, period=period, count=count))
    db.session.flush()



# --- the mall (members) -----------------------------------------------------------------------

def _offered_to_member():
    """Listed, for the member's union (a prize for a union above theirs too: the member's
    organisation path starts with the eligible union's) and for their category, with the member's
    path and category as bound parameters."""
    eligible = Organisation.__table__.alias("eligible")
    org_ok = Prize.eligible_org_id.in_(select(eligible.c.id).where(
        bindparam("org_path", type_=String).startswith(eligible.c.path)))
    category_ok = or_(Prize.eligible_categories == "",
                      ("," + Prize.eligible_categories + ",").contains("," + bindparam("category", type_=String) + ","))
    return Prize.is_listed.is_(True), org_ok, category_ok


_MALL_COLUMNS = (Prize.id, Prize.name, Prize.description, Prize.category, Prize.image_id, Prize.cost_points,
                 Prize.stock, Prize.fulfilment, Prize.high_value, Prize.opens_at, Prize.closes_at,
                 Prize.per_day_limit, Prize.per_month_limit, Prize.lifetime_limit)


def _mall_statements():
    """The mall's read, built once (its parameters bound per request): a page of the prizes
    offered to the member, cheapest first, carrying the count of them all (a window over the
    filtered prizes, taken before the LIMIT), each prize once per pickup point in order, so its
    points are the run of rows that share its id; and the count alone, for a page past the end."""
    offered = _offered_to_member()
    prizes = (select(*_MALL_COLUMNS, func.count().over().label("total")).where(*offered)
              .order_by(Prize.cost_points, Prize.id).limit(bindparam("limit")).offset(bindparam("offset"))
              .subquery("mall"))
    page = (select(prizes, PrizeStock.pickup_point_id, PickupPoint.name.label("point_name"),
                   PickupPoint.address.label("point_address"), PrizeStock.stock.label("point_stock"))
            .outerjoin(PrizeStock, PrizeStock.prize_id == prizes.c.id)
            .outerjoin(PickupPoint, PickupPoint.id == PrizeStock.pickup_point_id)
            .order_by(prizes.c.cost_points, prizes.c.id, PrizeStock.pickup_point_id))
    return page, select(func.count(Prize.id)).where(*offered)


_MALL_PAGE, _MALL_COUNT = _mall_statements()


def mall_page(member: Member, balance: int, page: int, per_page: int) -> tuple[list[dict], int]:
    """THE mall, for the API and the page alike: one page of the prizes offered to the member
    (listed, for their union and category), cheapest first, each as `schemas.mall_item`, and
    how many there are. Read as plain rows, not ORM objects, in one statement (`_MALL_PAGE`): it
    is the page a crowd reloads while a fridge is on offer. Only a page past the end, which has
    no row to carry the count, counts again."""
    member_args = {"org_path": member.org.path, "category": member.category}
    rows = db.session.execute(_MALL_PAGE, {**member_args, "limit": per_page,
                                           "offset": (page - 1) * per_page}).all()
    if not rows:
        return [], int(db.session.scalar(_MALL_COUNT, member_args) or 0) if page > 1 else 0
    at = clock.now()
    items: list[dict] = []
    for r in rows:
        if not items or items[-1]["id"] != r.id:
            items.append(schemas.mall_item(r, [], balance, at))
        if r.pickup_point_id is not None:
            items[-1]["pickup_points"].append({"pickup_point_id": r.pickup_point_id, "name": r.point_name,
                                               "address": r.point_address, "stock": r.point_stock})
    return items, int(rows[0].total)


def prize_for_member(member: Member, prize_id: int) -> Prize:
    """A prize offered to the member (else 404)."""
    prize = _get(Prize, prize_id)
    if prize is None or not is_offered_to(prize, member):
        raise PrizeNotFound(_("没有这个奖品。"))
    return prize


# --- redemption -------------------------------------------------------------------------------

def redeem_prize(prize_id: int, args: dict, idempotency_key: str | None, *, user_id: int | None,
                 signed_in: Callable[[], User]) -> dict:
    """THE redemption, for the API and the pages alike: the answer (`RedemptionOut`), 201.

    `args` as `schemas.RedeemArgs` loads them. `user_id` is the user the signed session names,
    known without the database, so the Redis gate answers first: a sold-out or over-the-limit
    request is refused before any SQL. (A session of a since-disabled account may so still hear
    "sold out", which the mall shows anyone.) Nothing is written before `signed_in()` has loaded
    the user through Flask-Login (session token, enabled) and found that same user.

    The gate's branches: a refusal raises the error SQL would raise; a reservation is given back
    if the caller's unit of work rolls back (`gate.reserve`) and confirmed by its commit; Redis
    unreachable, or cold (flushed, a new prize: its keys are rebuilt once this commits), leaves
    SQL to decide alone, which is always exact. The Idempotency-Key's branches (`run_once`): the
    same key and body replays the stored answer and gives back any reservation this request took
    (the first request's effect is the one that counts); the same key with another body is a 409."""
    if user_id is None:
        raise NotAuthenticated(_("请先登录。"))
    check_quantity(args["quantity"])
    reservation = gate.reserve(prize_id, user_id, args["quantity"], args["pickup_point_id"], idempotency_key)
    if reservation.refusal:
        raise refusal_error(reservation.refusal)
    rows = _read_for_redemption(user_id, prize_id)  # noqa: F841 - held while the objects are used
    user = signed_in()
    if not user.is_authenticated or user.id != user_id:
        raise NotAuthenticated(_("请先登录。"))
    if user.role != "member":
        raise Forbidden(_("只有会员可以兑换奖品。"))
    member = user.member
    prize = prize_for_member(member, prize_id)
    if reservation.cold:
        gate.sync_after_commit(prize_id, members=False, cold=True)
    request_key = f"u{user_id}:{idempotency_key or 'auto:' + uuid.uuid4().hex}"
    performed: list[bool] = []

    def operation() -> tuple[dict, int]:
        performed.append(True)
        return _redeem(member, prize, args, request_key, user_id), 201

    body, _status = run_once(f"prizes.redeem:{user_id}", idempotency_key, {"prize_id": prize_id, **args},
                             operation)
    if not performed:
        reservation.release()
    return body


# Everything a redemption reads, in one round trip: the user (Flask-Login's loader then finds it
# in the identity map and still checks its session token and that it is enabled), the member and
# organisation, the prize with its stock rows and their pickup points.
_READ_FOR_REDEMPTION = (
    select(User, Member, Organisation, Prize)
    .join(Member, Member.id == User.member_id)
    .join(Organisation, Organisation.id == Member.org_id)
    .join(Prize, Prize.id == bindparam("prize_id"))
    .where(User.id == bindparam("user_id"))
    .options(joinedload(Prize.stocks).joinedload(PrizeStock.pickup_point)))


def _read_for_redemption(user_id: int, prize_id: int) -> list:
    """The rows of `_READ_FOR_REDEMPTION`. The session's identity map holds objects weakly: keep
    the returned rows while they are used."""
    if not 0 < prize_id <= MAX_ID:
        return []
    return db.session.execute(_READ_FOR_REDEMPTION, {"user_id": user_id, "prize_id": prize_id}) \
        .unique().all()  # all(): a joined collection spans rows


_ANSWER = schemas.RedemptionOut()


def _redeem(member: Member, prize: Prize, args: dict, request_key: str, actor_user_id: int) -> dict:
    """The guarded write: the redemption row (unique request key, unique pickup code), the ledger
    debit (never below zero), the per-period counters (conditional upsert), the answer, then the
    stock (conditional update) — last, because the prize row is every redeemer's hot row and its
    lock is held from there to the commit. Lock order everywhere: the member's account, counters,
    prize, pickup point. Any refusal raises and the caller's unit of work rolls everything back."""
    at = clock.now()
    quantity = args["quantity"]
    check_can_redeem(member, prize, at)
    point_id = pickup_point_for(prize, args["pickup_point_id"])
    address, phone = delivery_contact(prize, args["delivery_address"], args["delivery_phone"])
    day = clock.business_day(at)
    redemption = Redemption(
        prize_id=prize.id, member_id=member.id, quantity=quantity, points_spent=prize.cost_points * quantity,
        fulfilment=prize.fulfilment, pickup_point_id=point_id,
        pickup_code=new_pickup_code() if point_id is not None else None,
        pickup_deadline=at + timedelta(days=prize.pickup_days) if point_id is not None else None,
        delivery_address=address, delivery_phone=phone, status="redeemed",
        approval="pending" if prize.high_value else "not_needed", business_day=day,
        idempotency_key=request_key, created_at=at)
    db.session.add(redemption)
    try:
        db.session.flush()
    except IntegrityError:
        raise Conflict(_("这笔兑换已提交过。"), code="duplicate_redemption") from None
    entry = points.debit(member.id, redemption.points_spent, source_key=f"prize-redeem:{redemption.id}",
                         reason=f"兑换奖品 {prize.name} ×{quantity}", actor_user_id=actor_user_id)
    _count(prize.id, limits(prize, member.id, day), quantity)
    answer = _ANSWER.dump(schemas.redemption_view(redemption, entry.balance_after))
    if redemption.approval == "not_needed":
        notify_pickup_ready(redemption)
    _take_stock(prize.id, point_id, quantity, at)
    return answer


# --- notices: a pickup ready, a pickup about to expire ------------------------------------------

PICKUP_REMINDER_HOURS = 48


def _pickup_params(r: Redemption) -> dict:
    """What a pickup notice says: the prize, where, until when — never the code (a bearer secret:
    the member reads it in the app)."""
    point = r.pickup_point
    place = f"{point.name}（{point.address}）" if point.address else point.name
    item = r.prize.name if r.quantity == 1 else f"{r.prize.name} ×{r.quantity}"
    return {"item": item, "place": place, "until": r.pickup_deadline, "redemption_id": r.id}


def notify_pickup_ready(r: Redemption) -> None:
    """The member's `pickup_ready` notice, in the caller's transaction: when a prize (or a
    festival gift) can be collected — at redemption, or at approval of a high-value prize."""
    if r.pickup_point_id is not None:
        outbox.enqueue(r.member_id, "pickup_ready", _pickup_params(r), f"pickup_ready:redemption:{r.id}")


def remind_expiring_pickups() -> int:
    """A `pickup_expiring` notice for each collectable redemption whose deadline is within
    PICKUP_REMINDER_HOURS, once each (its dedupe key). Returns how many were written."""
    at = clock.now()
    key = literal("pickup_expiring:redemption:", String) + cast(Redemption.id, String)
    due = db.session.scalars(select(Redemption).where(
        Redemption.status == "redeemed", Redemption.approval != "pending", Redemption.pickup_point_id.is_not(None),
        Redemption.pickup_deadline > at, Redemption.pickup_deadline <= at + timedelta(hours=PICKUP_REMINDER_HOURS),
        ~select(Notice.id).where(Notice.dedupe_key == key).exists())
        .options(joinedload(Redemption.prize), joinedload(Redemption.pickup_point)).order_by(Redemption.id)).all()
    for r in due:
        outbox.enqueue(r.member_id, "pickup_expiring", _pickup_params(r), f"pickup_expiring:redemption:{r.id}")
    return len(due)


def new_pickup_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _count(prize_id: int, rows: list[tuple[str, str, int]], quantity: int) -> None:
    """Every per-period counter of one redemption in one statement: a multi-row upsert whose
    update applies only under each row's own limit; a row missing from RETURNING was refused."""
    if not rows:
        return
    for subject, period, limit in rows:
        if quantity > limit:
            raise refusal_error(counter_outcome(subject, period))
    stmt = insert(PrizeCounter).values([{"prize_id": prize_id, "subject": subject, "period": period, "count": quantity}
                                        for subject, period, _limit in rows])
    excluded = stmt.excluded
    limit = case(*[((excluded.subject == subject) & (excluded.period == period), literal(lim))
                   for subject, period, lim in rows])
    stmt = stmt.on_conflict_do_update(index_elements=["prize_id", "subject", "period"],
                                      set_={"count": PrizeCounter.count + excluded.count},
                                      where=PrizeCounter.count + excluded.count <= limit) \
        .returning(PrizeCounter.subject, PrizeCounter.period)
    counted = {(row[0], row[1]) for row in db.session.execute(stmt)}
    for subject, period, _limit in rows:
        if (subject, period) not in counted:
            raise refusal_error(counter_outcome(subject, period))


def _uncount(prize_id: int, subject: str, period: str, quantity: int) -> None:
    db.session.execute(update(PrizeCounter).where(
        PrizeCounter.prize_id == prize_id, PrizeCounter.subject == subject, PrizeCounter.period == period,
        PrizeCounter.count >= quantity).values(count=PrizeCounter.count - quantity)
        .execution_options(synchronize_session=False))


_PRIZES, _STOCKS = Prize.__table__, PrizeStock.__table__
_Q = bindparam("take_q", type_=Integer)
_TAKEN = (update(_PRIZES).where(_PRIZES.c.id == bindparam("take_prize"), _PRIZES.c.stock >= _Q)
          .values(stock=_PRIZES.c.stock - _Q, updated_at=bindparam("take_at"))
          .returning(_PRIZES.c.id).cte("taken"))
_FROM_POINT = (update(_STOCKS).where(_STOCKS.c.prize_id.in_(select(_TAKEN.c.id)),
                                     _STOCKS.c.pickup_point_id == bindparam("take_point"), _STOCKS.c.stock >= _Q)
               .values(stock=_STOCKS.c.stock - _Q).returning(_STOCKS.c.prize_id).cte("from_point"))
# Both conditional decrements in one round trip: the point's row only once the prize's was taken
# (the same order as every other writer), each guarded by `stock >= q` and counted.
_TAKE_STOCK = select(select(func.count()).select_from(_TAKEN).scalar_subquery(),
                     select(func.count()).select_from(_FROM_POINT).scalar_subquery())


def _take_stock(prize_id: int, point_id: int | None, quantity: int, at) -> None:
    taken, from_point = db.session.execute(_TAKE_STOCK, {"take_q": quantity, "take_prize": prize_id,
                                                         "take_point": point_id, "take_at": at}).one()
    if taken != 1:
        raise refusal_error("sold_out")
    if point_id is not None and from_point != 1:
        raise refusal_error("point_sold_out")


def _close(redemption: Redemption, status: str, actor_user_id: int | None) -> Redemption:
    """Cancel, reject or expire a redemption not yet handed over: points, counters and stock come
    back in SQL (a conditional status update first, so only once), and in the Redis gate once
    that commits. The refund's one source key `prize-refund:<id>` is a second guard."""
    changed = db.session.execute(update(Redemption).where(
        Redemption.id == redemption.id, Redemption.status == "redeemed")
        .values(status=status, closed_at=clock.now()).execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        raise NotCancellable(_("此兑换已领取、取消或过期。"))
    if redemption.campaign_id is not None:
        # A festival gift (benefits/festival) spent no points, counted against no limit and took
        # its stock from its campaign, which is over by its pickup deadline: only the status moves.
        db.session.refresh(redemption)
        return redemption
    q = redemption.quantity
    what = "取消" if status == "cancelled" else "过期"
    points.credit(redemption.member_id, redemption.points_spent, kind="refund",
                  source_key=f"prize-refund:{redemption.id}",
                  reason=f"兑换{what}退回 {redemption.prize.name}", actor_user_id=actor_user_id)
    for subject, period, _limit in limits(redemption.prize, redemption.member_id, redemption.business_day):
        _uncount(redemption.prize_id, subject, period, q)
    db.session.execute(update(Prize).where(Prize.id == redemption.prize_id).values(stock=Prize.stock + q)
                       .execution_options(synchronize_session=False))
    if redemption.pickup_point_id is not None:
        db.session.execute(update(PrizeStock).where(
            PrizeStock.prize_id == redemption.prize_id, PrizeStock.pickup_point_id == redemption.pickup_point_id)
            .values(stock=PrizeStock.stock + q).execution_options(synchronize_session=False))
    gate.give_back(redemption.prize, redemption.member_id, q, redemption.pickup_point_id, redemption.business_day)
    db.session.refresh(redemption)
    db.session.expire(redemption.prize)
    return redemption


def own_redemption(member: Member, redemption_id: int) -> Redemption:
    r = _get(Redemption, redemption_id)
    if r is None or r.member_id != member.id:
        raise RedemptionNotFound(_("没有这条兑换记录。"))
    return r


def my_redemptions(member: Member):
    return select(Redemption).where(Redemption.member_id == member.id).order_by(Redemption.id.desc())


def cancel(member: Member, redemption_id: int, actor_user_id: int | None) -> Redemption:
    """A member cancels before pickup: the points and the stock come back. A festival gift is
    not cancelled: the member has had their one gift of the campaign."""
    r = own_redemption(member, redemption_id)
    if r.campaign_id is not None:
        raise NotCancellable(_("节日礼品领取后不能取消。"))
    return _close(r, "cancelled", actor_user_id)


def due_for_expiry(limit: int = 500) -> list[int]:
    return list(db.session.scalars(select(Redemption.id).where(
        Redemption.status == "redeemed", Redemption.pickup_deadline.is_not(None),
        Redemption.pickup_deadline <= clock.now()).order_by(Redemption.id).limit(limit)))


def expire(redemption_id: int) -> Redemption | None:
    """Expire one unclaimed redemption past its deadline; None if it was handed over or closed
    meanwhile. `flask prizes expire` runs each in a unit of work of its own."""
    r = _get(Redemption, redemption_id)
    if r is None or r.status != "redeemed" or r.pickup_deadline is None \
            or clock.as_utc(r.pickup_deadline) > clock.now():
        return None
    try:
        return _close(r, "expired", None)
    except NotCancellable:
        return None


# --- pickup -----------------------------------------------------------------------------------

def _normalise_code(code) -> str:
    code = "".join(str(code or "").split()).upper()
    if not code.isalnum() or not 4 <= len(code) <= 12:
        raise ValidationError(_("请输入核销码。"), details={"fields": {"code": _("会员手机上显示的核销码")}})
    return code


def find_for_pickup(user, point_id: int, code) -> Redemption:
    point = staff_point(user, point_id)
    code = _normalise_code(code)
    r = db.session.scalar(select(Redemption).where(Redemption.pickup_code == code))
    if r is None:
        raise NotFound(_("核销码无效。"), code="pickup_code_unknown")
    if r.pickup_point_id != point.id:
        raise PickupRefused(_("此核销码不属于本领取点。"),
                            code="pickup_code_other_point")
    if r.status == "handed_over":
        raise PickupRefused(_("此核销码已使用。"), code="pickup_code_used")
    if r.status == "cancelled":
        raise PickupRefused(_("此兑换已取消。"), code="pickup_code_cancelled")
    if r.status == "expired" or clock.as_utc(r.pickup_deadline) <= clock.now():
        raise PickupRefused(_("此核销码已过期。"), code="pickup_code_expired")
    return r


def hand_over(user, point_id: int, code) -> Redemption:
    r = find_for_pickup(user, point_id, code)
    if r.approval == "pending":
        raise PickupRefused(_("贵重奖品尚待第二位管理员审批。"),
                            code="awaiting_approval")
    return _mark_handed_over(user, r, Redemption.pickup_deadline > clock.now())


def _mark_handed_over(user, r: Redemption, *conditions) -> Redemption:
    changed = db.session.execute(update(Redemption).where(
        Redemption.id == r.id, Redemption.status == "redeemed", Redemption.approval != "pending", *conditions)
        .values(status="handed_over", closed_at=clock.now(), handed_over_by_user_id=user.id)
        .execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        raise PickupRefused(_("此核销码已使用。"), code="pickup_code_used")
    db.session.refresh(r)
    audit.record(user, "redemption.hand_over", "redemption", r.id, org_id=r.prize.org_id,
                 after={"prize_id": r.prize_id, "quantity": r.quantity, "pickup_point_id": r.pickup_point_id})
    return r


# --- admin: approvals, delivery, reports -------------------------------------------------------

def redemption_in_scope(scope: Organisation, redemption_id: int) -> Redemption:
    r = _get(Redemption, redemption_id)
    if r is None or not scope.contains(r.prize.org):
        raise RedemptionNotFound(_("没有这条兑换记录。"))
    return r


def _second_admin(actor, r: Redemption) -> None:
    if actor.id in (r.prize.created_by_user_id, r.prize.updated_by_user_id):
        raise Forbidden(_("贵重奖品须由另一位管理员审批。"),
                        code="second_admin_required")


def approve(actor, scope: Organisation, redemption_id: int) -> Redemption:
    r = redemption_in_scope(scope, redemption_id)
    _second_admin(actor, r)
    changed = db.session.execute(update(Redemption).where(
        Redemption.id == r.id, Redemption.approval == "pending", Redemption.status == "redeemed")
        .values(approval="approved", approved_by_user_id=actor.id)
        .execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        raise Conflict(_("这条兑换不在待审批状态。"), code="not_pending")
    db.session.refresh(r)
    notify_pickup_ready(r)
    audit.record(actor, "redemption.approve", "redemption", r.id, org_id=r.prize.org_id,
                 after={"prize_id": r.prize_id, "member_id": r.member_id})
    return r


def reject(actor, scope: Organisation, redemption_id: int) -> Redemption:
    r = redemption_in_scope(scope, redemption_id)
    _second_admin(actor, r)
    if r.approval != "pending":
        raise Conflict(_("这条兑换不在待审批状态。"), code="not_pending")
    _close(r, "cancelled", actor.id)
    audit.record(actor, "redemption.reject", "redemption", r.id, org_id=r.prize.org_id,
                 after={"prize_id": r.prize_id, "member_id": r.member_id, "refunded": r.points_spent})
    return r


def mark_delivered(actor, scope: Organisation, redemption_id: int) -> Redemption:
    r = redemption_in_scope(scope, redemption_id)
    if r.fulfilment != "delivery":
        raise Conflict(_("到点领取的奖品凭核销码领取。"), code="not_delivery")
    if r.approval == "pending":
        raise PickupRefused(_("贵重奖品尚待第二位管理员审批。"),
                            code="awaiting_approval")
    return _mark_handed_over(actor, r)


def redemptions_in_scope(scope: Organisation, prize_id: int | None = None, status: str | None = None,
                         approval: str | None = None):
    # festival gifts are listed by their campaign (benefits/festival), with addresses masked
    stmt = (select(Redemption).join(Prize, Prize.id == Redemption.prize_id)
            .where(Prize.org_id.in_(subtree_ids_select(scope)), Redemption.campaign_id.is_(None)))
    if prize_id is not None:
        stmt = stmt.where(Redemption.prize_id == prize_id)
    if status:
        stmt = stmt.where(Redemption.status == status)
    if approval:
        stmt = stmt.where(Redemption.approval == approval, Redemption.status == "redeemed")
    return stmt.order_by(Redemption.id.desc())


def report(prize: Prize) -> dict:
    rows = dict(db.session.execute(select(Redemption.status, func.sum(Redemption.quantity))
                                   .where(Redemption.prize_id == prize.id, Redemption.campaign_id.is_(None))
                                   .group_by(Redemption.status)).all())
    counts = {s: int(rows.get(s) or 0) for s in ("redeemed", "handed_over", "cancelled", "expired")}
    return {"prize_id": prize.id, "redeemed": sum(counts.values()), "awaiting": counts["redeemed"],
            "handed_over": counts["handed_over"], "cancelled": counts["cancelled"], "expired": counts["expired"],
            "stock_left": prize.stock,
            "stock_by_point": [{"pickup_point_id": s.pickup_point_id, "name": s.pickup_point.name,
                                "stock": s.stock} for s in prize.stocks]}


_KEPT = ("redeemed", "handed_over")        # a redemption not cancelled nor expired
LOW_STOCK = 10                             # a listed prize with this many left or fewer is running low


def daily_report(prize: Prize, period: Period) -> list[dict]:
    """Units of the prize redeemed on each day of the period (China days, zeros included), net
    of cancellations and expiries (whose points and stock came back), with those beside them,
    and the points the kept redemptions spent."""
    r = Redemption
    kept = r.status.in_(_KEPT)
    found = {row[0]: row[1:] for row in db.session.execute(
        select(r.business_day, func.coalesce(func.sum(r.quantity).filter(kept), 0),
               func.coalesce(func.sum(r.quantity).filter(~kept), 0),
               func.coalesce(func.sum(r.points_spent).filter(kept), 0))
        .where(r.prize_id == prize.id, r.campaign_id.is_(None), r.business_day >= period.start,
               r.business_day <= period.end)
        .group_by(r.business_day))}
    return [{"day": day, **dict(zip(("units", "returned_units", "points"), (int(v) for v in found.get(day, (0, 0, 0)))))}
            for day in period.days]


def redemption_overview(scope: Organisation, today: date) -> dict:
    """For the console: units of the subtree's prizes redeemed today (net of those already
    cancelled), redemptions waiting at a pickup point, and high-value ones waiting for approval.
    One statement; festival gifts are their campaign's."""
    r = Redemption
    row = db.session.execute(
        select(func.coalesce(func.sum(r.quantity).filter(r.business_day == today, r.status.in_(_KEPT)), 0),
               func.count().filter(r.status == "redeemed", r.fulfilment == "pickup", r.approval != "pending"),
               func.count().filter(r.status == "redeemed", r.approval == "pending"))
        .where(r.prize_id.in_(select(Prize.id).where(Prize.org_id.in_(subtree_ids_select(scope)))),
               r.campaign_id.is_(None), or_(r.business_day == today, r.status == "redeemed"))).one()
    return {"today_units": int(row[0]), "awaiting_pickup": int(row[1]), "awaiting_approval": int(row[2])}


def low_stock(scope: Organisation, limit: int = 10) -> list[Prize]:
    """Listed prizes of the subtree, not closed, with LOW_STOCK units or fewer left, fewest first."""
    at = clock.now()
    return list(db.session.scalars(
        select(Prize).where(Prize.org_id.in_(subtree_ids_select(scope)), Prize.is_listed.is_(True),
                            Prize.stock <= LOW_STOCK, or_(Prize.closes_at.is_(None), Prize.closes_at > at))
        .order_by(Prize.stock, Prize.id).limit(limit)))


def stock_history(prize: Prize, limit: int = 300) -> list[dict]:
    """Every stock change, newest first: admin changes plus each redemption and its return."""
    events = [{"at": clock.as_utc(c.created_at), "delta": c.delta, "reason": c.reason, "note": c.note,
               "pickup_point_id": c.pickup_point_id, "redemption_id": None}
              for c in db.session.scalars(select(StockChange).where(StockChange.prize_id == prize.id)
                                          .order_by(StockChange.id.desc()).limit(limit))]
    for r in db.session.scalars(select(Redemption).where(Redemption.prize_id == prize.id,
                                                         Redemption.campaign_id.is_(None))
                                .order_by(Redemption.id.desc()).limit(limit)):
        events.append({"at": clock.as_utc(r.created_at), "delta": -r.quantity, "reason": "redeem", "note": "",
                       "pickup_point_id": r.pickup_point_id, "redemption_id": r.id})
        if r.status in ("cancelled", "expired"):
            events.append({"at": clock.as_utc(r.closed_at), "delta": r.quantity, "reason": "cancel" if r.status == "cancelled" else "expire",
                           "note": "", "pickup_point_id": r.pickup_point_id, "redemption_id": r.id})
    events.sort(key=lambda e: e["at"], reverse=True)
    return events[:limit]

