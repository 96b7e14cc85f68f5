"""Foundation: a member signing in, and a signed-in member looking up their own card."""
from __future__ import annotations

import json

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from bench.harness import Scenario
from benefits.auth.models import User
from benefits.cli.demo import DEMO_PASSWORD
from benefits.extensions import db
from benefits.members.models import Card, Member

ORDER = 10


def prepare(app) -> dict:
    """A card-holding member from the scale data with a real (scrypt) password, as demo members
    have. The newest one: other areas' modules take members from the low ids for their own use."""
    member = db.session.scalar(select(Member).join(Card, Card.member_id == Member.id)
                               .where(Member.status == "active", Card.status == "active")
                               .order_by(Member.id.desc()).limit(1))
    if member is None:
        raise RuntimeError("no member with a card: load `flask demo load --scale report` first")
    user = db.session.scalar(select(User).where(User.member_id == member.id))
    if user is None:
        user = User(username=member.id_number, display_name=member.name, role="member", member_id=member.id,
                    password_hash=generate_password_hash(DEMO_PASSWORD))
        db.session.add(user)
    elif not user.is_enabled or not check_password_hash(user.password_hash, DEMO_PASSWORD):
        user.is_enabled, user.password_hash = True, generate_password_hash(DEMO_PASSWORD)
    db.session.flush()
    return {"username": user.username, "password": DEMO_PASSWORD}


def scenarios(state: dict, server) -> list[Scenario]:
    cookie = server.login(state["username"], state["password"])
    browser_cookie = server.login(state["username"], state["password"], page="/me")
    return [
        # password hashing (werkzeug's scrypt) is the cost here, on purpose
        Scenario(name="sign-in", method="POST", path="/api/v1/auth/login",
                 body=json.dumps({"username": state["username"], "password": state["password"]}),
                 ceiling="bare"),
        Scenario(name="my card (GET /api/v1/me)", path="/api/v1/me", headers={"Cookie": cookie},
                 ceiling="bare", target=0.35, before=server.pg_statement_count,
                 after=lambda count, result: f"{server.pg_statement_count() - count:,} database transactions "
                                             f"for {result.requests:,} requests"),
        # the H5 home: the card, points, the wallet's vouchers and benefits, the shortcuts (the
        # pay code is made only when tapped, so the page writes nothing)
        Scenario(name="member home page (GET /me)", path="/me", headers={"Cookie": browser_cookie},
                 ceiling="bare", target=0.35),
    ]
