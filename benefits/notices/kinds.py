"""Every kind of notice in one place: its Chinese template, its short label, whether the member
may turn it off, and where in the app it leads.

Templates are `str.format` templates over the notice's `params` with two formats of our own:
`{amount_fen:yuan}` prints fen as yuan ("550.00") and `{until:china_time}` prints an ISO time as
China time ("2026-12-01 18:00"). The same rendering feeds the SMS and the member's 消息 list, so
a wording change applies to both, also to notices written before it.

A pickup code is a bearer secret: no template carries one (a pickup notice says the prize is
ready and where; the member reads the code in the app).
"""
from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import datetime

from ..clock import CHINA, as_utc
from ..money import format_yuan


@dataclass(frozen=True)
class Link:
    """The page a notice leads to: url_for(endpoint), or url_for(endpoint, **{param: value}) when
    the link names a param, which the notice's params must then carry."""
    endpoint: str
    param: str | None = None


@dataclass(frozen=True)
class Kind:
    name: str
    label: str                 # the badge on the 消息 list and the settings line
    template: str
    optional: bool             # the member may turn its SMS off
    links: tuple[Link, ...] = ()   # the first whose param the notice carries (or that needs none)


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("payout_made", "慰问金到账",
         "{programme}慰问金 {amount_fen:yuan} 元已发放到您尾号 {card_tail} 的会员卡，请注意查收。", optional=False,
         links=(Link("medical.mine"),)),
    Kind("voucher_issued", "收到新券", "您收到一张{programme}，可用 {value_fen:yuan} 元，{valid_until} 前有效。",
         optional=True, links=(Link("vouchers.detail", "voucher_id"),)),
    Kind("voucher_expiring", "到期提醒", "您的{programme}将于 {valid_until} 到期，余额 {balance_fen:yuan} 元，请尽快使用。",
         optional=True, links=(Link("vouchers.detail", "voucher_id"),)),
    Kind("voucher_voided", "券已作废", "您的{programme}已被工会作废：{reason}", optional=False,
         links=(Link("vouchers.detail", "voucher_id"),)),
    Kind("pickup_ready", "待领取",
         "您的{item}可以领取了：请于 {until:china_time} 前到{place}领取，核销码请在平台“我的兑换”中查看。",
         optional=False, links=(Link("prizes.my_redemption", "redemption_id"),)),
    Kind("pickup_expiring", "领取提醒", "您的{item}将于 {until:china_time} 截止领取，请尽快到{place}领取。",
         optional=True, links=(Link("prizes.my_redemption", "redemption_id"),)),
    Kind("points_expiring", "积分到期提醒", "您有 {points} 积分将于 {date} 到期，请尽快使用。", optional=True,
         links=(Link("points.my_points"),)),
)}
OPTIONAL = tuple(name for name, kind in KINDS.items() if kind.optional)


class UnknownKind(ValueError):
    pass


def kind(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownKind(f"unknown notice kind {name!r}") from None


class _Formatter(string.Formatter):
    def format_field(self, value, format_spec: str):
        if format_spec == "yuan":
            return format_yuan(int(value))
        if format_spec == "china_time":
            return as_utc(datetime.fromisoformat(str(value))).astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
        return super().format_field(value, format_spec)


_FORMATTER = _Formatter()


def placeholders(name: str) -> set[str]:
    return {field for _text, field, _spec, _conv in _FORMATTER.parse(kind(name).template) if field}


def render(name: str, params: dict) -> str:
    """The notice's text. A missing placeholder is a programming error (KeyError) that
    `outbox.enqueue` raises before anything is written."""
    return _FORMATTER.vformat(kind(name).template, (), params)


def link(name: str, params: dict) -> tuple[str, dict] | None:
    """(endpoint, url arguments) of the page the notice leads to, or None."""
    for candidate in kind(name).links:
        if candidate.param is None:
            return candidate.endpoint, {}
        if params.get(candidate.param) is not None:
            return candidate.endpoint, {candidate.param: params[candidate.param]}
    return None
