import pytest
from sqlalchemy import select

from benefits.audit.models import AuditEntry
from benefits.errors import Conflict, NotFound, ValidationError
from benefits.extensions import db
from benefits.members import service as members
from benefits.members.models import Member
from tests import factories


def test_card_lifecycle_and_audit(app):
    tree = factories.org_tree()
    admin = factories.admin(tree["bozhou"])
    m = factories.member(tree["gujing"], with_card=False)
    card = members.issue_card(admin, m)
    assert card.status == "active" and len(card.number) == 16
    members.freeze_card(admin, card)
    with pytest.raises(members.CardRefused) as refused:
        members.check_payable(card.status, m.status)
    assert refused.value.code == "card_frozen"
    members.unfreeze_card(admin, card)
    new = members.report_lost_and_reissue(admin, card)
    assert card.status == "lost" and new.status == "active" and new.number != card.number
    with pytest.raises(members.CardRefused):
        members.check_payable(card.status, m.status)
    members.check_payable(new.status, m.status)
    assert m.current_card.id == new.id
    actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions[-5:] == ["card.issue", "card.freeze", "card.unfreeze", "card.lost", "card.reissue"]


def test_second_live_card_refused(app):
    tree = factories.org_tree()
    m = factories.member(tree["gujing"])
    with pytest.raises(Conflict):
        members.issue_card(None, m)


def test_leave_cancels_card_and_keeps_history(app):
    tree = factories.org_tree()
    m = factories.member(tree["gujing"])
    card = m.current_card
    members.record_leave(None, m)
    assert m.status == "left" and card.status == "cancelled"
    assert db.session.get(Member, m.id) is not None


def test_invalid_member_writes_nothing(app):
    tree = factories.org_tree()
    with pytest.raises(ValidationError) as err:
        members.create_member(None, tree["gujing"], name="李四", id_number="110105194912310021")
    assert "id_number" in err.value.details["fields"]
    assert db.session.scalar(select(Member.id)) is None


def test_duplicate_id_number(app):
    tree = factories.org_tree()
    m = factories.member(tree["gujing"])
    with pytest.raises(Conflict):
        members.create_member(None, tree["magang"], name="重复", id_number=m.id_number)


def test_scope_hides_other_city(app):
    tree = factories.org_tree()
    m = factories.member(tree["magang"])
    with pytest.raises(NotFound):
        members.get_member_in_scope(tree["bozhou"], m.id)
    assert members.get_member_in_scope(tree["province"], m.id) is m


def test_search_by_masked_id_and_card(app):
    tree = factories.org_tree()
    m = factories.member(tree["gujing"], name="王小明")
    masked = m.id_number[:4] + "*" * 10 + m.id_number[-4:]
    for q in (masked, m.current_card.number, "小明", m.id_number[-4:]):
        found = db.session.scalars(members.search_members(tree["bozhou"], q)).all()
        assert m in found, q
    assert db.session.scalars(members.search_members(tree["maanshan"], "王小明")).all() == []


def test_member_profile_masks_and_shows_the_usable_card(app):
    tree = factories.org_tree()
    m = factories.member(tree["gujing"], name="刘洋", phone="13912345678")
    profile = members.member_profile(m)
    assert profile["id_number_masked"] == m.id_number[:4] + "*" * 10 + m.id_number[-4:]
    assert profile["phone_masked"] == "139****5678" and profile["org_name"] == "古井集团工会"
    assert profile["card"]["number"] == m.current_card.number and profile["card"]["status"] == "active"
    members.freeze_card(None, m.current_card)
    assert members.member_profile(m)["card"]["status"] == "frozen"
    new = members.report_lost_and_reissue(None, m.current_card)
    assert members.member_profile(m)["card"]["number"] == new.number
    members.record_leave(None, m)
    assert members.member_profile(m)["card"] is None
