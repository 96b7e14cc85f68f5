"""Points API: a member's balance and history; an admin's audited adjustment."""
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user

from ..auth.access import admin_required, current_actor, current_scope, member_required
from ..database import transactional
from ..errors import NotFound
from ..extensions import Blueprint, db
from ..members.models import Member
from ..pagination import page_schema, paginate
from . import service
from .schemas import AdjustmentSchema, PointsBalanceSchema, PointsEntrySchema, HistoryArgs

URL_PREFIX = "/points"
blp = Blueprint("points_api", __name__, description="Points ledger (积分)")


def member_in_scope(member_id: int) -> Member:
    member = db.session.get(Member, member_id)
    if member is None or not current_scope().contains(member.org):
        raise NotFound(_("没有这个会员。"))
    return member


def _history(member_id: int, args) -> dict:
    stmt = service.history(member_id)
    if args["kind"]:
        stmt = stmt.where(service.PointsEntry.kind == args["kind"])
    items, total = paginate(stmt, args["page"], args["per_page"])
    return {"items": items, "page": args["page"], "per_page": args["per_page"], "total": total}


@blp.route("/balance")
class Balance(MethodView):
    decorators = [member_required]

    @blp.response(200, PointsBalanceSchema)
    def get(self):
        return {"member_id": current_user.member_id, "balance": service.balance(current_user.member_id)}


@blp.route("/history")
class History(MethodView):
    decorators = [member_required]

    @blp.arguments(HistoryArgs, location="query", error_status_code=400)
    @blp.response(200, page_schema(PointsEntrySchema, "PointsHistoryPage"))
    def get(self, args):
        """Every ledger line, newest first: earned, spent, refunded, adjusted, expired."""
        return _history(current_user.member_id, args)


@blp.route("/members/<int:member_id>/history")
class MemberHistory(MethodView):
    decorators = [admin_required]

    @blp.arguments(HistoryArgs, location="query", error_status_code=400)
    @blp.response(200, page_schema(PointsEntrySchema, "AdminPointsHistoryPage"))
    def get(self, args, member_id):
        return _history(member_in_scope(member_id).id, args)


@blp.route("/adjustments")
class Adjustments(MethodView):
    decorators = [admin_required]

    @blp.arguments(AdjustmentSchema, error_status_code=400)
    @blp.response(201, PointsEntrySchema)
    @transactional
    def post(self, args):
        """Add (positive) or remove (negative) points with a reason; audited."""
        member = member_in_scope(args["member_id"])
        return service.adjust(current_actor(), member, args["amount"], args["reason"])
