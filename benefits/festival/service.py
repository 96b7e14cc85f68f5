"""Festival gift campaigns (节日福利): set-up (admin), the member's one claim, reports. One
function per operation, called by the API and the pages alike; functions flush, never commit.

A claim is a prize redemption (`prizes.models.Redemption`) that cost no points and names its
campaign, so the pickup code, its check and the hand-over at the counter are the prize mall's
own (`prizes.service.find_for_pickup` / `hand_over`; delivery: `mark_delivered`). Exactness
lives in SQL: UNIQUE (campaign_id, member_id) on the redemptions (one gift per member) and a
guarded `stock >= 1` UPDATE of the gift row (no oversell). The Redis gate (gate.py) answers the
opening crowd's "already claimed" and "sold out" first; its reservations live and die with the
unit of work.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Callable

from sqlalchemy import Integer, and_, bindparam, func, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from .. import clock
from ..audit import service as audit
from ..auth.models import User
from ..errors import Conflict, DomainError, Forbidden, NotAuthenticated, ValidationError
from ..extensions import db
from ..idempotency import run_once
from ..inputs import row_id
from ..members.models import CATEGORIES, Member
from ..notices import outbox
from ..orgs.models import Organisation
from ..orgs.service import subtree_ids_select
from ..prizes import service as prizes
from ..prizes.models import PickupPoint, Prize, Redemption
from ..prizes.rules import delivery_contact
from . import gate, rules, schemas
from .models import FestivalCampaign, FestivalGift
from .rules import (AlreadyClaimed, CampaignNotFound, ClaimInProgress, ClaimNotFound, GiftSoldOut, check_can_claim,
                    is_offered_to, refusal_error)


class _Errors(dict):
    """Messages by field: `add(field, message)`."""

    def add(self, name: str, message: str) -> None:
        self.setdefault(name, []).append(message)


# --- set-up (admins) ----------------------------------------------------------------------------

def _text(errors: _Errors, data: dict, name: str, high: int, *, required: bool = False) -> str:
    value = str(data.get(name) or "").strip()
    if required and not value:
        errors.add(name, "必填")
    elif len(value) > high:
        errors.add(name, f"最多 {high} 个字")
    elif not value.replace("\n", "").replace("\r", "").isprintable():
        errors.add(name, "不能含控制字符")
    return value


def _point_in_scope(scope: Organisation, point_id) -> PickupPoint | None:
    if row_id(point_id) is None:
        return None
    return db.session.scalar(prizes.pickup_points_in_scope(scope).where(PickupPoint.id == point_id))


@dataclass(frozen=True)
class _Gift:
    prize: Prize
    pickup_point_id: int | None
    stock: int


def _clean_gift(scope: Organisation, data: dict, errors: _Errors, prefix: str) -> _Gift | None:
    """A gift of the admin's catalogue: a pickup item at one of the admin's pickup points, or a
    delivery item at none, with its stock."""
    prize = None
    prize_id = data.get("prize_id")
    if row_id(prize_id) is not None:
        try:
            prize = prizes.prize_in_scope(scope, prize_id)
        except DomainError:
            prize = None
    if prize is None:
        errors.add(f"{prefix}prize_id", "请选择您管辖范围内的奖品")
    point_id = data.get("pickup_point_id")
    if prize is not None and prize.fulfilment == "pickup":
        if point_id is None:
            errors.add(f"{prefix}pickup_point_id", "到点领取的礼品须选择领取点")
        elif _point_in_scope(scope, point_id) is None:
            errors.add(f"{prefix}pickup_point_id", "请选择您管辖范围内的领取点")
    elif prize is not None and point_id is not None:
        errors.add(f"{prefix}pickup_point_id", "邮寄的礼品没有领取点")
    stock = data.get("stock")
    if isinstance(stock, bool) or not isinstance(stock, int) or not 0 <= stock <= rules.MAX_STOCK:
        errors.add(f"{prefix}stock", f"库存须为 0–{rules.MAX_STOCK} 的整数")
        stock = None
    if prize is None or stock is None or f"{prefix}pickup_point_id" in errors:
        return None
    return _Gift(prize, point_id if prize.fulfilment == "pickup" else None, stock)


def _as_utc(errors: _Errors, data: dict, name: str) -> datetime | None:
    value = data.get(name)
    if not isinstance(value, datetime) or value.tzinfo is None:
        errors.add(name, "请填写日期和时间")
        return None
    return clock.as_utc(value)


def clean_campaign(scope: Organisation, data: dict) -> dict:
    """The columns of a valid new campaign and its gifts, or ValidationError with per-field
    messages (`gifts.<n>.<field>` for a gift's)."""
    errors = _Errors()
    out: dict = {"name": _text(errors, data, "name", 128, required=True),
                 "description": _text(errors, data, "description", 4000)}
    org_id = data.get("eligible_org_id")
    if org_id is None:
        out["eligible_org_id"] = scope.id
    else:
        org = db.session.get(Organisation, org_id) if row_id(org_id) else None
        if org is None or not scope.contains(org):
            errors.add("eligible_org_id", "组织不在您的管辖范围内")
        out["eligible_org_id"] = org_id
    cats = list(data.get("eligible_categories") or [])
    if any(c not in CATEGORIES for c in cats):
        errors.add("eligible_categories", "未知的会员类别")
    out["eligible_categories"] = ",".join(c for c in CATEGORIES if c in cats)
    opens, closes = _as_utc(errors, data, "opens_at"), _as_utc(errors, data, "closes_at")
    if opens and closes and closes <= opens:
        errors.add("closes_at", "结束时间须晚于开始时间")
    out["opens_at"], out["closes_at"] = opens, closes
    until = data.get("pickup_until")
    if not isinstance(until, date) or isinstance(until, datetime):
        errors.add("pickup_until", "请填写领取截止日期")
    elif closes and until < clock.business_day(closes):
        errors.add("pickup_until", "领取截止日期不能早于活动结束那天")
    elif closes and until > clock.business_day(closes) + timedelta(days=rules.MAX_PICKUP_DAYS):
        errors.add("pickup_until", "领取截止日期最晚为活动结束后一年")
    out["pickup_until"] = until
    gifts = data.get("gifts") or []
    if not 1 <= len(gifts) <= rules.MAX_GIFTS:
        errors.add("gifts", f"请设置 1–{rules.MAX_GIFTS} 份礼品")
    cleaned = [_clean_gift(scope, g if isinstance(g, dict) else {}, errors, f"gifts.{n}.")
               for n, g in enumerate(gifts[:rules.MAX_GIFTS])]
    seen = set()
    for n, gift in enumerate(cleaned):
        if gift is not None:
            if (gift.prize.id, gift.pickup_point_id) in seen:
                errors.add(f"gifts.{n}.prize_id", "同一礼品在同一领取点只能设置一次")
            seen.add((gift.prize.id, gift.pickup_point_id))
    if errors:
        raise ValidationError("有的项目没填或填得不对。", details={"fields": dict(errors)})
    out["gifts"] = cleaned
    return out


def _add_gift_row(campaign: FestivalCampaign, gift: _Gift) -> FestivalGift:
    row = FestivalGift(campaign_id=campaign.id, prize_id=gift.prize.id, pickup_point_id=gift.pickup_point_id,
                       allocated=gift.stock, stock=gift.stock)
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:
        raise Conflict("这份礼品在这个领取点已设置过，请补充它的库存。", code="gift_exists") from None
    return row


def _gift_snapshot(row: FestivalGift) -> dict:
    return {"gift_id": row.id, "prize_id": row.prize_id, "pickup_point_id": row.pickup_point_id,
            "allocated": row.allocated, "stock": row.stock}


def create_campaign(actor, scope: Organisation, data: dict) -> FestivalCampaign:
    columns = clean_campaign(scope, data)
    gifts = columns.pop("gifts")
    campaign = FestivalCampaign(org_id=scope.id, created_by_user_id=getattr(actor, "id", None),
                                created_at=clock.now(), **columns)
    db.session.add(campaign)
    db.session.flush()
    rows = [_add_gift_row(campaign, g) for g in gifts]
    audit.record(actor, "festival_campaign.create", "festival_campaign", campaign.id, org_id=scope.id,
                 after={"name": campaign.name, "eligible_org_id": campaign.eligible_org_id,
                        "eligible_categories": campaign.eligible_categories,
                        "opens_at": campaign.opens_at.isoformat(), "closes_at": campaign.closes_at.isoformat(),
                        "pickup_until": campaign.pickup_until.isoformat(),
                        "gifts": [_gift_snapshot(r) for r in rows]})
    db.session.expire(campaign, ["gifts"])
    gate.sync_after_commit(campaign.id)
    return campaign


def add_gift(actor, scope: Organisation, campaign: FestivalCampaign, data: dict) -> FestivalGift:
    """One more choice (an item at a pickup point) for a campaign not yet closed."""
    if rules.campaign_state(campaign) == "closed":
        raise Conflict("活动已结束，不能再添加礼品。", code="campaign_closed")
    errors = _Errors()
    gift = _clean_gift(scope, data, errors, "")
    if errors or len(campaign.gifts) >= rules.MAX_GIFTS:
        if not errors:
            errors.add("prize_id", f"一个活动最多 {rules.MAX_GIFTS} 份礼品")
        raise ValidationError("有的项目没填或填得不对。", details={"fields": dict(errors)})
    row = _add_gift_row(campaign, gift)
    audit.record(actor, "festival_campaign.add_gift", "festival_campaign", campaign.id, org_id=campaign.org_id,
                 after=_gift_snapshot(row))
    db.session.expire(campaign, ["gifts"])
    gate.sync_after_commit(campaign.id)
    return row


def restock_gift(actor, campaign: FestivalCampaign, gift_id: int, quantity) -> FestivalGift:
    """More of one gift (a conditional-free increment: claims only ever take from it)."""
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= rules.MAX_STOCK:
        raise ValidationError("增加数量不对。", details={"fields": {"quantity": [f"须为 1–{rules.MAX_STOCK} 的整数"]}})
    gift = gift_of(campaign, gift_id)
    if gift is None:
        raise ValidationError("没有这份礼品。", details={"fields": {"gift_id": ["不是本活动的礼品"]}})
    t = FestivalGift.__table__.c
    db.session.execute(update(FestivalGift.__table__).where(t.id == gift.id)
                       .values(stock=t.stock + quantity, allocated=t.allocated + quantity))
    db.session.refresh(gift)
    audit.record(actor, "festival_campaign.restock", "festival_campaign", campaign.id, org_id=campaign.org_id,
                 after={"gift_id": gift.id, "added": quantity, "stock": gift.stock})
    gate.sync_after_commit(campaign.id)
    return gift


def campaigns_in_scope(scope: Organisation):
    return (select(FestivalCampaign).where(FestivalCampaign.org_id.in_(subtree_ids_select(scope)))
            .order_by(FestivalCampaign.opens_at.desc(), FestivalCampaign.id.desc()))


def campaign_in_scope(scope: Organisation, campaign_id: int) -> FestivalCampaign:
    campaign = db.session.get(FestivalCampaign, campaign_id) if row_id(campaign_id) else None
    if campaign is None or not scope.contains(campaign.org):
        raise CampaignNotFound("没有这个节日福利活动。")
    return campaign


def gift_of(campaign: FestivalCampaign, gift_id) -> FestivalGift | None:
    return next((g for g in campaign.gifts if g.id == gift_id), None)


def claimed_by_gift(campaign: FestivalCampaign) -> dict[int, int]:
    """Claims per gift row (a gift is its campaign's (item, pickup point))."""
    counts = dict(((p, pt), n) for p, pt, n in db.session.execute(
        select(Redemption.prize_id, Redemption.pickup_point_id, func.count())
        .where(Redemption.campaign_id == campaign.id)
        .group_by(Redemption.prize_id, Redemption.pickup_point_id)))
    return {g.id: counts.get((g.prize_id, g.pickup_point_id), 0) for g in campaign.gifts}


def claims_of(campaign: FestivalCampaign, status: str | None = None):
    stmt = (select(Redemption).where(Redemption.campaign_id == campaign.id)
            .options(selectinload(Redemption.member), selectinload(Redemption.prize),
                     selectinload(Redemption.pickup_point))
            .order_by(Redemption.id.desc()))
    if status:
        stmt = stmt.where(Redemption.status == status)
    return stmt


def mark_delivered(actor, scope: Organisation, campaign: FestivalCampaign, redemption_id: int) -> Redemption:
    """A delivery gift was sent: the prize mall's own hand-over of a delivery redemption."""
    r = db.session.get(Redemption, redemption_id) if row_id(redemption_id) else None
    if r is None or r.campaign_id != campaign.id:
        raise ClaimNotFound("没有这条领取记录。")
    return prizes.mark_delivered(actor, scope, r.id)


# --- reports ------------------------------------------------------------------------------------

def _eligible_members(campaign: FestivalCampaign):
    """Active members of the campaign's subtree and categories, now."""
    m = Member.__table__.c
    conditions = [m.status == "active",
                  m.org_id.in_(select(Organisation.id).where(Organisation.path.startswith(campaign.eligible_org.path)))]
    if campaign.categories:
        conditions.append(m.category.in_(campaign.categories))
    return conditions


def report(campaign: FestivalCampaign) -> dict:
    """Who of the eligible members claimed, per organisation, and each gift's stock: the union's
    view once the campaign closes (while it is open, the same figures so far)."""
    m, r, o = Member.__table__.c, Redemption.__table__, Organisation.__table__.c
    joined = Member.__table__.join(Organisation.__table__, o.id == m.org_id).outerjoin(
        r, and_(r.c.campaign_id == campaign.id, r.c.member_id == m.id))
    orgs = []
    for org_id, code, name, eligible, claimed in db.session.execute(
            select(o.id, o.code, o.name, func.count(), func.count(r.c.id)).select_from(joined)
            .where(*_eligible_members(campaign)).group_by(o.id, o.code, o.name, o.path).order_by(o.path)):
        orgs.append({"org_id": org_id, "org_code": code, "org_name": name, "eligible": eligible,
                     "claimed": claimed, "unclaimed": eligible - claimed})
    status_counts = {(p, pt, s): n for p, pt, s, n in db.session.execute(
        select(Redemption.prize_id, Redemption.pickup_point_id, Redemption.status, func.count())
        .where(Redemption.campaign_id == campaign.id)
        .group_by(Redemption.prize_id, Redemption.pickup_point_id, Redemption.status))}
    gifts = []
    for g in campaign.gifts:
        by_status = {s: n for (p, pt, s), n in status_counts.items() if (p, pt) == (g.prize_id, g.pickup_point_id)}
        gifts.append({"gift_id": g.id, "item_name": g.prize.name,
                      "pickup_point": g.pickup_point.name if g.pickup_point else None, "allocated": g.allocated,
                      "claimed": sum(by_status.values()), "handed_over": by_status.get("handed_over", 0),
                      "stock_left": g.stock})
    eligible = sum(x["eligible"] for x in orgs)
    claimed = sum(x["claimed"] for x in orgs)
    return {"campaign_id": campaign.id, "state": rules.campaign_state(campaign), "eligible": eligible,
            "claimed": claimed, "unclaimed": eligible - claimed, "claims": sum(x["claimed"] for x in gifts),
            "handed_over": sum(x["handed_over"] for x in gifts), "stock_left": sum(x["stock_left"] for x in gifts),
            "gifts": gifts, "organisations": orgs}


# --- members ------------------------------------------------------------------------------------

def _offered_filter(member: Member):
    eligible = Organisation.__table__.alias("eligible")
    org_ok = FestivalCampaign.eligible_org_id.in_(select(eligible.c.id).where(
        literal(member.org.path).startswith(eligible.c.path)))
    category_ok = or_(FestivalCampaign.eligible_categories == "",
                      ("," + FestivalCampaign.eligible_categories + ",").contains("," + member.category + ","))
    return org_ok & category_ok


def campaigns_for_member(member: Member) -> list[FestivalCampaign]:
    """Campaigns offered to the member that have not closed (open ones first), then every closed
    campaign the member claimed from (its code may still be wanted)."""
    claimed = select(Redemption.campaign_id).where(Redemption.member_id == member.id,
                                                   Redemption.campaign_id.is_not(None))
    stmt = (select(FestivalCampaign)
            .where(or_(_offered_filter(member) & (FestivalCampaign.closes_at > clock.now()),
                       FestivalCampaign.id.in_(claimed)))
            .options(selectinload(FestivalCampaign.gifts).selectinload(FestivalGift.prize),
                     selectinload(FestivalCampaign.gifts).selectinload(FestivalGift.pickup_point))
            .order_by(FestivalCampaign.closes_at <= clock.now(), FestivalCampaign.opens_at, FestivalCampaign.id))
    return list(db.session.scalars(stmt))


def campaign_for_member(member: Member, campaign_id: int) -> FestivalCampaign:
    """A campaign offered to the member's organisation (else 404)."""
    campaign = db.session.get(FestivalCampaign, campaign_id) if row_id(campaign_id) else None
    if campaign is None or not is_offered_to(campaign, member):
        raise CampaignNotFound("没有这个节日福利活动。")
    return campaign


def my_claims(member: Member) -> dict[int, Redemption]:
    """The member's claims by campaign id."""
    return {r.campaign_id: r for r in db.session.scalars(
        select(Redemption).where(Redemption.member_id == member.id, Redemption.campaign_id.is_not(None)))}


def my_claim(member: Member, campaign_id: int) -> Redemption | None:
    if row_id(campaign_id) is None:
        return None
    return db.session.scalar(select(Redemption).where(Redemption.member_id == member.id,
                                                      Redemption.campaign_id == campaign_id))


# --- the claim ----------------------------------------------------------------------------------

def claim_gift(campaign_id: int, args: dict, idempotency_key: str | None, *, user_id: int | None,
               signed_in: Callable[[], User]) -> dict:
    """THE claim, for the API and the pages alike: the answer (`ClaimOut`), 201.

    `args` as `schemas.FestivalClaimArgs` loads them. `user_id` is the user the signed session names, so
    the Redis gate answers first ("already claimed", "sold out", "not open", "closed") before any
    SQL. Nothing is written before `signed_in()` has loaded the user through Flask-Login and
    found that same user. A reservation is given back if the caller's unit of work rolls back,
    and confirmed by its commit; Redis unreachable or cold leaves SQL to decide alone, exactly.

    The Idempotency-Key (`run_once`): the same key and body replays the stored answer; another
    body is a 409. The gate lets a second press through only with the key the member's claim is
    being made with, and then only to replay: should it reach SQL before the request holding the
    reservation has written, it is refused (409 `claim_in_progress`, as for any request whose
    twin is still running) rather than write the claim itself, so that the request that took the
    gate's stock and mark is the one that commits them. A replay keeps any reservation it took
    (when the gate was rebuilt in between): it stands for the claim replayed, the same member and
    the same gift."""
    if user_id is None:
        raise NotAuthenticated("请先登录。")
    gift_id = args["gift_id"]
    key_hash = gate.key_hash(idempotency_key)
    reservation = gate.reserve(campaign_id, gift_id, user_id, key_hash) if gift_id is not None \
        else gate.Reservation(campaign_id, 0, user_id)
    if reservation.refusal:
        raise refusal_error(reservation.refusal)
    rows = _read_for_claim(user_id, campaign_id, gift_id)  # noqa: F841 - held while used
    user = signed_in()
    if not user.is_authenticated or user.id != user_id:
        raise NotAuthenticated("请先登录。")
    if user.role != "member":
        raise Forbidden("只有会员可以领取节日福利。")
    member = user.member
    campaign = campaign_for_member(member, campaign_id)
    if reservation.cold:
        gate.sync_after_commit(campaign_id, cold=True)

    def operation() -> tuple[dict, int]:
        if reservation.replay_only:
            raise ClaimInProgress("您的领取正在处理中，请稍后刷新查看。")
        return _claim(member, campaign, args, key_hash), 201

    body, _status = run_once(f"festival.claim:{user_id}", idempotency_key, {"campaign_id": campaign_id, **args},
                             operation)
    return body


# Everything a claim reads, in one round trip: the user (Flask-Login's loader then finds it in the
# identity map), the member and organisation, the campaign, the chosen gift with its item and
# pickup point (none when the gift is not the campaign's).
_READ_FOR_CLAIM = (
    select(User, Member, Organisation, FestivalCampaign, FestivalGift, Prize, PickupPoint)
    .join(Member, Member.id == User.member_id)
    .join(Organisation, Organisation.id == Member.org_id)
    .join(FestivalCampaign, FestivalCampaign.id == bindparam("campaign_id", type_=Integer))
    .outerjoin(FestivalGift, and_(FestivalGift.id == bindparam("gift_id", type_=Integer),
                                  FestivalGift.campaign_id == FestivalCampaign.id))
    .outerjoin(Prize, Prize.id == FestivalGift.prize_id)
    .outerjoin(PickupPoint, PickupPoint.id == FestivalGift.pickup_point_id)
    .where(User.id == bindparam("user_id", type_=Integer)))


def _read_for_claim(user_id: int, campaign_id: int, gift_id: int) -> list:
    """The rows of `_READ_FOR_CLAIM`. The session's identity map holds objects weakly: keep the
    returned rows while they are used."""
    if row_id(campaign_id) is None:
        return []
    return db.session.execute(_READ_FOR_CLAIM, {"user_id": user_id, "campaign_id": campaign_id,
                                                "gift_id": gift_id if row_id(gift_id) else None}).all()


_ANSWER = schemas.FestivalClaimOut()
_GIFTS = FestivalGift.__table__
_TAKE_ONE = (update(_GIFTS).where(_GIFTS.c.id == bindparam("gift"), _GIFTS.c.stock >= 1)
             .values(stock=_GIFTS.c.stock - 1).returning(_GIFTS.c.id))


def _claim(member: Member, campaign: FestivalCampaign, args: dict, key_hash: str) -> dict:
    """The guarded write: the redemption row (UNIQUE (campaign, member): one gift each; unique
    pickup code), the member's pickup notice, the answer, then the gift's stock (`stock >= 1`)
    — last, because the gift row is every claimant's hot row and its lock is held from there to
    the commit. Any refusal raises and the caller's unit of work rolls everything back."""
    at = clock.now()
    check_can_claim(member, campaign, at)
    gift = db.session.get(FestivalGift, args["gift_id"]) if row_id(args["gift_id"]) else None
    if gift is None or gift.campaign_id != campaign.id:
        raise ValidationError("请选择本活动的一份礼品。", details={"fields": {"gift_id": ["不是本活动的礼品"]}})
    address, phone = delivery_contact(gift.prize, args.get("delivery_address"), args.get("delivery_phone"))
    pickup = gift.pickup_point_id is not None
    redemption = Redemption(
        prize_id=gift.prize_id, member_id=member.id, quantity=1, points_spent=0, fulfilment=gift.fulfilment,
        pickup_point_id=gift.pickup_point_id, pickup_code=prizes.new_pickup_code() if pickup else None,
        pickup_deadline=rules.pickup_deadline(campaign) if pickup else None,
        delivery_address=address, delivery_phone=phone, status="redeemed", approval="not_needed",
        # the gate's rebuild reads the key hash back from here
        business_day=clock.business_day(at), idempotency_key=f"festival:{campaign.id}:m{member.id}:{key_hash}",
        campaign_id=campaign.id, created_at=at)
    db.session.add(redemption)
    try:
        db.session.flush()
    except IntegrityError:
        raise AlreadyClaimed("您已领取过本次节日福利，每人限领一份。") from None
    if pickup:
        outbox.enqueue(member.id, "pickup_ready",
                       {"item": gift.prize.name, "place": gift.pickup_point.name,
                        "until": redemption.pickup_deadline, "redemption_id": redemption.id},
                       dedupe_key=f"festival-claim:{redemption.id}")
    answer = _ANSWER.dump(schemas.claim_view(redemption, campaign))
    if db.session.execute(_TAKE_ONE, {"gift": gift.id}).first() is None:
        raise GiftSoldOut("这份礼品已领完，请选择其他礼品或领取点。")
    return answer


def own_claim(member: Member, campaign_id: int) -> Redemption:
    r = my_claim(member, campaign_id)
    if r is None:
        raise ClaimNotFound("您还没有领取本次节日福利。")
    return r
