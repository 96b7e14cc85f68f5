"""Demo quiz data: the 24 job types, a few hundred questions, quizzes open now, some attempts
(so leaderboards and the demo member's points history have content), and a generator for a
full 31,713-question bank (`flask quiz generate-bank`)."""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from sqlalchemy import select

from .. import clock
from ..auth import service as auth
from ..auth.models import User
from ..members.models import Member
from ..points import service as points
from ..extensions import db
from . import attempts, bank, grading, importers, quizzes
from .models import Attempt

JOB_TYPES = [
    ("DG", "电工"), ("HG", "焊工"), ("CG", "车工"), ("QG", "钳工"), ("NJG", "酿酒工"), ("ZQG", "制曲工"),
    ("BZG", "包装工"), ("HS", "护士"), ("JSY", "驾驶员"), ("JYY", "加油员"), ("SYY", "收银员"),
    ("BAY", "保安员"), ("CS", "厨师"), ("DTG", "电梯安装维修工"), ("QZG", "起重工"), ("GLG", "锅炉工"),
    ("HYY", "化验员"), ("GDG", "管道工"), ("CCSJ", "叉车司机"), ("CKY", "仓库管理员"),
    ("GJSJ", "公交驾驶员"), ("SKXG", "数控铣工"), ("ZJY", "质检员"), ("YYY", "营业员"),
]

# Common knowledge for every trade (safety, fire, labour law, the union) is a bank of its own that
# every demo quiz draws from beside its trades' banks, so each question is in the bank once and a
# quiz over several job types never shows one twice.
COMMON_JOB_TYPE = ("GG", "公共知识")
COMMON = [
    ("single", "《中华人民共和国安全生产法》规定，从业人员发现直接危及人身安全的紧急情况时，有权？",
     ["继续作业并报告", "停止作业或者在采取可能的应急措施后撤离作业场所", "等待班长指示", "拍照留证后继续作业"], "B",
     "安全生产法赋予从业人员紧急情况下停止作业和紧急撤离的权利。", "安全生产法"),
    ("single", "火灾报警电话是？", ["110", "119", "120", "122"], "B", "119 为火警电话。", "消防"),
    ("single", "使用干粉灭火器时，应对准火焰的哪个部位喷射？", ["火焰上部", "火焰中部", "火焰根部", "任意部位"], "C",
     "对准火焰根部喷射才能有效灭火。", "消防"),
    ("multiple", "下列属于劳动者享有的权利的有？", ["取得劳动报酬", "休息休假", "获得劳动安全卫生保护", "拒绝参加任何培训"],
     "ABC", "劳动法第三条列明劳动者的各项权利，接受职业技能培训也是劳动者的权利而非拒绝培训。", "劳动法"),
    ("truefalse", "工会会员有权对工会工作提出批评和建议。", None, "A", "这是《中国工会章程》规定的会员权利。", "工会章程"),
    ("single", "我国法定的标准工作时间是每日不超过几小时？", ["6 小时", "8 小时", "10 小时", "12 小时"], "B",
     "国家实行劳动者每日工作时间不超过八小时的工时制度。", "劳动法"),
    ("truefalse", "安全帽只要外观完好，超过使用期限也可以继续使用。", None, "B", "安全帽超过使用期限应报废更换。", "劳动防护"),
    ("multiple", "“三违”是指？", ["违章指挥", "违章作业", "违反劳动纪律", "违反财务制度"], "ABC",
     "“三违”指违章指挥、违章作业、违反劳动纪律。", "安全生产"),
    ("single", "发生触电事故时，首先应当？", ["立即用手拉开触电者", "迅速切断电源", "拨打 110", "往触电者身上泼水"], "B",
     "首先使触电者脱离电源，切断电源是最安全的方法。", "急救"),
    ("truefalse", "职工因工作遭受事故伤害，应当认定为工伤。", None, "A", "《工伤保险条例》第十四条。", "工伤保险"),
]

