"""The discount engine: pure, deterministic functions over plain frozen data. No DB, no Flask.

How a price becomes a discount:
1. every candidate rule is checked (dates, special periods in China time, scope, eligibility,
   per-member and global limits, budget left) and either gives an amount or is rejected with a
   reason;
2. the member gets the single best non-combinable offer (largest discount; ties go to the higher
   priority, then the older rule);
3. combinable offers stack on top in priority order, each judged on the original price
   (thresholds) or on what is left to pay (percent), never beyond the price.

Percent discounts round down to the fen; each applied discount is clamped to the rule's cap per
transaction and to its budget left; funders' shares use `money.split_fairly` (sum exact).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from ..money import format_yuan, percent_of_floor, split_fairly

CHINA = ZoneInfo("Asia/Shanghai")
KINDS = ("percent", "threshold", "repeating")
SCOPES = ("programme", "categories", "merchants", "stores")
FUNDERS = ("union", "bank", "merchant")
PERIODS = ("day", "week", "month", "total")


@dataclass(frozen=True)
class RuleTerms:
    """One version of a rule, as the engine needs it. `to_json()` is what transactions snapshot."""
    rule_id: int
    version_id: int
    name: str
    kind: str                           # percent | threshold (满X减Y) | repeating (每满X减Y)
    pay_bp: int = 0                     # percent: the member pays this many basis points (9折 = 9000)
    threshold_fen: int = 0              # X of 满X减Y
    off_fen: int = 0                    # Y of 满X减Y
    max_repeats: int = 1                # repeating: how many times Y may be taken
    cap_fen: int | None = None          # at most this discount per transaction
    valid_from: date | None = None      # China dates, inclusive
    valid_until: date | None = None
    days_of_week: tuple[int, ...] = ()  # 1 = Monday … 7 = Sunday; empty = every day
    hour_from: int = 0                  # China time window [hour_from, hour_to)
    hour_to: int = 24
    scope: str = "programme"
    owner_path: str = "/"               # the owning union's path: its programme is its subtree
    categories: tuple[str, ...] = ()
    merchant_ids: tuple[int, ...] = ()
    store_ids: tuple[int, ...] = ()
    member_categories: tuple[str, ...] = ()   # empty = every member
    member_org_path: str | None = None        # only members of this organisation subtree
    per_member: tuple[tuple[str, int], ...] = ()  # (("day", 1), ("month", 4)) uses per period
    global_limit: int | None = None
    budget_fen: int | None = None
    split: tuple[tuple[str, int], ...] = (("union", 100), ("bank", 0), ("merchant", 0))
    priority: int = 0
    combinable: bool = False

    def to_json(self) -> dict:
        return {
            "kind": self.kind, "pay_bp": self.pay_bp, "threshold_fen": self.threshold_fen,
            "off_fen": self.off_fen, "max_repeats": self.max_repeats, "cap_fen": self.cap_fen,
            "valid_from": self.valid_from.isoformat() if self.valid_from else None,
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "days_of_week": list(self.days_of_week), "hour_from": self.hour_from, "hour_to": self.hour_to,
            "scope": self.scope, "categories": list(self.categories), "merchant_ids": list(self.merchant_ids),
            "store_ids": list(self.store_ids), "member_categories": list(self.member_categories),
            "member_org_path": self.member_org_path, "per_member": dict(self.per_member),
            "global_limit": self.global_limit, "budget_fen": self.budget_fen, "split": dict(self.split),
            "priority": self.priority, "combinable": self.combinable,
        }

    @classmethod
    def from_json(cls, rule_id: int, version_id: int, name: str, owner_path: str, data: dict) -> RuleTerms:
        def day(v):
            return date.fromisoformat(v) if v else None
        return cls(
            rule_id=rule_id, version_id=version_id, name=name, kind=data["kind"],
            pay_bp=int(data.get("pay_bp") or 0), threshold_fen=int(data.get("threshold_fen") or 0),
            off_fen=int(data.get("off_fen") or 0), max_repeats=int(data.get("max_repeats") or 1),
            cap_fen=data.get("cap_fen"), valid_from=day(data.get("valid_from")),
            valid_until=day(data.get("valid_until")), days_of_week=tuple(data.get("days_of_week") or ()),
            hour_from=int(data.get("hour_from", 0)), hour_to=int(data.get("hour_to", 24)),
            scope=data.get("scope", "programme"), owner_path=owner_path,
            categories=tuple(data.get("categories") or ()), merchant_ids=tuple(data.get("merchant_ids") or ()),
            store_ids=tuple(data.get("store_ids") or ()),
            member_categories=tuple(data.get("member_categories") or ()),
            member_org_path=data.get("member_org_path"),
            per_member=tuple((k, int(v)) for k, v in (data.get("per_member") or {}).items()),
            global_limit=data.get("global_limit"), budget_fen=data.get("budget_fen"),
            split=tuple((k, int(v)) for k, v in (data.get("split") or {"union": 100}).items()),
            priority=int(data.get("priority") or 0), combinable=bool(data.get("combinable")),
        )


@dataclass(frozen=True)
class RuleState:
    """What is left of a rule right now, and what this member has used (per period)."""
    budget_left_fen: int | None = None      # None: no budget
    uses_left: int | None = None            # None: no global limit
    member_used: tuple[tuple[str, int], ...] = ()  # (("day", 1), ...)
    active: bool = True


_OPEN_STATE = RuleState()


@dataclass(frozen=True)
class Purchase:
    amount_fen: int
    at: datetime                            # aware; judged in China time
    merchant_id: int
    merchant_category: str
    merchant_org_path: str
    store_id: int | None = None
    card_active: bool = True
    member_category: str = "ordinary"
    member_org_path: str = "/"


@dataclass(frozen=True)
class AppliedRule:
    rule_id: int
    version_id: int
    name: str
    discount_fen: int
    shares: dict[str, int]
    terms: dict


@dataclass(frozen=True)
class Rejected:
    rule_id: int
    name: str
    reason: str          # stable code, e.g. "below_threshold"
    message: str = ""    # Chinese sentence a cashier can read out


@dataclass(frozen=True)
class Quote:
    amount_fen: int
    discount_fen: int
    pay_fen: int
    applied: tuple[AppliedRule, ...] = ()
    rejected: tuple[Rejected, ...] = ()
    hints: tuple[str, ...] = ()

    def shares_total(self) -> dict[str, int]:
        total = dict.fromkeys(FUNDERS, 0)
        for a in self.applied:
            for k, v in a.shares.items():
                total[k] = total.get(k, 0) + v
        return total


REASONS = {
    "paused": "活动已暂停",
    "not_started": "活动尚未开始",
    "ended": "活动已结束",
    "wrong_day": "今天不在活动日",
    "wrong_hour": "不在活动时段",
    "out_of_scope": "本店不参加该活动",
    "card_not_active": "会员卡不可用",
    "member_category": "会员类别不符合",
    "member_org": "会员所属工会不在活动范围",
    "member_limit_day": "今日使用次数已满",
    "member_limit_week": "本周使用次数已满",
    "member_limit_month": "本月使用次数已满",
    "member_limit_total": "活动使用次数已满",
    "global_limit": "活动名额已用完",
    "budget_spent": "活动预算已用完",
    "below_threshold": "未达到满减金额",
    "nothing_to_give": "该金额无优惠",
    "not_best": "已有更优惠的活动",
}


def _china(at: datetime) -> datetime:
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return at.astimezone(CHINA)


def gross_discount(t: RuleTerms, amount_fen: int) -> int:
    """What the rule's formula gives on `amount_fen`, before cap, budget and price clamps."""
    if t.kind == "percent":
        return percent_of_floor(amount_fen, 10_000 - t.pay_bp)
    if t.threshold_fen <= 0 or amount_fen < t.threshold_fen:
        return 0
    times = 1 if t.kind == "threshold" else min(amount_fen // t.threshold_fen, t.max_repeats)
    return t.off_fen * times


def _check(t: RuleTerms, s: RuleState, p: Purchase, today: date, weekday: int, hour: int) -> str | None:
    """The reason this rule cannot apply to the purchase at all, or None."""
    if not s.active:
        return "paused"
    if t.valid_from and today < t.valid_from:
        return "not_started"
    if t.valid_until and today > t.valid_until:
        return "ended"
    if t.days_of_week and weekday not in t.days_of_week:
        return "wrong_day"
    if not t.hour_from <= hour < t.hour_to:
        return "wrong_hour"
    if not in_scope(t, p):
        return "out_of_scope"
    if not p.card_active:
        return "card_not_active"
    if t.member_categories and p.member_category not in t.member_categories:
        return "member_category"
    if t.member_org_path and not p.member_org_path.startswith(t.member_org_path):
        return "member_org"
    return _state_reason(t, s)


def _state_reason(t: RuleTerms, s: RuleState) -> str | None:
    """`_check`'s reasons that come from the live state, after the static ones (same order)."""
    if t.per_member:
        used = dict(s.member_used)
        for period, limit in t.per_member:
            if used.get(period, 0) >= limit:
                return "member_limit_" + period
    if s.uses_left is not None and s.uses_left <= 0:
        return "global_limit"
    if s.budget_left_fen is not None and s.budget_left_fen <= 0:
        return "budget_spent"
    return None


def in_scope(t: RuleTerms, p: Purchase) -> bool:
    if t.scope == "stores":
        return p.store_id in t.store_ids
    if t.scope == "merchants":
        return p.merchant_id in t.merchant_ids
    if not p.merchant_org_path.startswith(t.owner_path):
        return False
    return t.scope == "programme" or p.merchant_category in t.categories


def _clamp(t: RuleTerms, s: RuleState, discount: int, left_to_pay: int) -> int:
    if t.cap_fen is not None:
        discount = min(discount, t.cap_fen)
    if s.budget_left_fen is not None:
        discount = min(discount, s.budget_left_fen)
    return max(0, min(discount, left_to_pay))


def _applied(t: RuleTerms, discount: int) -> AppliedRule:
    weights = dict(t.split)
    return AppliedRule(t.rule_id, t.version_id, t.name, discount, split_fairly(discount, weights), t.to_json())


_rejections: dict[tuple, Rejected] = {}


def _reject(t: RuleTerms, reason: str, message: str = "") -> Rejected:
    """Rejections are immutable and depend only on the rule version and reason: reuse them
    (building a frozen dataclass per rule per transaction was most of the engine's time)."""
    cache_key = (t.rule_id, t.version_id, t.name, reason, message)
    found = _rejections.get(cache_key)
    if found is None:
        if len(_rejections) > 50_000:
            _rejections.clear()
        found = _rejections[cache_key] = Rejected(t.rule_id, t.name, reason, message or REASONS[reason])
    return found


# ---------------------------------------------------------------- a till's prepared candidates
#
# A till meets the same few dozen candidate rules at every payment, and most of what `_check`
# asks of a rule (dates, special periods, scope, card, member category and union) depends only
# on the day, the hour, the till and the member's class, not on the price or the counters.
# `Prepared` keeps, per till, those answers per (day, hour, member class), each rule's snapshot
# and its rejections ready-made: precomputed once, then used by the one `evaluate`.


@dataclass(frozen=True)
class _Entry:
    terms: dict                  # the snapshot (`to_json`): shared by every quote, never changed
    split: dict                  # the funding split, for `split_fairly`
    below: Rejected              # below_threshold, with its "未满 X 元" message


class Prepared:
    """A till's candidate rules (in order) with what can be worked out once for them."""
    __slots__ = ("rules", "entries", "_static", "_org_paths")

    def __init__(self, rules):
        self.rules = tuple(rules)
        # only whether the member's union lies under these matters, not which union it is
        self._org_paths = tuple(sorted({t.member_org_path for t in self.rules if t.member_org_path}))
        self.entries = tuple(_Entry(t.to_json(), dict(t.split),
                                    _reject(t, "below_threshold", f"未满 {format_yuan(t.threshold_fen)} 元"))
                             for t in self.rules)
        self._static: dict = {}

    def plan(self, p: Purchase, today: date, weekday: int, hour: int) -> tuple:
        """Per rule, in order: (index, terms, the reason it cannot apply whatever its live state,
        or None). Memoised per day, hour, till and member class."""
        key = (today, hour, p.card_active, p.member_category,
               tuple(p.member_org_path.startswith(path) for path in self._org_paths),
               p.merchant_id, p.store_id, p.merchant_category, p.merchant_org_path)
        found = self._static.get(key)
        if found is None:
            if len(self._static) > 4096:
                self._static.clear()
            found = self._static[key] = tuple(
                (i, t, _check(t, _OPEN_STATE, p, today, weekday, hour)) for i, t in enumerate(self.rules))
        return found

    def applied(self, i: int, discount: int) -> AppliedRule:
        t, entry = self.rules[i], self.entries[i]
        return AppliedRule(t.rule_id, t.version_id, t.name, discount, split_fairly(discount, entry.split), entry.terms)


def prepare(rules) -> Prepared:
    return Prepared(rules)


def evaluate(purchase: Purchase, prepared: Prepared, states: dict[int, RuleState]) -> Quote:
    """The best discount for `purchase` among a till's prepared candidates. `states` holds the
    live state of the rules that have one (binding counters, this member's uses); every other
    rule is open (active, nothing used, any budget it has at least the price)."""
    amount = purchase.amount_fen
    local = _china(purchase.at)
    today, weekday, hour = local.date(), local.isoweekday(), local.hour
    rejected: list[Rejected] = []
    offers: list[tuple[int, RuleTerms, RuleState, int]] = []
    near: list[tuple[RuleTerms, RuleState]] = []
    for i, t, static_reason in prepared.plan(purchase, today, weekday, hour):
        s = states.get(t.rule_id, _OPEN_STATE)
        reason = "paused" if not s.active else static_reason or _state_reason(t, s)
        if reason:
            rejected.append(_reject(t, reason))
            continue
        raw = gross_discount(t, amount)
        if raw == 0 and t.kind != "percent" and amount < t.threshold_fen:
            rejected.append(prepared.entries[i].below)
            near.append((t, s))
            continue
        discount = _clamp(t, s, raw, amount)
        if discount <= 0:
            rejected.append(_reject(t, "nothing_to_give"))
            continue
        offers.append((i, t, s, discount))
        if t.kind == "repeating" and amount // t.threshold_fen < t.max_repeats:
            near.append((t, s))

    singles = [o for o in offers if not o[1].combinable]
    applied: list[AppliedRule] = []
    total = 0
    if singles:
        best = max(singles, key=lambda o: (o[3], o[1].priority, -o[1].rule_id))
        applied.append(prepared.applied(best[0], best[3]))
        total = best[3]
        rejected.extend(_reject(t, "not_best") for _i, t, _s, _d in singles if t is not best[1])
    for i, t, s, _d in sorted(offers, key=lambda o: (-o[1].priority, o[1].rule_id)):
        if not t.combinable:
            continue
        base = amount - total if t.kind == "percent" else amount
        discount = _clamp(t, s, gross_discount(t, base), amount - total)
        if discount <= 0:
            rejected.append(_reject(t, "nothing_to_give"))
            continue
        applied.append(prepared.applied(i, discount))
        total += discount
    return Quote(amount, total, amount - total, tuple(applied), tuple(rejected),
                 _hints(amount, total, near, applied) if near else ())


def _hints(amount: int, total: int, near: list[tuple[RuleTerms, RuleState]],
           applied: list[AppliedRule]) -> tuple[str, ...]:
    """"再消费 12.00 元可减 40.00 元" for offers a little more spending would unlock or beat."""
    hints = []
    current = {a.rule_id: a.discount_fen for a in applied}
    for t, s in near:
        target = (amount // t.threshold_fen + 1) * t.threshold_fen
        gain = _clamp(t, s, gross_discount(t, target), target)
        if gain > max(total, current.get(t.rule_id, 0)) or (t.combinable and gain > current.get(t.rule_id, 0)):
            hints.append(f"再消费 {format_yuan(target - amount)} 元可减 {format_yuan(gain)} 元")
    return tuple(dict.fromkeys(hints))


@dataclass
class RuleBook:
    """Rules indexed by scope so a purchase only meets its candidates (service keeps one per
    process, rebuilt when rules change)."""
    by_store: dict[int, list[RuleTerms]] = field(default_factory=dict)
    by_merchant: dict[int, list[RuleTerms]] = field(default_factory=dict)
    by_category: dict[str, list[RuleTerms]] = field(default_factory=dict)   # category → rules (with owner path)
    programme: list[RuleTerms] = field(default_factory=list)

    @classmethod
    def build(cls, rules: list[RuleTerms]) -> RuleBook:
        book = cls()
        for t in rules:
            if t.scope == "stores":
                for sid in t.store_ids:
                    book.by_store.setdefault(sid, []).append(t)
            elif t.scope == "merchants":
                for mid in t.merchant_ids:
                    book.by_merchant.setdefault(mid, []).append(t)
            elif t.scope == "categories":
                for c in t.categories:
                    book.by_category.setdefault(c, []).append(t)
            else:
                book.programme.append(t)
        return book

    def candidates(self, *, merchant_id: int, store_id: int | None, category: str,
                   merchant_org_path: str) -> list[RuleTerms]:
        found = list(self.by_merchant.get(merchant_id, ()))
        if store_id is not None:
            found.extend(self.by_store.get(store_id, ()))
        found.extend(t for t in self.by_category.get(category, ()) if merchant_org_path.startswith(t.owner_path))
        found.extend(t for t in self.programme if merchant_org_path.startswith(t.owner_path))
        return found


def preview(t: RuleTerms, amount_fen: int) -> Quote:
    """What the rule's formula gives on one amount, ignoring dates, limits and eligibility
    (the admin's preview of a draft). The budget still caps it."""
    state = RuleState(budget_left_fen=t.budget_fen)
    discount = _clamp(t, state, gross_discount(t, amount_fen), amount_fen)
    applied = (_applied(t, discount),) if discount > 0 else ()
    return Quote(amount_fen, discount, amount_fen - discount, applied, (), ())


def runs_on(t: RuleTerms, day: date) -> bool:
    """Whether the rule is valid on a China calendar day (dates and days of week)."""
    if (t.valid_from and day < t.valid_from) or (t.valid_until and day > t.valid_until):
        return False
    return not t.days_of_week or day.isoweekday() in t.days_of_week


WEEKDAYS = "一二三四五六日"


def zhe(pay_bp: int) -> str:
    """9000 → '9折', 8500 → '8.5折', 8850 → '8.85折'."""
    text = f"{pay_bp / 1000:.2f}".rstrip("0").rstrip(".")
    return f"{text}折"


def describe(t: RuleTerms) -> str:
    """A short Chinese summary: '满200减40 · 周六、周日 · 08:00–22:00'."""
    if t.kind == "percent":
        parts = [zhe(t.pay_bp)]
    elif t.kind == "threshold":
        parts = [f"满{format_yuan(t.threshold_fen).removesuffix('.00')}减{format_yuan(t.off_fen).removesuffix('.00')}"]
    else:
        parts = [f"每满{format_yuan(t.threshold_fen).removesuffix('.00')}减{format_yuan(t.off_fen).removesuffix('.00')}"
                 f"（最多{t.max_repeats}次）"]
    if t.cap_fen is not None:
        parts.append(f"最高减{format_yuan(t.cap_fen).removesuffix('.00')}元")
    if t.days_of_week and len(t.days_of_week) < 7:
        parts.append("、".join("周" + WEEKDAYS[d - 1] for d in sorted(t.days_of_week)))
    if (t.hour_from, t.hour_to) != (0, 24):
        parts.append(f"{t.hour_from:02d}:00–{t.hour_to:02d}:00")
    return " · ".join(parts)
