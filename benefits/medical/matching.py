"""Matching social-insurance records to members, in one place: by national ID number only (the
records' names are never compared), and the classification of every record of a programme
into the preview's groups (`rules.REASONS`), as one SQL statement.

The match is made when read, not stored: a member who joins, leaves or gets a card after the
import is seen as they are now by the next preview and the next batch."""
from __future__ import annotations

from sqlalchemy import and_, case, func, literal, select

from ..members.models import Card, Member
from ..orgs.models import Organisation
from .models import InsuranceClaim, MedicalAward, MedicalProgramme

_c = InsuranceClaim.__table__.c
_m = Member.__table__.c
_o = Organisation.__table__.c
_k = Card.__table__.c
_a = MedicalAward.__table__.c


def member_match():
    """The join condition of a record and a member: the same national ID number."""
    return _m.id_number == _c.id_number


def classified(programme: MedicalProgramme):
    """Every record of the programme with the member it names (if any) and its group: the first
    of `rules.REASONS` that applies. A selectable with columns claim_id, id_number, name,
    out_of_pocket_fen, member_id, org_id, org_name, card_id, award_status, reason."""
    eligible_path = programme.eligible_org.path
    categories = list(programme.member_categories or ())
    whens = [
        (_c.out_of_pocket_fen <= programme.threshold_fen, literal("below_threshold")),
        (_m.id.is_(None), literal("not_member")),
        (_a.status == "paid", literal("paid")),
        (_a.status == "approved", literal("approved")),
        (_a.status == "proposed", literal("proposed")),
        (_m.status != "active", literal("member_left")),
        (~_o.path.startswith(eligible_path, autoescape=True), literal("outside_union")),
    ]
    if categories:
        whens.append((_m.category.not_in(categories), literal("category")))
    whens.append((_k.id.is_(None), literal("no_card")))
    reason = case(*whens, else_=literal("qualifies")).label("reason")
    joined = (InsuranceClaim.__table__
              .outerjoin(Member.__table__, member_match())
              .outerjoin(Organisation.__table__, _o.id == _m.org_id)
              .outerjoin(Card.__table__, and_(_k.member_id == _m.id, _k.status == "active"))
              .outerjoin(MedicalAward.__table__, and_(_a.programme_id == _c.programme_id, _a.member_id == _m.id)))
    return (select(_c.id.label("claim_id"), _c.id_number, _c.name, _c.out_of_pocket_fen,
                   _m.id.label("member_id"), _m.org_id, _o.name.label("org_name"), _k.id.label("card_id"),
                   _a.status.label("award_status"), reason)
            .select_from(joined).where(_c.programme_id == programme.id))


def matched_count(programme_id: int):
    """How many of the programme's records name a member (the import's report)."""
    return (select(func.count()).select_from(InsuranceClaim.__table__.join(Member.__table__, member_match()))
            .where(_c.programme_id == programme_id))