SPECIFIC = {
    "电工": [
        ("single", "我国工频交流电的频率是？", ["50 Hz", "60 Hz", "100 Hz", "25 Hz"], "A", "我国电网标准频率为 50 赫兹。", "电工基础"),
        ("single", "停电检修时，在一经合闸即可送电到工作地点的开关操作把手上，应悬挂的标示牌是？",
         ["止步，高压危险！", "禁止合闸，有人工作！", "在此工作！", "从此上下！"], "B", "防止误合闸送电。", "安全规程"),
        ("multiple", "保证电气作业安全的技术措施包括？", ["停电", "验电", "装设接地线", "悬挂标示牌和装设遮栏"], "ABCD",
         "停电、验电、接地、悬挂标示牌和装设遮栏是四项技术措施。", "安全规程"),
        ("truefalse", "万用表测量电阻时，被测电路可以带电。", None, "B", "测电阻必须断电，否则会损坏仪表并造成误差。", "仪表"),
        ("single", "三相异步电动机的转速主要取决于？", ["电压高低", "电源频率和磁极对数", "负载大小", "导线粗细"], "B",
         "同步转速 n=60f/p。", "电机"),
        ("single", "人体安全电压一般规定为不超过？", ["36 V", "110 V", "220 V", "380 V"], "A", "一般环境安全电压为 36 伏。", "电工基础"),
    ],
    "焊工": [
        ("single", "电焊作业时，焊工应佩戴的防护用品不包括？", ["焊接面罩", "绝缘手套", "防静电化纤服", "绝缘鞋"], "C",
         "化纤服遇火花易熔化粘附皮肤，应穿阻燃工作服。", "劳动防护"),
        ("truefalse", "在有易燃易爆物品的场所动火作业，必须办理动火作业许可证。", None, "A", "动火作业必须审批。", "动火作业"),
        ("multiple", "焊接烟尘对人体的危害可能导致？", ["电焊工尘肺", "锰中毒", "金属烟热", "近视"], "ABC", "焊接烟尘含锰等有害物质。", "职业健康"),
        ("single", "二氧化碳气体保护焊常用的保护气体是？", ["氧气", "氩气", "二氧化碳", "氮气"], "C", "顾名思义。", "焊接工艺"),
        ("single", "气割时氧气瓶与乙炔瓶的间距应不小于？", ["1 米", "3 米", "5 米", "10 米"], "C", "两瓶间距不小于 5 米，与明火不小于 10 米。", "气瓶安全"),
    ],
    "酿酒工": [
        ("single", "古井贡酒属于哪种香型白酒？", ["酱香型", "浓香型", "清香型", "米香型"], "B", "古井贡酒为浓香型（古香型）白酒代表。", "白酒知识"),
        ("single", "浓香型白酒发酵所用的窖池通常是？", ["不锈钢罐", "泥窖", "陶坛", "石窖"], "B", "浓香型白酒采用泥窖固态发酵。", "酿造工艺"),
        ("multiple", "白酒酿造的主要原料可包括？", ["高粱", "小麦", "大米", "糯米"], "ABCD", "多粮浓香型白酒常用五粮。", "原料"),
        ("truefalse", "“掐头去尾”是指蒸馏时分段摘取酒头和酒尾。", None, "A", "酒头、酒尾单独接取，中段为基酒。", "蒸馏"),
        ("single", "酒精度是指在 20℃ 时酒中乙醇的？", ["质量百分比", "体积百分比", "密度", "浓度比"], "B", "酒精度以体积分数表示。", "白酒知识"),
        ("single", "大曲在白酒生产中主要起什么作用？", ["调味", "糖化和发酵", "着色", "防腐"], "B", "大曲是糖化发酵剂。", "制曲"),
    ],
    "护士": [
        ("single", "成人心肺复苏时胸外按压的频率为每分钟？", ["60–80 次", "80–100 次", "100–120 次", "120–140 次"], "C",
         "按照最新指南，按压频率为每分钟 100–120 次。", "急救"),
        ("multiple", "护理查对制度中的“三查”是指？", ["操作前查", "操作中查", "操作后查", "下班前查"], "ABC", "三查七对。", "护理制度"),
        ("truefalse", "输液时如发现输液部位肿胀、疼痛，应立即停止输液。", None, "A", "可能发生液体外渗。", "输液"),
        ("single", "正常成人腋下体温范围是？", ["35.0–36.0℃", "36.0–37.0℃", "37.0–38.0℃", "38.0–39.0℃"], "B", "腋温 36.0–37.0℃。", "生命体征"),
        ("single", "使用后的注射针头应放入？", ["生活垃圾桶", "利器盒", "感染性废物袋", "回收箱"], "B", "损伤性废物放入利器盒。", "院感"),
    ],
    "驾驶员": [
        ("single", "机动车在高速公路上行驶，最高车速不得超过？", ["100 km/h", "110 km/h", "120 km/h", "130 km/h"], "C", "道路交通安全法实施条例第七十八条。", "交通法规"),
        ("truefalse", "驾驶机动车时可以手持手机接听电话。", None, "B", "属于妨碍安全驾驶的行为。", "交通法规"),
        ("multiple", "出车前应检查的项目有？", ["轮胎气压", "灯光", "制动", "车载音响"], "ABC", "确保车辆安全技术状况良好。", "安全驾驶"),
        ("single", "饮酒后驾驶机动车，血液中酒精含量达到多少为醉酒驾驶？", ["20 mg/100mL", "50 mg/100mL", "80 mg/100mL", "100 mg/100mL"], "C", "≥80 mg/100mL 为醉驾。", "交通法规"),
    ],
    "加油员": [
        ("single", "加油站内严禁的行为是？", ["刷卡付款", "吸烟和使用明火", "开车门", "排队等候"], "B", "加油站属易燃易爆场所。", "加油站安全"),
        ("truefalse", "给摩托车加油时，驾驶人可以不熄火。", None, "B", "加油时必须熄火。", "加油站安全"),
        ("single", "会员卡在中石化加油享“满200减40”，加油 260 元实付？", ["200 元", "220 元", "240 元", "260 元"], "B", "260−40=220。", "普惠政策"),
        ("multiple", "卸油作业前应做好？", ["连接静电接地", "设置警戒区", "准备灭火器", "开启车载音响"], "ABC", "防止静电引燃油气。", "卸油"),
    ],
    "公交驾驶员": [
        ("single", "公交车进站停靠时应？", ["在站台外随意停车", "按规定在站台内停靠", "在路中间停车", "不停车"], "B", "按规定停靠保障乘客安全。", "运营规范"),
        ("truefalse", "车辆行驶中乘客与驾驶员发生争执，驾驶员可以离开驾驶座处理。", None, "B", "应靠边停车后处置。", "安全驾驶"),
    ],
}


