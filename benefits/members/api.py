"""Members and cards API: the member's own card lookup (`/me`) and the admin's member register.

Admin endpoints are scoped to the admin's union subtree: anything outside it is a 404, exactly
like an id that does not exist.
"""
from flask import jsonify
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user

from .. import idempotency
from ..auth.access import admin_required, current_actor, current_scope, roles_required
from ..database import transactional
from ..errors import Forbidden, NotAuthenticated, NotFound
from ..extensions import Blueprint, db
from ..orgs import service as orgs
from ..pagination import paginate
from . import service
from .models import Card
from .schemas import (ActivationCodeSchema, CardSchema, MemberCreateSchema, MemberDetailSchema,
                      MemberPageSchema, MemberQueryArgs, MemberSearchSchema, MyProfileSchema)

URL_PREFIX = ""
blp = Blueprint("members_api", __name__, description="Members (会员) and member cards (会员卡)")

_detail = MemberDetailSchema()


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, MyProfileSchema)
    def get(self):
        """The signed-in member's own profile (ID and phone masked) and current card."""
        if not current_user.is_authenticated:
            raise NotAuthenticated(_("请先登录。"))
        if current_user.role != "member":
            raise Forbidden(_("只有会员才有会员卡信息。"))
        return service.member_profile(current_user.member)


def _search(args: dict) -> dict:
    scope = current_scope()
    if args["org_id"] is not None:
        scope = orgs.get_in_scope(scope, args["org_id"])  # that union and the unions below it
    stmt = service.search_members(scope, args["q"], args["status"], args["category"])
    items, total = paginate(service.with_cards(stmt), args["page"], args["per_page"])
    return {"items": items, "page": args["page"], "per_page": args["per_page"], "total": total}


@blp.route("/members")
class Members(MethodView):
    decorators = [admin_required]

    @blp.arguments(MemberQueryArgs, location="query", error_status_code=400)
    @blp.response(200, MemberPageSchema)
    def get(self, args):
        """Search members in your subtree by name, card number or (masked / last digits of) ID number."""
        return _search(args)

    @blp.arguments(MemberCreateSchema, error_status_code=400)
    @blp.response(201, MemberDetailSchema)
    @transactional
    def post(self, data):
        """Record a member joining (入会). Accepts an `Idempotency-Key` header."""
        org = orgs.get_in_scope(current_scope(), data.pop("org_id"))
        actor = current_actor()

        def create():
            member = service.create_member(actor, org, **data)
            return _detail.dump(member), 201

        body, status = idempotency.run_once(f"members.create:{actor.id}", idempotency.request_key(),
                                            {"org_id": org.id, **data}, create)
        return jsonify(body), status


@blp.route("/members/search")
class MemberSearch(MethodView):
    decorators = [admin_required]

    @blp.arguments(MemberSearchSchema, error_status_code=400)
    @blp.response(200, MemberPageSchema)
    def post(self, args):
        """The same search with its terms in a JSON body, where a whole ID number may go: it never
        enters a URL, and so never an access log. Changes nothing."""
        return _search(args)


@blp.route("/members/<int:member_id>")
class MemberItem(MethodView):
    decorators = [admin_required]

    @blp.response(200, MemberDetailSchema)
    def get(self, member_id):
        """One member with the history of their cards."""
        return service.get_member_in_scope(current_scope(), member_id)


@blp.route("/members/<int:member_id>/leave")
class MemberLeave(MethodView):
    decorators = [admin_required]

    @blp.response(200, MemberDetailSchema)
    @transactional
    def post(self, member_id):
        """Record the member leaving (退会): history stays, live cards are cancelled, sign-in is disabled."""
        return service.record_leave(current_actor(), service.get_member_in_scope(current_scope(), member_id))


@blp.route("/members/<int:member_id>/rejoin")
class MemberRejoin(MethodView):
    decorators = [admin_required]

    @blp.response(200, MemberDetailSchema)
    @transactional
    def post(self, member_id):
        """A member who left joins again; a new card has to be issued."""
        return service.record_rejoin(current_actor(), service.get_member_in_scope(current_scope(), member_id))


@blp.route("/members/<int:member_id>/activation-code")
class MemberActivationCode(MethodView):
    decorators = [admin_required]

    @blp.response(201, ActivationCodeSchema)
    @transactional
    def post(self, member_id):
        """A one-time activation code for the member. It is returned only this once."""
        member = service.get_member_in_scope(current_scope(), member_id)
        code = service.create_activation_code(current_actor(), member)
        return {"member_id": member.id, "code": code, "expires_in_days": service.ACTIVATION_CODE_DAYS}


@blp.route("/members/<int:member_id>/cards")
class MemberCards(MethodView):
    decorators = [admin_required]

    @blp.response(201, CardSchema)
    @transactional
    def post(self, member_id):
        """Issue a card to a member who holds no usable card."""
        return service.issue_card(current_actor(), service.get_member_in_scope(current_scope(), member_id))


@blp.route("/cards/<int:card_id>")
class CardItem(MethodView):
    decorators = [roles_required("admin", "member")]

    @blp.response(200, CardSchema)
    def get(self, card_id):
        """A card: admins within their subtree, members only their own."""
        if current_user.role == "admin":
            return service.get_card_in_scope(current_scope(), card_id)
        card = db.session.get(Card, card_id)
        if card is None or card.member_id != current_user.member_id:
            raise NotFound(_("没有这张会员卡。"))
        return card


def _card_action(name: str, action, summary: str):
    @transactional
    def post(self, card_id):
        return action(current_actor(), service.get_card_in_scope(current_scope(), card_id))
    post.__doc__ = summary
    view = type(f"Card{name.title().replace('-', '')}", (MethodView,), {
        "decorators": [admin_required], "post": blp.response(200, CardSchema)(post)})
    blp.route(f"/cards/<int:card_id>/{name}")(view)


_card_action("freeze", service.freeze_card, "Freeze a card: payments are refused until it is unfrozen.")
_card_action("unfreeze", service.unfreeze_card, "Unfreeze a frozen card.")
_card_action("report-lost", service.report_lost_and_reissue,
             "Report a card lost: the old number stops working at once; returns the new card.")
