"""Points over HTTP: balance and history for the member, audited adjustment in the admin's scope."""
from benefits.database import unit_of_work
from benefits.points import service as points
from tests.api.conftest import api_login, error_code


def test_admin_adjusts_points_of_a_member_in_scope_only(client, world):
    api_login(client, "bozhou_admin")
    made = client.post("/api/v1/points/adjustments", json={"member_id": world.li_member.id, "amount": 30, "reason": "比武一等奖"})
    assert made.status_code == 201 and made.get_json()["balance_after"] == 30
    too_much = client.post("/api/v1/points/adjustments", json={"member_id": world.li_member.id, "amount": -31, "reason": "纠错"})
    assert error_code(too_much) == "insufficient_points"
    no_reason = client.post("/api/v1/points/adjustments", json={"member_id": world.li_member.id, "amount": 5, "reason": ""})
    assert no_reason.status_code == 400
    outside = client.post("/api/v1/points/adjustments", json={"member_id": world.wang_member.id, "amount": 5, "reason": "x"})
    assert error_code(outside) == "not_found"
    history = client.get(f"/api/v1/points/members/{world.li_member.id}/history").get_json()
    assert [e["amount"] for e in history["items"]] == [30]
    assert client.get(f"/api/v1/points/members/{world.wang_member.id}/history").status_code == 404


def test_member_sees_own_balance_and_history_by_kind(client, world):
    with unit_of_work():
        points.credit(world.li_member.id, 50, source_key="t:1", reason="答题得分")
        points.debit(world.li_member.id, 20, source_key="t:2", reason="兑换：雨伞")
        points.credit(world.wang_member.id, 9, source_key="t:3", reason="答题得分")
    api_login(client, world.li.username)
    assert client.get("/api/v1/points/balance").get_json() == {"member_id": world.li_member.id, "balance": 30}
    page = client.get("/api/v1/points/history").get_json()
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in page["items"]] == [("spend", -20, 30), ("earn", 50, 50)]
    assert client.get("/api/v1/points/history?kind=spend").get_json()["total"] == 1
    assert client.post("/api/v1/points/adjustments", json={"member_id": world.li_member.id, "amount": 5, "reason": "x"}).status_code == 403
    html = client.get("/me/points").get_data(as_text=True)
    assert "兑换：雨伞" in html and "答题得分" in html