def question_rows() -> list[list]:
    """The demo bank in template rows: the common bank, then each job type's own; every stem once."""
    rows = []
    for name, questions in [(COMMON_JOB_TYPE[1], COMMON), *SPECIFIC.items()]:
        for kind, stem, options, answer, explanation, tag in questions:
            opts = list(options or []) + [""] * (6 - len(options or []))
            rows.append([name, importers.KIND_LABELS[kind], stem, *opts, answer, 1, explanation,
                         2 if kind != "multiple" else 3, tag])
    return rows


_NUMERIC = [
    ("某{jt}班组有 {a} 人，每人每班完成 {b} 件，一个班共完成多少件？", lambda a, b: a * b),
    ("{jt}岗位安全培训每期 {b} 学时，全年 {a} 期，共多少学时？", lambda a, b: a * b),
    ("车间为 {a} 名{jt}每人配发 {b} 副劳保手套，共需多少副？", lambda a, b: a * b),
    ("{jt}技能竞赛初赛有 {a} 组，每组 {b} 人，参赛共多少人？", lambda a, b: a * b),
]


def generate_rows(count: int, rng: random.Random) -> list[list]:
    """`count` template rows spread over the 24 job types: the demo bank, then varied numeric
    and knowledge questions, each stem distinct."""
    base = question_rows()
    rows, n = [], 0
    names = [name for _c, name in JOB_TYPES]
    while len(rows) < count:
        n += 1
        jt = names[n % len(names)]
        if n % 3:
            template, fn = _NUMERIC[n % len(_NUMERIC)]
            a, b = rng.randrange(3, 60), rng.randrange(2, 40)
            right = fn(a, b)
            choices = sorted({right, right + rng.randrange(1, 9), max(1, right - rng.randrange(1, 9)), right + 10})
            while len(choices) < 4:
                choices.append(choices[-1] + 3)
            answer = "ABCD"[choices.index(right)]
            rows.append([jt, "单选", template.format(jt=jt, a=a, b=b) + f"（第 {n} 题）", *map(str, choices), "", "",
                         answer, 1, f"{a} × {b} = {right}。", 1, "计算"])
        else:
            source = base[n % len(base)]
            rows.append([jt, source[1], f"{source[2]}（第 {n} 题）", *source[3:]])
    return rows[:count]


