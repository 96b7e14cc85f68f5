"""Prize mall API: members browse and redeem, pickup staff verify and hand over, admins manage."""
from __future__ import annotations

from flask import Response, jsonify, request
from flask.views import MethodView
from flask_login import current_user

from ..auth.access import (admin_required, current_actor, current_scope, member_required, pickup_staff_required,
                           signed_session_required)
from ..auth.service import signed_user_id
from ..database import transactional
from ..extensions import Blueprint, db
from ..idempotency import request_key
from ..pagination import paginate
from ..points import service as points
from . import export, schemas, service

URL_PREFIX = "/prizes"
blp = Blueprint("prizes_api", __name__, description="Prize mall and redemption (积分商城)")


def _json(body: dict, status: int = 200):
    """For bodies already dumped (and possibly replayed): sent as they are."""
    response = jsonify(body)
    response.status_code = status
    return response


def _page(stmt, args, view) -> dict:
    items, total = paginate(stmt, args["page"], args["per_page"])
    return {"items": [view(i) for i in items], "page": args["page"], "per_page": args["per_page"], "total": total}


# --- members ----------------------------------------------------------------------------------

@blp.route("")
class Mall(MethodView):
    decorators = [member_required]

    @blp.arguments(schemas.MallArgs, location="query", error_status_code=400)
    @blp.response(200, schemas.MallOut)
    def get(self, args):
        """The prize mall: prizes this member may redeem, cheapest first, with state and affordability."""
        member = current_user.member
        balance = points.balance(member.id)
        items, total = service.mall_page(member, balance, args["page"], args["per_page"])
        return _json(schemas.mall_json(items, args["page"], args["per_page"], total, balance))


@blp.route("/<int:prize_id>")
class PrizeDetail(MethodView):
    decorators = [member_required]

    @blp.response(200, schemas.PrizeOut)
    def get(self, prize_id):
        member = current_user.member
        return schemas.prize_view(service.prize_for_member(member, prize_id), points.balance(member.id))


_REDEEM_ARGS = schemas.RedeemArgs()  # an instance: webargs would build one per request from the class


@blp.route("/<int:prize_id>/redeem")
class Redeem(MethodView):
    # No `member_required`: the Redis gate answers a sold-out or over-the-limit request from the
    # signed session's user id alone, before the database; the service loads and checks the user
    # (through Flask-Login) before it writes anything.
    decorators = [signed_session_required]

    @blp.arguments(_REDEEM_ARGS, error_status_code=400)
    @blp.response(201, schemas.RedemptionOut)
    @blp.alt_response(409, description="sold_out, daily_quota_reached, member_limit_reached, insufficient_points, …")
    @transactional
    def post(self, args, prize_id):
        """Redeem with one confirmation. Send `Idempotency-Key` to make retries safe."""
        body = service.redeem_prize(prize_id, args, request_key(), user_id=signed_user_id(), signed_in=current_actor)
        return _json(body, 201)


@blp.route("/redemptions")
class MyRedemptions(MethodView):
    decorators = [member_required]

    @blp.arguments(schemas.RedemptionQueryArgs, location="query", error_status_code=400)
    @blp.response(200, schemas.RedemptionPage)
    def get(self, args):
        stmt = service.my_redemptions(current_user.member)
        if args["status"]:
            stmt = stmt.where(service.Redemption.status == args["status"])
        return _page(stmt, args, schemas.redemption_view)


@blp.route("/redemptions/<int:redemption_id>")
class MyRedemption(MethodView):
    decorators = [member_required]

    @blp.response(200, schemas.RedemptionOut)
    def get(self, redemption_id):
        member = current_user.member
        return schemas.redemption_view(service.own_redemption(member, redemption_id), points.balance(member.id))


@blp.route("/redemptions/<int:redemption_id>/cancel")
class CancelRedemption(MethodView):
    decorators = [member_required]

    @blp.response(200, schemas.RedemptionOut)
    @transactional
    def post(self, redemption_id):
        """Cancel before pickup: the points and the stock come back."""
        member = current_user.member
        r = service.cancel(member, redemption_id, current_user.id)
        return _json(schemas.RedemptionOut().dump(schemas.redemption_view(r, points.balance(member.id))))


# --- pickup staff -----------------------------------------------------------------------------
# Pickup staff at their union office's points and cashiers at their merchant's store points; not
# admins (403): the code the member shows is checked only at the counter that hands the prize over.

@blp.route("/pickup/points")
class StaffPoints(MethodView):
    decorators = [pickup_staff_required]

    @blp.response(200, schemas.PickupPointOut(many=True))
    def get(self):
        """The pickup points where the signed-in staff member hands out prizes."""
        return service.staff_points(current_actor())


@blp.route("/pickup/verify")
class PickupVerify(MethodView):
    decorators = [pickup_staff_required]

    @blp.arguments(schemas.PickupArgs, error_status_code=400)
    @blp.response(200, schemas.PickupOut)
    def post(self, args):
        """Look a code up (changes nothing): prize, quantity and the member's masked name.
        Pickup staff and cashiers only, at one of their own points."""
        return schemas.pickup_view(service.find_for_pickup(current_actor(), args["pickup_point_id"], args["code"]))


@blp.route("/pickup/hand-over")
class PickupHandOver(MethodView):
    decorators = [pickup_staff_required]

    @blp.arguments(schemas.PickupArgs, error_status_code=400)
    @blp.response(200, schemas.PickupOut)
    @transactional
    def post(self, args):
        """Mark handed over. A code works once, only at its pickup point, only before its deadline,
        and only for that point's pickup staff or cashiers (admins are refused)."""
        return schemas.pickup_view(service.hand_over(current_actor(), args["pickup_point_id"], args["code"]))


