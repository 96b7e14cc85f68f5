"""Festival gifts API (节日福利): members see the campaigns offered to them and claim one gift each;
union admins set campaigns up, add gifts and stock, list the claims and read the report.

Admin endpoints are scoped to the admin's union subtree: another union's campaign is a 404,
exactly like an id that does not exist. A claim's pickup code is handed over at the prize
counter (`/api/v1/prizes/pickup/...`), a delivery gift marked sent here.
"""
from __future__ import annotations

from flask import jsonify
from flask.views import MethodView
from flask_login import current_user

from ..auth.access import admin_required, current_actor, current_scope, member_required, signed_session_required
from ..auth.service import signed_user_id
from ..database import transactional
from ..extensions import Blueprint
from ..idempotency import request_key
from ..pagination import paginate
from . import schemas, service

URL_PREFIX = "/festival"
blp = Blueprint("festival_api", __name__, description="Festival gift campaigns (节日福利)")


def _json(body: dict, status: int = 200):
    """For bodies already dumped (and possibly replayed): sent as they are."""
    response = jsonify(body)
    response.status_code = status
    return response


def _admin_view(campaign) -> dict:
    return schemas.admin_campaign_view(campaign, service.claimed_by_gift(campaign))


# --- members ----------------------------------------------------------------------------------

@blp.route("/campaigns")
class Campaigns(MethodView):
    decorators = [member_required]

    @blp.response(200, schemas.FestivalCampaignOut(many=True))
    def get(self):
        """Campaigns offered to you that have not closed, and those you claimed from, with your claim."""
        member = current_user.member
        claims = service.my_claims(member)
        return [schemas.campaign_view(c, claims.get(c.id)) for c in service.campaigns_for_member(member)]


@blp.route("/campaigns/<int:campaign_id>")
class Campaign(MethodView):
    decorators = [member_required]

    @blp.response(200, schemas.FestivalCampaignOut)
    def get(self, campaign_id):
        """A campaign offered to your union (else 404), its gifts with the stock left, and your claim."""
        member = current_user.member
        campaign = service.campaign_for_member(member, campaign_id)
        return schemas.campaign_view(campaign, service.my_claim(member, campaign_id))


_CLAIM_ARGS = schemas.FestivalClaimArgs()  # an instance: webargs would build one per request from the class


@blp.route("/campaigns/<int:campaign_id>/claim")
class Claim(MethodView):
    # No `member_required`: the Redis gate answers "already claimed" or "sold out" from the signed
    # session's user id alone, before the database; the service loads and checks the user
    # (through Flask-Login) before it writes anything.
    decorators = [signed_session_required]

    @blp.arguments(_CLAIM_ARGS, error_status_code=400)
    @blp.response(201, schemas.FestivalClaimOut)
    @blp.alt_response(409, description="already_claimed, sold_out, campaign_not_open, campaign_closed")
    @transactional
    def post(self, args, campaign_id):
        """Claim your one gift of the campaign (no points). Send `Idempotency-Key` to make retries safe.

        A pickup gift answers with its pickup code (shown at the pickup point's counter, valid to the
        end of the campaign's `pickup_until` day); a delivery gift needs `delivery_address` (5 to 255
        characters) and takes an optional mainland mobile `delivery_phone`."""
        body = service.claim_gift(campaign_id, args, request_key(), user_id=signed_user_id(),
                                  signed_in=current_actor)
        return _json(body, 201)


@blp.route("/campaigns/<int:campaign_id>/my-claim")
class MyClaim(MethodView):
    decorators = [member_required]

    @blp.response(200, schemas.FestivalClaimOut)
    def get(self, campaign_id):
        """Your claim of this campaign, with its pickup code (404 `claim_not_found` before you claim)."""
        member = current_user.member
        campaign = service.campaign_for_member(member, campaign_id)
        return schemas.claim_view(service.own_claim(member, campaign_id), campaign)


# --- admins -----------------------------------------------------------------------------------