QUIZZES = [
    ("341602001", "古井集团酿酒工技能练兵", ["酿酒工", "制曲工", "包装工"], dict(question_count=10, time_limit_seconds=600,
     attempts_per_day=3, min_delay_seconds=60, points_per_correct=2, pass_percent=80, pass_bonus=10, daily_points_cap=60)),
    ("3416", "亳州市职工安全生产知识竞赛", ["电工", "焊工", "驾驶员", "加油员", "护士"], dict(question_count=10,
     time_limit_seconds=900, attempts_per_day=2, points_per_correct=1, partial_credit=True, pass_percent=60, pass_bonus=5,
     daily_points_cap=40)),
    ("34", "每日一练（练习模式）", [name for _c, name in JOB_TYPES], dict(question_count=5, mode="practice",
     points_per_correct=0)),
]


def load(ctx) -> None:
    types = {name: bank.create_job_type(None, code, name) for code, name in [*JOB_TYPES, COMMON_JOB_TYPE]}
    questions, problems = importers.parse_rows(question_rows())
    assert not problems, problems
    bank.import_questions(None, questions, [], skip_bad=False)
    at = clock.now()
    made = []
    for org_code, title, names, settings in QUIZZES:
        made.append(quizzes.create_quiz(None, ctx.orgs[org_code], {
            "title": title, "job_type_ids": [types[n].id for n in [*names, COMMON_JOB_TYPE[1]]],
            "opens_at": at - timedelta(days=30), "closes_at": at + timedelta(days=60), **settings}))
    _demo_attempts(ctx, made[0])
    ctx.notes.append(f"Quiz: {len(types)} job types, {len(questions)} questions, {len(made)} quizzes open now.")


def _take(member: Member, quiz, at: datetime, rng: random.Random, skill: float) -> None:
    with clock.freeze(at):
        attempt = db.session.get(Attempt, attempts.start_attempt(member.id, quiz.id)["id"])
        answers = {}
        for item in attempt.items:
            right = item.question.answer
            pick = right if rng.random() < skill else rng.choice(item.option_order)
            answers[str(item.position)] = list(grading.to_shown(item.option_order, pick))
        attempts.save_answers(member.id, attempt.id, answers)
    with clock.freeze(at + timedelta(seconds=rng.randrange(120, 500))):
        attempts.submit_attempt(member.id, attempt.id)


def _demo_attempts(ctx, quiz) -> None:
    """The demo member and a few colleagues at 古井 took the brewing quiz over the past days."""
    rng = ctx.rng
    demo_user = db.session.scalar(select(User).where(User.role == "member").order_by(User.id))
    colleagues = list(db.session.scalars(select(Member).where(
        Member.org_id == ctx.orgs["341602001"].id, Member.id != demo_user.member_id).order_by(Member.id).limit(20)))
    players = [demo_user.member]
    for member in colleagues:
        if member.current_card is not None and len(players) < 8:
            auth.activate_member(id_number=member.id_number, card_number=member.current_card.number,
                                 password="demo-pass-2026", address="demo")
            players.append(member)
    now = clock.now()
    for days_ago in (6, 4, 2, 1):
        for member in players:
            if rng.random() < 0.8 or member is players[0]:
                _take(member, quiz, now - timedelta(days=days_ago, hours=rng.randrange(1, 6)), rng, rng.uniform(0.5, 0.95))
    member = players[0]
    last_year = date(now.year - 1, 3, 8)
    points.credit(member.id, 30, source_key="demo:festival", reason="三八节线上活动奖励",
                  expires_on=points.default_expiry(last_year))
    points.credit(member.id, 15, source_key="demo:old-activity", reason="往年答题积分",
                  expires_on=date(now.year - 1, 12, 31))
    points.expire_member(member.id, clock.business_day(now))
    admin = db.session.scalar(select(User).where(User.username == "admin_gujing"))
    points.adjust(admin, member, 20, "车间技能比武一等奖", source_key="demo:adjust-award")