# --- admins -----------------------------------------------------------------------------------

@blp.route("/admin/pickup-points")
class AdminPickupPoints(MethodView):
    decorators = [admin_required]

    @blp.response(200, schemas.PickupPointOut(many=True))
    def get(self):
        return db.session.scalars(service.pickup_points_in_scope(current_scope())).all()

    @blp.arguments(schemas.PickupPointArgs, error_status_code=400)
    @blp.response(201, schemas.PickupPointOut)
    @transactional
    def post(self, args):
        return service.create_pickup_point(current_actor(), current_scope(), **args)


@blp.route("/admin/prizes")
class AdminPrizes(MethodView):
    decorators = [admin_required]

    @blp.arguments(schemas.MallArgs, location="query", error_status_code=400)
    @blp.response(200, schemas.PrizeAdminPage)
    def get(self, args):
        return _page(service.prizes_in_scope(current_scope()), args, schemas.prize_view)

    @blp.arguments(schemas.PrizeCreateArgs, error_status_code=400)
    @blp.response(201, schemas.PrizeAdminOut)
    @transactional
    def post(self, args):
        prize = service.create_prize(current_actor(), current_scope(), args)
        return _json(schemas.PrizeAdminOut().dump(schemas.prize_view(prize)), 201)


@blp.route("/admin/prizes/<int:prize_id>")
class AdminPrize(MethodView):
    decorators = [admin_required]

    @blp.response(200, schemas.PrizeAdminOut)
    def get(self, prize_id):
        return schemas.prize_view(service.prize_in_scope(current_scope(), prize_id))

    @blp.arguments(schemas.PrizeUpdateArgs, error_status_code=400)
    @blp.response(200, schemas.PrizeAdminOut)
    @transactional
    def patch(self, args, prize_id):
        prize = service.prize_in_scope(current_scope(), prize_id)
        service.update_prize(current_actor(), current_scope(), prize, args)
        return _json(schemas.PrizeAdminOut().dump(schemas.prize_view(prize)))


@blp.route("/admin/prizes/<int:prize_id>/image")
class AdminPrizeImage(MethodView):
    decorators = [admin_required]

    @blp.response(200, schemas.PrizeAdminOut)
    @transactional
    def post(self, prize_id):
        """Upload the picture as multipart field `image` (PNG, JPEG, GIF or WebP, at most 2 MB)."""
        prize = service.prize_in_scope(current_scope(), prize_id)
        upload = request.files.get("image")
        service.set_image(current_actor(), prize, upload.read(service.MAX_IMAGE_BYTES + 1) if upload else b"")
        return schemas.prize_view(prize)


@blp.route("/admin/prizes/<int:prize_id>/restock")
class AdminRestock(MethodView):
    decorators = [admin_required]

    @blp.arguments(schemas.RestockArgs, error_status_code=400)
    @blp.response(200, schemas.PrizeAdminOut)
    @transactional
    def post(self, args, prize_id):
        prize = service.prize_in_scope(current_scope(), prize_id)
        service.restock(current_actor(), current_scope(), prize, args["quantity"], args["pickup_point_id"],
                        note=args["note"])
        return _json(schemas.PrizeAdminOut().dump(schemas.prize_view(prize)))


@blp.route("/admin/prizes/<int:prize_id>/stock-history")
class AdminStockHistory(MethodView):
    decorators = [admin_required]

    @blp.response(200, schemas.StockEventOut(many=True))
    def get(self, prize_id):
        return service.stock_history(service.prize_in_scope(current_scope(), prize_id))


@blp.route("/admin/prizes/<int:prize_id>/report")
class AdminReport(MethodView):
    decorators = [admin_required]

    @blp.response(200, schemas.ReportOut)
    def get(self, prize_id):
        return service.report(service.prize_in_scope(current_scope(), prize_id))


@blp.route("/admin/redemptions")
class AdminRedemptions(MethodView):
    decorators = [admin_required]

    @blp.arguments(schemas.AdminRedemptionArgs, location="query", error_status_code=400)
    @blp.response(200, schemas.AdminRedemptionPage)
    def get(self, args):
        """Redemptions in the admin's scope, members masked. No pickup codes: a code goes only to
        its member and is checked only at its pickup point."""
        stmt = service.redemptions_in_scope(current_scope(), args["prize_id"], args["status"], args["approval"])
        return _page(stmt, args, schemas.admin_redemption_view)


@blp.route("/admin/redemptions/export.csv")
class AdminExport(MethodView):
    decorators = [admin_required]

    @blp.arguments(schemas.AdminRedemptionArgs, location="query", error_status_code=400)
    @blp.response(200, content_type="text/csv")
    def get(self, args):
        """Redemptions as CSV (UTF-8 with BOM); cells are escaped against formula injection."""
        stmt = service.redemptions_in_scope(current_scope(), args["prize_id"], args["status"], args["approval"])
        return Response(export.redemptions_csv(stmt), mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=redemptions.csv"})


def _admin_action(name: str, action):
    @blp.route(f"/admin/redemptions/<int:redemption_id>/{name}", endpoint=f"admin_redemption_{name}")
    class AdminAction(MethodView):
        decorators = [admin_required]

        @blp.response(200, schemas.AdminRedemptionOut)
        @transactional
        def post(self, redemption_id):
            r = action(current_actor(), current_scope(), redemption_id)
            return _json(schemas.AdminRedemptionOut().dump(schemas.admin_redemption_view(r)))
    AdminAction.__name__ = f"AdminRedemption{name.title()}"
    return AdminAction


_admin_action("approve", service.approve)
_admin_action("reject", service.reject)
_admin_action("deliver", service.mark_delivered)