@blp.route("/admin/campaigns")
class AdminCampaigns(MethodView):
    decorators = [admin_required]

    @blp.arguments(schemas.FestivalCampaignPageArgs, location="query", error_status_code=400)
    @blp.response(200, schemas.FestivalCampaignAdminPage)
    def get(self, args):
        """Campaigns of your union and the unions below it, latest opening first."""
        items, total = paginate(service.campaigns_in_scope(current_scope()), args["page"], args["per_page"])
        return {"items": [_admin_view(c) for c in items], "page": args["page"], "per_page": args["per_page"],
                "total": total}

    @blp.arguments(schemas.FestivalCampaignCreateArgs, error_status_code=400)
    @blp.response(201, schemas.FestivalCampaignAdminOut)
    @transactional
    def post(self, args):
        """Set a campaign up, owned by your union: its dates, who may claim (an organisation of your subtree
        and member categories) and its gifts (catalogue items of your scope, each at one of your pickup
        points or, for a delivery item, none, with the campaign's own stock). Every bad field is named in
        `details.fields` (`gifts.<n>.<field>` for a gift)."""
        campaign = service.create_campaign(current_actor(), current_scope(), args)
        return _json(schemas.FestivalCampaignAdminOut().dump(_admin_view(campaign)), 201)


@blp.route("/admin/campaigns/<int:campaign_id>")
class AdminCampaign(MethodView):
    decorators = [admin_required]

    @blp.response(200, schemas.FestivalCampaignAdminOut)
    def get(self, campaign_id):
        return _admin_view(service.campaign_in_scope(current_scope(), campaign_id))


@blp.route("/admin/campaigns/<int:campaign_id>/gifts")
class AdminGifts(MethodView):
    decorators = [admin_required]

    @blp.arguments(schemas.FestivalGiftArgs, error_status_code=400)
    @blp.response(201, schemas.FestivalCampaignAdminOut)
    @blp.alt_response(409, description="gift_exists: that item is already offered at that point; campaign_closed")
    @transactional
    def post(self, args, campaign_id):
        """Offer one more gift (an item at a pickup point) in a campaign that has not closed."""
        campaign = service.campaign_in_scope(current_scope(), campaign_id)
        service.add_gift(current_actor(), current_scope(), campaign, args)
        return _json(schemas.FestivalCampaignAdminOut().dump(_admin_view(campaign)), 201)


@blp.route("/admin/campaigns/<int:campaign_id>/gifts/<int:gift_id>/restock")
class AdminRestock(MethodView):
    decorators = [admin_required]

    @blp.arguments(schemas.FestivalRestockArgs, error_status_code=400)
    @blp.response(200, schemas.FestivalCampaignAdminOut)
    @transactional
    def post(self, args, campaign_id, gift_id):
        """Add stock to one gift."""
        campaign = service.campaign_in_scope(current_scope(), campaign_id)
        service.restock_gift(current_actor(), campaign, gift_id, args["quantity"])
        return _json(schemas.FestivalCampaignAdminOut().dump(_admin_view(campaign)))


@blp.route("/admin/campaigns/<int:campaign_id>/claims")
class AdminClaims(MethodView):
    decorators = [admin_required]

    @blp.arguments(schemas.FestivalClaimQueryArgs, location="query", error_status_code=400)
    @blp.response(200, schemas.FestivalAdminClaimPage)
    def get(self, args, campaign_id):
        """The campaign's claims, newest first: members' names, addresses and phones masked, no pickup codes."""
        campaign = service.campaign_in_scope(current_scope(), campaign_id)
        items, total = paginate(service.claims_of(campaign, args["status"]), args["page"], args["per_page"])
        return {"items": [schemas.admin_claim_view(r) for r in items], "page": args["page"],
                "per_page": args["per_page"], "total": total}


@blp.route("/admin/campaigns/<int:campaign_id>/claims/<int:claim_id>/deliver")
class AdminDeliver(MethodView):
    decorators = [admin_required]

    @blp.response(200, schemas.FestivalAdminClaimOut)
    @blp.alt_response(409, description="not_delivery (a pickup gift is handed over with its code), pickup_code_used")
    @transactional
    def post(self, campaign_id, claim_id):
        """Mark a delivery gift sent."""
        campaign = service.campaign_in_scope(current_scope(), campaign_id)
        r = service.mark_delivered(current_actor(), current_scope(), campaign, claim_id)
        return _json(schemas.FestivalAdminClaimOut().dump(schemas.admin_claim_view(r)))


@blp.route("/admin/campaigns/<int:campaign_id>/report")
class AdminReport(MethodView):
    decorators = [admin_required]

    @blp.response(200, schemas.FestivalReportOut)
    def get(self, campaign_id):
        """Eligible members who did not claim, per organisation, and each gift's stock left."""
        return service.report(service.campaign_in_scope(current_scope(), campaign_id))
