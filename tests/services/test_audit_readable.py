"""Every kind of audit entry the services write reads as words: each field has a label, each value
is named (no raw codes such as `active`, `percent`, `pickup`), money is in yuan, times are China
time to the second, ids name their objects.

One world in which the services write (nearly) every action there is; a new field or a new code
value without words fails here. (That every *action* has a name is read from the source:
tests/unit/test_audit_labels.py.)"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from benefits import clock
from benefits.audit import labels, readable
from benefits.audit.models import AuditEntry
from benefits.auth import staff
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.medical import service as medical
from benefits.members import importing
from benefits.members import service as members
from benefits.merchants import service as merchants
from benefits.pii import make_id_number
from benefits.points import service as points
from benefits.prizes import service as prizes
from benefits.promotions import rules as promotions
from benefits.quiz import bank, quizzes
from benefits.transactions import settlement
from benefits.vouchers import service as vouchers
from tests import factories, festival_factories, medical_factories, voucher_factories
from tests.prize_factories import pickup_point, prize, rich_member
from tests.services.quiz_world import bank as question_bank

# Values that are names by nature (people's, files', accounts'), free text, or ids of no use to name.
FREE_TEXT = {"name", "title", "username", "file", "source", "prefix", "label", "type", "code", "reason",
             "stem", "job_type", "tags", "contact_name", "address", "number", "id_number", "phone"}
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4"
       b"\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")


def _redeem(user, p, key):
    args = {"quantity": 1, "pickup_point_id": None, "delivery_address": None, "delivery_phone": None}
    return prizes.redeem_prize(p.id, args, key, user_id=user.id, signed_in=lambda: user)


@pytest.fixture
def everything(app):
    """Writes one of (nearly) every action, by a city admin of Bozhou."""
    with unit_of_work():
        tree = factories.org_tree()
        admin = factories.admin(tree["bozhou"], "bozhou_admin")
        second = factories.admin(tree["bozhou"], "second_admin")
        # members and cards
        m = factories.member(tree["gujing"], name="李娜", category="hardship")
        members.freeze_card(admin, m.current_card)
        members.unfreeze_card(admin, m.current_card)
        members.report_lost_and_reissue(admin, m.current_card)
        members.create_activation_code(admin, m)
        left = factories.member(tree["gujing"], name="退会者")
        members.record_leave(admin, left)
        members.record_rejoin(admin, left)
        csv = "org_code,name,id_number,phone,category\n341602001,新会员,{},13900001111,retiree\n".format(
            make_id_number("341602", datetime(1990, 1, 2).date(), 5))
        importing.import_members(admin, "名单.csv", csv.encode(), scope=admin.org, skip_invalid=False,
                                 max_rows=100, max_uncompressed=10 ** 7)
        # merchants, stores, cashiers, keys, statements
        shop = merchants.create_merchant(admin, admin.org, tree["bozhou"], name="华联超市", category="supermarket",
                                         contact_name="赵经理", contact_phone="13800001111")
        merchants.update_merchant(admin, shop, name="华联超市", category="supermarket", status="suspended",
                                  contact_name="赵经理", contact_phone="13800001111", accepts_card_number=False)
        store = merchants.add_store(admin, shop, name="一店", address="亳州")
        merchants.set_store_open(admin, store, False)
        merchants.create_cashier(admin, shop, username="hualian01", display_name="小王", password="Cashier-2026!",
                                 store=store)
        key, _plain = merchants.issue_terminal_key(admin, store, "1号机")
        merchants.revoke_terminal_key(admin, key)
        settlement.close_statement(admin, shop, clock.business_day() - timedelta(days=1))
        # promotions
        rule = promotions.create_rule(admin, admin.org, {
            "name": "周末九折", "kind": "percent", "pay_bp": 9000, "scope": "stores", "store_ids": [store.id],
            "days_of_week": [6, 7], "hour_from": 8, "hour_to": 20, "per_member": {"day": 1, "month": 4},
            "member_categories": ["hardship"], "member_org_id": tree["qiaocheng"].id, "budget_fen": 100_000,
            "split": {"union": 50, "bank": 30, "merchant": 20}, "valid_from": "2026-01-01",
            "valid_until": "2026-12-31", "cap_fen": 5000, "global_limit": 100})
        promotions.edit_rule(admin, admin.org, rule, {
            "name": "周末八五折", "kind": "repeating", "threshold_fen": 10000, "off_fen": 1500, "max_repeats": 3,
            "scope": "categories", "categories": ["supermarket", "dining"], "split": {"union": 100}})
        promotions.set_status(admin, rule, "paused")
        # vouchers
        p = voucher_factories.programme(admin.org, scope="merchants", merchant_ids=[shop.id])
        vouchers.issue(admin, p, vouchers.Target(member_categories=("hardship",)))
        voucher = db.session.scalars(select(vouchers.Voucher)).first()
        vouchers.void(admin, voucher, "发错了")
        vouchers.close_programme(admin, p)
        # quiz
        job_type = question_bank("电工", count=3)
        bank.create_job_type(admin, "WG", "焊工")
        question = bank.create_question(admin, {"job_type_id": job_type.id, "kind": "truefalse", "stem": "安全第一",
                                                "options": ["正确", "错误"], "answer": "A", "score": 1,
                                                "difficulty": 1, "tags": ["安全"], "explanation": ""})
        bank.set_question_enabled(admin, question.id, False)
        bank.set_question_enabled(admin, question.id, True)
        bank.import_questions(admin, [{"job_type": "焊工", "kind": "single", "stem": "焊接", "options": ["甲", "乙"],
                                       "answer": "A", "score": 1, "difficulty": 2, "tags": [], "explanation": "",
                                       "line": 2}], [], skip_bad=False)
        quiz = quizzes.create_quiz(admin, admin.org, {
            "title": "安全月", "job_type_ids": [job_type.id], "question_count": 2, "mode": "scored",
            "time_limit_seconds": 600, "late_policy": "refuse", "pass_percent": 60, "pass_bonus": 5,
            "opens_at": datetime(2026, 5, 1, 0, 0, tzinfo=timezone.utc)})
        quizzes.update_quiz(admin, admin.org, quiz.id, {"title": "安全生产月", "grace_seconds": 45,
                                                        "partial_credit": True})
        # points and prizes
        rich = rich_member(tree["gujing"], 100_000, name="王小明")
        points.adjust(admin, rich.member, 50, "比赛奖励")
        point = pickup_point(admin, tree["gujing"])
        umbrella = prize(admin, point, name="雨伞", cost=100, stock=5, eligible_categories=["ordinary", "retiree"])
        prizes.update_prize(admin, admin.org, umbrella, {"cost_points": 120, "is_listed": False, "per_day_limit": 1,
                                                         "closes_at": datetime(2026, 12, 31, 15, 59, 59,
                                                                               tzinfo=timezone.utc)})
        prizes.restock(admin, admin.org, umbrella, 3, point.id)
        prizes.set_image(admin, umbrella, PNG)
        prizes.update_prize(admin, admin.org, umbrella, {"is_listed": True, "per_day_limit": None,
                                                         "category": "household"})
        fridge = prize(admin, point, name="冰箱", cost=5000, stock=2, high_value=True)
        pickup = factories.pickup_staff(tree["gujing"], "gujing_pickup")
        handed = _redeem(rich, umbrella, "a1")
        prizes.hand_over(pickup, point.id, handed["pickup_code"])
        approved = _redeem(rich, fridge, "a2")
        prizes.approve(second, second.org, approved["id"])
        rejected = _redeem(rich, fridge, "a3")
        prizes.reject(second, second.org, rejected["id"])
        # festival gifts
        rice = festival_factories.item(admin, point, name="大米油礼包")
        campaign = festival_factories.campaign(admin, [(rice, point, 10)], categories=("hardship",))
        pears = festival_factories.item(admin, name="砀山梨")
        gift = db.session.scalars(select(festival_factories.festival.FestivalGift)).first()
        festival_factories.festival.add_gift(admin, admin.org, campaign, {"prize_id": pears.id, "pickup_point_id": None,
                                                                          "stock": 4})
        festival_factories.festival.restock_gift(admin, campaign, gift.id, 5)
        # medical benefit
        programme = medical.create_programme(admin, admin.org, {
            "name": "2020 医疗普惠", "year": 2020, "threshold_fen": 100_000, "amount_fen": 20_000,
            "budget_fen": 2_000_000, "member_categories": ["hardship"]})
        medical.import_claims(admin, programme, "yibao.csv", medical_factories.claims_csv(
            [medical_factories.claim(m, "3000.00")]), max_uncompressed=10 ** 7)
        batch = medical.create_batch(admin, programme)
        medical.approve_batch(second, batch)
        # staff accounts
        county = staff.create_staff(admin, admin.org, role="admin", username="qiaocheng_admin",
                                    display_name="谯城管理员", password="County-2026!", org_id=tree["qiaocheng"].id)
        staff.set_staff_enabled(admin, admin.org, county, False)
        staff.set_staff_enabled(admin, admin.org, county, True)
        staff.reset_password(admin, admin.org, county)
    with unit_of_work():
        programme2 = medical_factories.programme(tree["bozhou"], year=2021)
        medical.import_claims(admin, programme2, "yibao.csv", medical_factories.claims_csv(
            [medical_factories.claim(m, "3000.00", year=2021)]), max_uncompressed=10 ** 7)
        medical.reject_batch(second, medical.create_batch(admin, programme2))
    return tree


@pytest.fixture
def chinese(app):
    """Words come in the language of a request: a Chinese one here."""
    with app.test_request_context("/admin/audit"):
        yield


def test_every_entry_reads_as_words(everything, chinese):
    entries = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    written = {e.action for e in entries}
    assert len(written) >= 48, sorted(set(labels.ACTIONS) - written)
    unlabelled, raw = set(), []
    names = readable.names_for(entries)
    for entry in entries:
        for snapshot in (entry.before, entry.after):
            for values in readable._dicts_in(snapshot):
                unlabelled |= {(entry.action, key) for key in values
                               if key not in labels.HIDDEN and labels.field_label(entry.target_type, key) is None}
        for key in set(entry.before or {}) | set(entry.after or {}):
            if key in FREE_TEXT or key in labels.HIDDEN:
                continue
            for value in ((entry.before or {}).get(key), (entry.after or {}).get(key)):
                text = readable.format_value(entry.target_type, labels.area_of(entry.action), key, value, names)
                if re.search(r"[A-Za-z]{2,}", text.replace("KB", "")):
                    raw.append((entry.action, key, value, text))
    assert not unlabelled, f"fields without a label in benefits/audit/labels.py FIELDS: {sorted(unlabelled)}"
    assert not raw, f"values shown as codes: {raw}"


def test_objects_are_named_and_members_masked(everything, chinese):
    entries = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    shown = {e.action: e for e in readable.readable(entries)}
    assert shown["card.freeze"].target.text.startswith("李* 的会员卡 ")
    assert shown["member.leave"].target.text == "退**" and shown["member.leave"].target.link[0] == "admin.member_detail"
    assert shown["points.adjust"].target.text == "王**"
    assert shown["redemption.hand_over"].target.text == "雨伞 · 王**"
    assert shown["redemption.hand_over"].actor.text == "领奖点（核销员）"
    assert shown["user.disable"].target.text == "谯城管理员（管理员）"
    assert shown["voucher.void"].target.text == "扶贫暖心券 · 李*"
    assert shown["store.update"].target.text == "华联超市 · 一店"
    assert shown["terminal_key.revoke"].target.text == "一店 · 1号机"
    assert shown["promotion.status"].target.text == "周末八五折"
    assert shown["medical_batch.approve"].target.text.startswith("2020 医疗普惠 · ")
    assert shown["member.import"].target.text == "文件 名单.csv"
    assert shown["quiz.question.disable"].target.text == "安全第一"
    changes = {c.label: (c.before, c.after) for c in shown["promotion.edit"].changes}
    assert changes["名称"] == (None, "周末八五折")
    assert changes["优惠类型"] == ("打折", "每满减") and changes["会员支付比例"] == ("90%", "0%")
    assert changes["指定门店"] == ("华联超市 · 一店", "—") and changes["商家类别"] == ("—", "餐饮、超市")
    assert changes["适用星期"] == ("周六、周日", "—") and changes["每日开始时刻"] == ("8:00", "0:00")
    assert changes["每人限用"] == ("每日 1，每月 4", "—") and changes["限定工会"] == ("谯城区总工会", "—")
    assert changes["预算"] == ("1000.00 元", "—") and changes["分摊比例"] == ("工会 50%，银行 30%，商家 20%",
                                                                          "工会 100%，银行 0%，商家 0%")
    prize_edit = {c.label: (c.before, c.after) for c in shown["prize.update"].changes}
    assert prize_edit == {"上架": ("否", "是"), "每人每日限兑": ("1", "—"), "品类": ("其他", "日用百货")}
    quiz = {c.label: c.after for c in shown["quiz.create"].changes}
    assert quiz["答题时限"] == "10 分钟" and quiz["超时交卷"] == "不予受理" and quiz["开始时间"] == "2026-05-01 08:00:00"
    assert {c.label: c.after for c in shown["quiz.update"].changes}["交卷宽限"] == "45 秒"
    assert {c.label: c.after for c in shown["points.adjust"].changes}["积分变动"] == "+50 积分"
    merchant = {c.label: (c.before, c.after) for c in shown["merchant.update"].changes}
    assert merchant == {"状态": ("合作中", "已暂停"), "收银台可输入卡号": ("是", "否")}
    reset = {c.label: c.after for c in shown["user.password_reset"].changes}
    assert reset == {"系统生成的密码": "是", "已登录的设备退出": "是"}
    festival = {c.label: c.after for c in shown["festival_campaign.create"].changes}
    assert festival["可参加的会员类别"] == "困难职工" and "大米油礼包" in festival["礼品"]
