"""Demo partner merchants from the report (DOMAIN.md): Sinopec / PetroChina stations, supermarkets,
restaurants and a bus company in Bozhou and Maanshan, each with stores and a cashier account;
one terminal key is printed so the till API can be tried with curl."""
from __future__ import annotations

from ..cli.demo import DEMO_PASSWORD
from . import service

MERCHANTS = [
    # owning union, name, category, accepts card number, contact, stores (name, address), cashier
    ("3416", "中石化亳州分公司", "fuel", True, "13905581234",
     [("魏武大道加油站", "亳州市谯城区魏武大道188号"), ("汤王大道加油站", "亳州市谯城区汤王大道66号")], "cashier_sinopec"),
    ("3416", "中石油亳州销售分公司", "fuel", True, "13905582345",
     [("芍花路加油站", "亳州市谯城区芍花路12号")], "cashier_petrochina"),
    ("3416", "华联超市（亳州）", "supermarket", True, "13905583456",
     [("人民中路店", "亳州市谯城区人民中路88号"), ("涡阳店", "涡阳县星园路20号")], "cashier_hualian"),
    ("3416", "苏果超市亳州店", "supermarket", False, "13905584567",
     [("光明路店", "亳州市谯城区光明路5号")], "cashier_suguo"),
    ("3416", "亳州老街牛肉馍馆", "dining", True, "13905585678",
     [("老街总店", "亳州市谯城区花戏楼老街3号")], "cashier_niuroumo"),
    ("3416", "古井酒店餐厅", "dining", True, "13905586789",
     [("中餐厅", "亳州市谯城区古井镇古井大道1号")], "cashier_gujing_hotel"),
    ("3416", "亳州公交集团", "transport", True, "13905587890",
     [("公交一卡通服务点", "亳州市谯城区亳州汽车站")], "cashier_bus"),
    ("3405", "马鞍山公交集团", "transport", True, "13905551234",
     [("湖南路服务点", "马鞍山市花山区湖南路1号")], "cashier_mas_bus"),
    ("3405", "中石化马鞍山分公司", "fuel", True, "13905552345",
     [("湖东路加油站", "马鞍山市花山区湖东路99号")], "cashier_mas_sinopec"),
]


def load(ctx) -> None:
    first_key = None
    for org_code, name, category, accepts, phone, stores, cashier in MERCHANTS:
        org = ctx.orgs[org_code]
        merchant = service.create_merchant(None, org, org, name=name, category=category, contact_name="店长",
                                           contact_phone=phone, accepts_card_number=accepts)
        for store_name, address in stores:
            service.add_store(None, merchant, name=store_name, address=address)
        service.create_cashier(None, merchant, username=cashier, display_name=name + "收银员",
                               password=DEMO_PASSWORD)
        ctx.credentials.append((f"cashier {name}", cashier, DEMO_PASSWORD))
        if first_key is None:
            _row, first_key = service.issue_terminal_key(None, merchant.stores[0], "演示收银机")
            ctx.notes.append(f"merchants: terminal key for {name} · {merchant.stores[0].name}: {first_key}")
            ctx.notes.append("  try: curl -s -X POST http://127.0.0.1:5000/api/v1/till/quote "
                             f"-H 'Authorization: Bearer {first_key}' -H 'Content-Type: application/json' "
                             "-d '{\"card_number\": \"<member card>\", \"amount\": \"250.00\"}'")
    ctx.notes.append(f"merchants: {len(MERCHANTS)} partner merchants with stores; cashier accounts (password "
                     f"{DEMO_PASSWORD}): " + ", ".join(m[-1] for m in MERCHANTS))
