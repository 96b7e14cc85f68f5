"""The member's H5 shell: a bottom tab bar on every member page with the right tab lit, a home
with the card, the points balance and ONE code (the pay code, made only when asked for), and a
我的 page that holds the rest."""
import re

import pytest
from sqlalchemy import func, select

from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.points import service as points
from benefits.transactions.models import PayToken
from tests import factories


@pytest.fixture
def member(client, auth):
    with unit_of_work():
        tree = factories.org_tree()
        user = factories.member_user(tree["gujing"], name="李娜")
        points.credit(user.member_id, 1234, source_key="test-grant", reason="测试")
    auth.login(user.username, factories.PASSWORD)
    return user


def _lit_tab(html: str) -> str:
    return re.search(r'data-testid="tab-(\w+)" class="on" aria-current="page"', html).group(1)


@pytest.mark.parametrize("path, tab", [("/me", "home"), ("/me/pay", "home"), ("/me/merchants", "offers"),
                                       ("/me/vouchers", "offers"), ("/quiz", "quiz"), ("/prizes", "mall"),
                                       ("/prizes/my", "mall"), ("/me/mine", "mine"), ("/me/points", "mine"),
                                       ("/me/transactions", "mine")])
def test_every_member_page_has_the_tab_bar_with_its_tab_lit(client, member, path, tab):
    html = client.get(path).get_data(as_text=True)
    assert html.count('data-testid="tabbar"') == 1
    assert _lit_tab(html) == tab
    assert 'data-testid="nav-members"' not in html          # no wrapping row of text links


def test_home_shows_card_points_and_makes_no_pay_code_until_asked(client, member):
    card = member.member.current_card.number
    html = client.get("/me").get_data(as_text=True)
    assert f'data-testid="card-number">{card[:4]} **** **** {card[-4:]}<' in html
    assert 'data-testid="points-balance">1234<' in html
    assert "<svg" not in html.split('data-testid="tabbar"')[0].split("</header>")[1]   # no fixed card QR
    assert db.session.scalar(select(func.count(PayToken.id))) == 0
    code = client.post("/me/pay/code", headers={"X-CSRF-Token": _csrf(html)})
    assert code.status_code == 200 and code.get_json()["token"]
    assert db.session.scalar(select(func.count(PayToken.id))) == 1


def test_mine_holds_the_profile_masked_and_the_way_out(client, member):
    html = client.get("/me/mine").get_data(as_text=True)
    number = member.member.id_number
    assert f'data-testid="masked-id">{number[:4]}{"*" * 10}{number[-4:]}<' in html and number not in html
    for testid in ("nav-my-transactions", "nav-points", "nav-vouchers", "nav-redemptions", "logout"):
        assert f'data-testid="{testid}"' in html
    assert ">English<" in html


def test_staff_pages_keep_their_top_navigation(client, auth):
    with unit_of_work():
        tree = factories.org_tree()
        admin = factories.admin(tree["bozhou"])
    auth.login(admin.username, factories.PASSWORD)
    html = client.get("/admin").get_data(as_text=True)
    assert 'data-testid="tabbar"' not in html and 'data-testid="nav-members"' in html


def _csrf(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
