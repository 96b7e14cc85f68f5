"""Notice templates render in Chinese with their placeholders, the HTTP channel's body and
signature are what a gateway can verify, and phone numbers in free text are masked."""
from __future__ import annotations

import hashlib
import logging
import hmac
import json
import re

import pytest

from benefits.notices import channels, kinds
from benefits.pii import mask_phones_in

SAMPLES = {
    "payout_made": {"programme": "2025年度医疗普惠", "amount_fen": 100000, "card_tail": "0171"},
    "voucher_issued": {"programme": "扶贫暖心券", "value_fen": 55000, "valid_until": "2026-12-31", "voucher_id": 7},
    "voucher_expiring": {"programme": "扶贫暖心券", "balance_fen": 25000, "valid_until": "2026-12-31", "voucher_id": 7},
    "voucher_voided": {"programme": "扶贫暖心券", "reason": "重复发放", "voucher_id": 7},
    "pickup_ready": {"item": "驾校体验课", "place": "古井集团工会（亳州市谯城区）", "until": "2026-12-01T10:00:00+00:00",
                     "redemption_id": 3},
    "pickup_expiring": {"item": "驾校体验课", "place": "古井集团工会", "until": "2026-12-01T10:00:00+00:00",
                        "redemption_id": 3},
    "points_expiring": {"points": 120, "date": "2026-12-31"},
}


def test_every_kind_has_a_sample_and_renders_chinese_without_braces():
    assert set(SAMPLES) == set(kinds.KINDS)
    for name, params in SAMPLES.items():
        text = kinds.render(name, params)
        assert "{" not in text and "}" not in text, name
        assert re.search(r"[\u4e00-\u9fff]", text), name
        assert re.findall(r"[A-Za-z]{2,}", text) == [], (name, text)
        assert kinds.placeholders(name) <= set(params), name


def test_the_formats_print_yuan_and_china_time():
    assert kinds.render("payout_made", SAMPLES["payout_made"]) == \
        "2025年度医疗普惠慰问金 1000.00 元已发放到您尾号 0171 的会员卡，请注意查收。"
    assert kinds.render("voucher_issued", SAMPLES["voucher_issued"]) == \
        "您收到一张扶贫暖心券，可用 550.00 元，2026-12-31 前有效。"
    # 10:00 UTC is 18:00 in China
    assert "2026-12-01 18:00 前到古井集团工会（亳州市谯城区）领取" in kinds.render("pickup_ready", SAMPLES["pickup_ready"])
    assert kinds.render("points_expiring", SAMPLES["points_expiring"]) == "您有 120 积分将于 2026-12-31 到期，请尽快使用。"


def test_no_pickup_template_can_carry_a_code():
    for name in ("pickup_ready", "pickup_expiring"):
        assert not {p for p in kinds.placeholders(name) if "code" in p}


def test_a_missing_placeholder_or_an_unknown_kind_raises():
    with pytest.raises(KeyError):
        kinds.render("voucher_issued", {"programme": "扶贫暖心券"})
    with pytest.raises(kinds.UnknownKind):
        kinds.kind("voucher_sold")


def test_which_kinds_a_member_may_turn_off():
    assert set(kinds.OPTIONAL) == {"voucher_issued", "voucher_expiring", "pickup_expiring", "points_expiring"}


def test_links_name_the_page_the_notice_is_about():
    assert kinds.link("voucher_issued", SAMPLES["voucher_issued"]) == ("vouchers.detail", {"voucher_id": 7})
    assert kinds.link("points_expiring", SAMPLES["points_expiring"]) == ("points.my_points", {})
    assert kinds.link("payout_made", SAMPLES["payout_made"]) == ("medical.mine", {})


def test_the_http_body_is_stable_json_and_its_signature_verifies():
    out = channels.Outgoing(41, "voucher_issued", "13812345678", "您收到一张扶贫暖心券", "voucher_issued:7")
    body = channels.body_of(out)
    assert body == channels.body_of(out)            # the same bytes on every try
    assert json.loads(body) == {"notice_id": 41, "kind": "voucher_issued", "phone": "13812345678",
                                "text": "您收到一张扶贫暖心券", "dedupe_key": "voucher_issued:7"}
    assert "扶贫".encode() in body                  # UTF-8, not \\u escapes
    signature = channels.sign(b"s3cret", body)
    assert signature == "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert signature != channels.sign(b"other", body)
    assert signature != channels.sign(b"s3cret", body.replace(b"41", b"42"))


def test_an_http_channel_needs_its_url_and_secret():
    with pytest.raises(channels.ChannelNotConfigured):
        channels.from_config({"NOTICE_CHANNEL": "http", "NOTICE_GATEWAY_URL": "http://127.0.0.1:9/", "NOTICE_GATEWAY_SECRET": ""})
    with pytest.raises(channels.ChannelNotConfigured):
        channels.from_config({"NOTICE_CHANNEL": "pigeon"})
    assert isinstance(channels.from_config({"NOTICE_CHANNEL": "log"}), channels.LogChannel)


def test_phones_in_free_text_are_masked_and_other_numbers_are_not():
    assert mask_phones_in("请致电13812345678或 15900001111。") == "请致电138****5678或 159****1111。"
    assert mask_phones_in("卡号 6222021234567890123，金额 13812345678.5") == "卡号 6222021234567890123，金额 13812345678.5"
    assert mask_phones_in("订单 12812345678") == "订单 12812345678"


def test_the_end_of_suite_log_scan_finds_phone_numbers_and_nothing_else():
    from tests.logscan import find_mobile_numbers
    assert find_mobile_numbers("notice 7 (voucher_issued) to 13812345678: …") == ["13812345678"]
    assert find_mobile_numbers("phone=15900001111,") == ["15900001111"]
    for harmless in ("notice 7 to 138****5678", "card 6222021234567890123", "id 341602198506150171",
                     "at 1733412345678 ms", "took 13812345678.25 us", "req 12812345678", "x13812345678"):
        assert find_mobile_numbers(harmless) == [], harmless


@pytest.mark.parametrize("overrides, warned", [
    ({}, True),                                                     # http, but no URL nor secret
    ({"NOTICE_CHANNEL": "log"}, True),
    ({"NOTICE_GATEWAY_URL": "https://sms.example/send", "NOTICE_GATEWAY_SECRET": "k"}, False),
])
def test_production_starts_without_a_gateway_but_says_so(monkeypatch, caplog, overrides, warned):
    from benefits import create_app
    from config import ProductionConfig
    for name, value in (("SECRET_KEY", "s" * 32), ("DATABASE_URL", "postgresql://db/benefits"), ("REDIS_URL", "off")):
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.WARNING, logger="benefits.notices")
    app = create_app(ProductionConfig, {"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://db/benefits", "REDIS_URL": None,
                                        **overrides})
    assert app.config["NOTICE_LOG_CHANNEL_ALLOWED"] is False
    assert any("no SMS gateway configured" in r.getMessage() for r in caplog.records) is warned
