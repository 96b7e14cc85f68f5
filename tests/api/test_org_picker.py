"""The organisation picker's search: names and codes inside the admin's own subtree only, exact
code first, bad input refused; and the forms that take an organisation code offer the picker."""
from benefits.database import unit_of_work
from tests import factories


def _admin(client, auth, org_name="bozhou"):
    with unit_of_work():
        tree = factories.org_tree()
        user = factories.admin(tree[org_name])
    auth.login(user.username)
    return tree


def test_search_finds_names_and_codes_inside_the_admins_union_only(client, auth):
    _admin(client, auth)
    found = client.get("/api/v1/organisations", query_string={"q": "工会"}).get_json()
    assert [o["name"] for o in found] == ["亳州市总工会", "谯城区总工会", "古井集团工会"]   # higher levels first
    assert [o["code"] for o in client.get("/api/v1/organisations?q=341602").get_json()] == ["341602", "341602001"]
    assert client.get("/api/v1/organisations", query_string={"q": "马鞍山"}).get_json() == []   # another city
    assert client.get("/api/v1/organisations", query_string={"q": "%"}).get_json() == []      # no wildcard
    assert client.get("/api/v1/organisations", query_string={"q": "  "}).get_json() == []


def test_search_refuses_what_is_not_a_search(client, auth):
    _admin(client, auth)
    too_long = client.get("/api/v1/organisations", query_string={"q": "工" * 65})
    assert too_long.status_code == 400 and too_long.get_json()["error"]["code"]
    assert client.get("/api/v1/organisations?q=a%00b").status_code == 400


def test_search_needs_an_admin(client):
    assert client.get("/api/v1/organisations?q=亳州").status_code == 401


def test_the_promotion_editor_offers_the_picker_date_fields_and_an_error_summary(client, auth):
    _admin(client, auth)
    page = client.get("/admin/promotions/new").get_data(as_text=True)
    assert 'data-org-picker="/api/v1/organisations"' in page and 'type="date"' in page
    assert 'data-show-when="kind=percent"' in page
    def summary_of(data):
        response = client.post("/admin/promotions/new", data={"kind": "percent", "scope": "programme",
                                                                "action": "preview", **data})
        assert response.status_code == 400
        html = response.get_data(as_text=True)
        return html[html.index('data-testid="error-summary"'):html.index('data-testid="rule-form"')]
    assert '<a href="#name">活动名称：' in summary_of({"name": "", "pay_percent": "90"})
    summary = summary_of({"name": "9折", "pay_percent": "abc"})
    assert "请修改以下 1 处后再保存：" in summary
    assert '<a href="#pay_percent">会员支付比例（%，9折填90）：请输入百分比，如 90 或 85.5</a>' in summary


def test_every_form_that_takes_an_organisation_code_offers_the_picker(client, auth):
    """The same picker everywhere a code is typed (member, prize, pickup point, voucher target)."""
    _admin(client, auth)
    for path in ("/admin/members/new", "/admin/prizes/new", "/admin/prizes/points"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert 'data-org-picker="/api/v1/organisations"' in page.get_data(as_text=True), path
