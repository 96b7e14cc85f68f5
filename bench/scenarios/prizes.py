"""Prize mall: 200 prizes; a sold-out prize refused by the Redis gate (the database statement
count must stay flat), and successful redemptions by many members with unique Idempotency-Keys.

`prepare` tops the bench database up to 200 listed prizes (through the prizes service), one
sold-out prize and one well-stocked prize costing 1 point, restocks the bench's numbered prizes
(the crowd redeems across those), and gives MEMBERS members a sign-in and plenty of points
through the ledger. A second, untargeted redeem row sends every request to one prize: it shows
the queue on that prize's row lock. The gunicorn workers rebuild the Redis gate from SQL
when they start, so the sold-out answer comes from Redis.
"""
from __future__ import annotations

import json
import uuid

from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from bench.harness import Scenario
from benefits.auth.models import User
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.members.models import Member
from benefits.orgs.models import Organisation
from benefits.points import service as points
from benefits.prizes import service as prizes
from benefits.prizes.models import PickupPoint, Prize

ORDER = 70
MALL = 200
MEMBERS = 100
PASSWORD = "bench-pass-2026"
CROWD_STOCK = 1000
SOLD_OUT = "压测奖品·已兑完"
PLENTY = "压测奖品·充足"


def _point(province: Organisation) -> PickupPoint:
    point = db.session.scalar(select(PickupPoint).where(PickupPoint.name == "压测领取点"))
    return point or prizes.create_pickup_point(None, province, name="压测领取点", office_org_id=province.id)


def _prize(province, point, name, cost, stock) -> Prize:
    found = db.session.scalar(select(Prize).where(Prize.name == name))
    if found is not None:
        return found
    return prizes.create_prize(None, province, {"name": name, "cost_points": cost, "pickup_days": 30,
                                                "allocations": [{"pickup_point_id": point.id, "stock": stock}]})


def _members() -> list[str]:
    members = list(db.session.scalars(select(Member).where(Member.status == "active").order_by(Member.id)
                                      .limit(MEMBERS)))
    password_hash = generate_password_hash(PASSWORD)
    usernames = []
    for m in members:
        user = db.session.scalar(select(User).where(User.member_id == m.id))
        if user is None:
            user = User(username=m.id_number, display_name=m.name, role="member", password_hash=password_hash,
                        member_id=m.id)
            db.session.add(user)
        else:
            user.password_hash, user.is_enabled = password_hash, True
        if points.balance(m.id) < 10_000_000:
            points.credit(m.id, 100_000_000, source_key=f"bench-grant:{m.id}:{uuid.uuid4().hex[:8]}",
                          reason="压测积分")
        usernames.append(user.username)
    db.session.flush()
    return usernames


def prepare(app) -> dict:
    with unit_of_work():  # as any caller of the services: their Redis syncs run once it commits
        province = db.session.scalar(select(Organisation).where(Organisation.parent_id.is_(None))
                                     .order_by(Organisation.id))
        point = _point(province)
        have = db.session.scalar(select(func.count(Prize.id)))
        for i in range(have, MALL - 2):
            _prize(province, point, f"压测奖品{i + 1:03d}", 100 + 37 * i, 1000)
        sold_out = _prize(province, point, SOLD_OUT, 100, 0)
        plenty = _prize(province, point, PLENTY, 1, 1_000_000)
        if plenty.stock < 100_000:
            prizes.restock(None, province, plenty, 1_000_000, point.id, note="bench")
        state = {"sold_out": sold_out.id, "plenty": plenty.id, "point": point.id, "usernames": _members(),
                 "crowd": _crowd_prizes(province, point)}
        total = db.session.scalar(select(func.count(Prize.id)))
    print(f"prizes: {total} prizes, {len(state['usernames'])} members with points, "
          f"{len(state['crowd'])} prizes for the crowd")
    return state


def _crowd_prizes(province, point) -> list[int]:
    """The bench's own numbered prizes (no limits, one pickup point), topped up so a run never
    sells them out: a crowd redeems across the mall, not one prize."""
    crowd = [p for p in db.session.scalars(select(Prize).where(Prize.name.like("压测奖品%"), Prize.is_listed)
                                           .order_by(Prize.id)) if p.name[len("压测奖品"):].isdigit()]
    for prize in crowd:
        if prize.stock < CROWD_STOCK // 2:
            prizes.restock(None, province, prize, CROWD_STOCK, point.id, note="bench")
    return [p.id for p in crowd]


_REDEEM_LUA = """
local cookies = %(cookies)s
local counter = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local prizes = %(prizes)s
function request()
  counter = counter + 1
  -- members and prizes cycle independently, so a member redeems different prizes in turn
  local path = "/api/v1/prizes/" .. prizes[(counter %% #prizes) + 1] .. "/redeem"
  return wrk.format("POST", path,
    {["Content-Type"] = "application/json", ["Cookie"] = cookies[(counter %% #cookies) + 1],
     ["Idempotency-Key"] = "%(prefix)s-" .. tostring(tid) .. "-" .. counter}, '%(body)s')
end
"""


def scenarios(state: dict, server) -> list[Scenario]:
    cookies = [server.login(u, PASSWORD) for u in state["usernames"]]
    counted = {}

    def before():
        counted["start"] = server.pg_statement_count()
        return counted["start"]

    def after(start, result):
        return (f"prize sold out: {server.pg_statement_count() - start:,} database statements/transactions "
                f"for {result.requests:,} refused requests (Redis answered)")

    return [
        Scenario(name="prize mall (50 of 200)", path="/api/v1/prizes?per_page=50", headers={"Cookie": cookies[0]},
                 ceiling="bare", target=0.25),
        Scenario(name="prize sold out (Redis refuses)", method="POST",
                 path=f"/api/v1/prizes/{state['sold_out']}/redeem", body="{}", headers={"Cookie": cookies[0]},
                 ceiling="bare", target=0.5, before=before, after=after),
        Scenario(name="prize redeem (unique keys, many members, many prizes)",
                 lua=_redeem_lua(cookies, state["crowd"] or [state["plenty"]], state["point"]),
                 ceiling="write", target=0.55),
        # not a target: every request on one prize row shows the lock queue on that row
        Scenario(name="prize redeem (one prize: its row lock queue)",
                 lua=_redeem_lua(cookies, [state["plenty"]], state["point"]), ceiling="write"),
    ]


def _redeem_lua(cookies: list[str], prize_ids: list[int], point_id: int) -> str:
    return _REDEEM_LUA % {"cookies": "{" + ",".join(json.dumps(c) for c in cookies) + "}",
                          "prizes": "{" + ",".join(str(i) for i in prize_ids) + "}",
                          "prefix": uuid.uuid4().hex[:12], "body": json.dumps({"pickup_point_id": point_id})}
