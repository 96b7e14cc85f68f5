"""The audit log in words: the one table of action names, field labels and value names.

Every action the code records (`audit.record(actor, "prize.create", …)` anywhere in `benefits/`)
has a line in ACTIONS with its area and its Chinese name; `tests/unit/test_audit_labels.py`
reads every such call from the source and fails for an action without one. Every field that a
before/after snapshot holds has a label in FIELDS (or is listed in HIDDEN): the service tests
record one of each and check them.

Message ids are the Chinese text (English in `benefits/audit/translations`); the strings are lazy,
so each page renders them in its own language.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..prizes.categories import LABELS as PRIZE_CATEGORIES

# Areas, in the order the filter lists them.
AREAS = {
    "members": _l("会员与会员卡"),
    "accounts": _l("账号"),
    "merchants": _l("普惠商家与结算"),
    "promotions": _l("优惠活动"),
    "vouchers": _l("券活动"),
    "quiz": _l("网上练兵"),
    "points": _l("积分"),
    "prizes": _l("奖品与兑换"),
    "festival": _l("节日福利"),
    "medical": _l("医疗普惠"),
}

# action → (area, name)
ACTIONS = {
    "member.join": ("members", _l("登记入会")),
    "member.leave": ("members", _l("办理退会")),
    "member.rejoin": ("members", _l("重新入会")),
    "member.activation_code": ("members", _l("生成激活码")),
    "member.import": ("members", _l("导入会员")),
    "card.issue": ("members", _l("发卡")),
    "card.freeze": ("members", _l("冻结会员卡")),
    "card.unfreeze": ("members", _l("解冻会员卡")),
    "card.lost": ("members", _l("挂失会员卡")),
    "card.reissue": ("members", _l("补发会员卡")),
    "card.cancel": ("members", _l("注销会员卡")),
    "user.create": ("accounts", _l("新建账号")),
    "user.enable": ("accounts", _l("启用账号")),
    "user.disable": ("accounts", _l("停用账号")),
    "user.password_reset": ("accounts", _l("重置密码")),
    "merchant.create": ("merchants", _l("新建商家")),
    "merchant.update": ("merchants", _l("修改商家")),
    "merchant.cashier_create": ("merchants", _l("新建收银员")),
    "store.create": ("merchants", _l("新增门店")),
    "store.update": ("merchants", _l("修改门店")),
    "terminal_key.issue": ("merchants", _l("发放终端密钥")),
    "terminal_key.revoke": ("merchants", _l("吊销终端密钥")),
    "statement.close": ("merchants", _l("生成结算单")),
    "promotion.create": ("promotions", _l("新建优惠活动")),
    "promotion.edit": ("promotions", _l("修改优惠活动")),
    "promotion.status": ("promotions", _l("暂停或恢复优惠活动")),
    "voucher_programme.create": ("vouchers", _l("新建券活动")),
    "voucher_programme.close": ("vouchers", _l("结束券活动发放")),
    "voucher_batch.issue": ("vouchers", _l("批量发券")),
    "voucher.void": ("vouchers", _l("作废券")),
    "quiz.create": ("quiz", _l("新建答题活动")),
    "quiz.update": ("quiz", _l("修改答题活动")),
    "quiz.job_type.create": ("quiz", _l("新增工种")),
    "quiz.question.create": ("quiz", _l("新增题目")),
    "quiz.question.enable": ("quiz", _l("启用题目")),
    "quiz.question.disable": ("quiz", _l("停用题目")),
    "quiz.question.import": ("quiz", _l("导入题目")),
    "points.adjust": ("points", _l("调整积分")),
    "pickup_point.create": ("prizes", _l("新增领奖点")),
    "prize.create": ("prizes", _l("新建奖品")),
    "prize.update": ("prizes", _l("修改奖品")),
    "prize.restock": ("prizes", _l("补充奖品库存")),
    "prize.image": ("prizes", _l("上传奖品图片")),
    "redemption.hand_over": ("prizes", _l("核销领奖")),
    "redemption.approve": ("prizes", _l("批准兑换")),
    "redemption.reject": ("prizes", _l("驳回兑换")),
    "festival_campaign.create": ("festival", _l("新建节日福利活动")),
    "festival_campaign.add_gift": ("festival", _l("添加福利礼品")),
    "festival_campaign.restock": ("festival", _l("补充福利礼品库存")),
    "medical_programme.create": ("medical", _l("新建医疗普惠项目")),
    "medical_claims.import": ("medical", _l("导入医保自付数据")),
    "medical_batch.create": ("medical", _l("生成慰问金批次")),
    "medical_batch.approve": ("medical", _l("审批通过慰问金批次")),
    "medical_batch.reject": ("medical", _l("驳回慰问金批次")),
    "medical_payouts.reissue": ("medical", _l("重新发放慰问金")),
    "medical_returns.import": ("medical", _l("导入银行回盘")),
}

# What an entry is about (`target_type`), for the object's kind when it cannot be named.
KINDS = {
    "member": _l("会员"), "card": _l("会员卡"), "user": _l("账号"), "import": _l("导入"),
    "organisation": _l("工会"), "merchant": _l("商家"), "store": _l("门店"), "terminal_key": _l("终端密钥"),
    "statement": _l("结算单"), "promotion_rule": _l("优惠活动"), "voucher_programme": _l("券活动"),
    "voucher_batch": _l("发券批次"), "voucher": _l("券"), "quiz": _l("答题活动"), "job_type": _l("工种"),
    "question": _l("题目"), "pickup_point": _l("领奖点"), "prize": _l("奖品"), "redemption": _l("兑换"),
    "festival_campaign": _l("节日福利活动"), "festival_gift": _l("福利礼品"),
    "medical_programme": _l("医疗普惠项目"), "medical_batch": _l("慰问金批次"),
    "medical_payout_file": _l("慰问金发放文件"),
}

# Field labels, whatever the action; (target_type, field) where one word means two things.
FIELDS = {
    "name": _l("名称"), "title": _l("标题"), "code": _l("代码"), "status": _l("状态"),
    "category": _l("类别"), "categories": _l("商家类别"), "org_id": _l("所属工会"),
    "id_number": _l("身份证号"), "phone": _l("手机号"), "number": _l("卡号"),
    "username": _l("账号"), "role": _l("角色"), "enabled": _l("可以登录"),
    "generated": _l("系统生成的密码"), "sessions_ended": _l("已登录的设备退出"),
    "file": _l("文件"), "rows": _l("行数"), "imported": _l("已导入"), "skipped": _l("已跳过"),
    "bad_rows": _l("有错误的行"), "added": _l("新增"), "updated": _l("已更新"), "unchanged": _l("无变化"),
    "merchant_id": _l("商家"), "store_id": _l("门店"), "merchant_ids": _l("指定商家"),
    "store_ids": _l("指定门店"), "contact_name": _l("联系人"), "contact_phone": _l("联系电话"),
    "accepts_card_number": _l("收银台可输入卡号"), "address": _l("地址"), "is_open": _l("营业中"),
    "label": _l("备注"), "prefix": _l("密钥开头"), "revoked": _l("已吊销"),
    "period_start": _l("结算起始日"), "period_end": _l("结算截止日"),
    "union_owes_fen": _l("工会应付"), "bank_owes_fen": _l("银行应付"),
    "version": _l("版本"), "kind": _l("优惠类型"), "pay_bp": _l("会员支付比例"),
    "threshold_fen": _l("满额"), "off_fen": _l("减免金额"), "max_repeats": _l("最多叠加次数"),
    "cap_fen": _l("优惠封顶"), "valid_from": _l("开始日期"), "valid_until": _l("结束日期"),
    "days_of_week": _l("适用星期"), "hour_from": _l("每日开始时刻"), "hour_to": _l("每日结束时刻"),
    "scope": _l("适用范围"), "member_categories": _l("会员类别"), "member_org_id": _l("限定工会"),
    "per_member": _l("每人限用"), "global_limit": _l("总次数上限"), "budget_fen": _l("预算"),
    "split": _l("分摊比例"), "priority": _l("优先级"), "combinable": _l("可与其他优惠同享"),
    "face_fen": _l("面值"), "topup_bp": _l("商家加赠比例"), "topup_fen": _l("商家加赠"),
    "value_fen": _l("可用金额"), "spend_mode": _l("使用方式"), "min_spend_fen": _l("最低消费"),
    "programme_id": _l("所属项目"), "issued": _l("发放张数"), "not_issued_for_budget": _l("因预算不足未发"),
    "target": _l("发放对象"), "source": _l("名单文件"), "balance_fen": _l("余额"), "reason": _l("原因"),
    "job_type": _l("工种"), "job_type_ids": _l("工种"), "stem": _l("题干"), "is_enabled": _l("启用"),
    "tags": _l("标签"), "question_count": _l("题量"), "mode": _l("模式"),
    "time_limit_seconds": _l("答题时限"), "grace_seconds": _l("交卷宽限"), "late_policy": _l("超时交卷"),
    "attempts_per_day": _l("每日次数"), "min_delay_seconds": _l("两次间隔"),
    "points_per_correct": _l("每题积分"), "partial_credit": _l("多选题部分得分"),
    "pass_percent": _l("及格线"), "pass_bonus": _l("及格奖励积分"), "daily_points_cap": _l("每日积分上限"),
    "opens_at": _l("开始时间"), "closes_at": _l("结束时间"), "amount": _l("积分变动"),
    "balance_after": _l("变动后余额"), "office_org_id": _l("所在工会"), "cost_points": _l("所需积分"),
    "stock": _l("库存"), "per_day_limit": _l("每人每日限兑"), "per_month_limit": _l("每人每月限兑"),
    "lifetime_limit": _l("每人累计限兑"), "daily_quota": _l("每日总量"),
    "eligible_org_id": _l("可参加的工会"), "eligible_categories": _l("可参加的会员类别"),
    "fulfilment": _l("领取方式"), "high_value": _l("高价值（需第二人审批）"), "is_listed": _l("上架"),
    "pickup_point_id": _l("领奖点"), "bytes": _l("文件大小"), "type": _l("文件类型"),
    "prize_id": _l("奖品"), "quantity": _l("数量"), "member_id": _l("会员"), "refunded": _l("退回积分"),
    "pickup_until": _l("领取截止日"), "gifts": _l("礼品"), "gift_id": _l("礼品"),
    "allocated": _l("投放数量"), "year": _l("年度"),
    "amount_fen": _l("慰问金额"), "members": _l("人数"), "total_fen": _l("总金额"),
    "payout_file_id": _l("发放文件"), "payouts": _l("发放笔数"), "without_card": _l("无有效卡未发"),
    "paid": _l("已到账"), "failed": _l("失败"),
}
FIELDS_BY_KIND = {
    ("member", "name"): _l("姓名"), ("user", "name"): _l("姓名"), ("prize", "category"): _l("品类"),
    ("medical_programme", "threshold_fen"): _l("起付线（自付超过）"),
    ("voucher_programme", "per_member"): _l("每人张数"),
    ("voucher_programme", "scope"): _l("可用范围"),
}
# Kept in the entry for the record, not worth a reader's line.
HIDDEN = frozenset({"member_org_path", "image_id"})

# Field → the kind of object its id (or list of ids) names. `programme_id` depends on the area.
REFERENCES = {
    "org_id": "organisation", "eligible_org_id": "organisation", "office_org_id": "organisation",
    "member_org_id": "organisation", "merchant_id": "merchant", "merchant_ids": "merchant",
    "store_id": "store", "store_ids": "store", "prize_id": "prize", "pickup_point_id": "pickup_point",
    "member_id": "member", "job_type_ids": "job_type", "gift_id": "festival_gift",
    "payout_file_id": "medical_payout_file",
}
PROGRAMME_BY_AREA = {"vouchers": "voucher_programme", "medical": "medical_programme"}

MONEY_SUFFIX = "_fen"
BASIS_POINT_FIELDS = frozenset({"pay_bp", "topup_bp"})
PERCENT_FIELDS = frozenset({"pass_percent"})
SECOND_FIELDS = frozenset({"time_limit_seconds", "grace_seconds", "min_delay_seconds"})
POINT_FIELDS = frozenset({"cost_points", "amount", "balance_after", "points_per_correct", "pass_bonus",
                          "daily_points_cap", "refunded"})
HOUR_FIELDS = frozenset({"hour_from", "hour_to"})
CATEGORY_FIELDS = frozenset({"category", "categories", "member_categories", "eligible_categories"})
OPEN_WHEN_EMPTY = frozenset({"member_categories", "eligible_categories"})   # none chosen: everyone

ROLES = {"member": _l("会员"), "merchant_staff": _l("收银员"), "pickup_staff": _l("核销员"), "admin": _l("管理员")}

# Field → value → name. Member, merchant and prize categories share no code but "other" (其他 in
# each), so one table serves all three; the prizes' names live with their list.
VALUES = {
    "category": {
        "ordinary": _l("普通会员"), "hardship": _l("困难职工"), "retiree": _l("退休职工"),
        "model_worker": _l("劳动模范"), "fuel": _l("加油站"), "supermarket": _l("超市"), "dining": _l("餐饮"),
        "transport": _l("公交出行"), "retail": _l("零售"), "other": _l("其他"), **PRIZE_CATEGORIES},
    "role": ROLES,
    "kind": {"percent": _l("打折"), "threshold": _l("满减"), "repeating": _l("每满减")},
    "scope": {"programme": _l("本工会全部商家"), "categories": _l("指定商家类别"),
              "merchants": _l("指定商家"), "stores": _l("指定门店")},
    "spend_mode": {"single": _l("一次用完"), "balance": _l("分次使用")},
    "mode": {"practice": _l("练习"), "scored": _l("计分")},
    "late_policy": {"grade_saved": _l("按已保存的答案评分"), "refuse": _l("不予受理")},
    "fulfilment": {"pickup": _l("到领奖点领取"), "delivery": _l("配送")},
    "target": {"target": _l("按会员类别或工会"), "list": _l("按名单")},
    "days_of_week": {1: _l("周一"), 2: _l("周二"), 3: _l("周三"), 4: _l("周四"), 5: _l("周五"),
                     6: _l("周六"), 7: _l("周日")},
}
# Status words differ by object: an active card is 正常, an active merchant 合作中.
STATUSES = {
    "member": {"active": _l("在会"), "left": _l("已退会")},
    "card": {"active": _l("正常"), "frozen": _l("已冻结"), "lost": _l("已挂失"), "cancelled": _l("已注销")},
    "merchant": {"active": _l("合作中"), "suspended": _l("已暂停"), "ended": _l("已终止")},
    "promotion_rule": {"active": _l("进行中"), "paused": _l("已暂停")},
    "voucher_programme": {"active": _l("发放中"), "closed": _l("已结束发放")},
    "voucher": {"active": _l("可用"), "spent": _l("已用完"), "expired": _l("已过期"), "voided": _l("已作废")},
}
# Keys inside a dict value.
DICT_KEYS = {
    "split": {"union": _l("工会"), "bank": _l("银行"), "merchant": _l("商家")},
    "per_member": {"day": _l("每日"), "week": _l("每周"), "month": _l("每月"), "total": _l("累计")},
}


def area_of(action: str) -> str | None:
    known = ACTIONS.get(action)
    return known[0] if known else None


def action_name(action: str):
    known = ACTIONS.get(action)
    return known[1] if known else action


def field_label(kind: str, field: str):
    return FIELDS_BY_KIND.get((kind, field)) or FIELDS.get(field)


def actions_in_area(area: str) -> list[str]:
    return [action for action, (where, _name) in ACTIONS.items() if where == area]


def action_groups() -> list[tuple[str, object, list[tuple[str, object]]]]:
    """For the filter: [(area, area name, [(action, action name), …]), …] in AREAS order."""
    return [(area, name, [(action, label) for action, (where, label) in ACTIONS.items() if where == area])
            for area, name in AREAS.items()]
