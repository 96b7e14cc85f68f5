"""Promotions API: rules (versioned), previews of drafts and per-rule reports, for admins."""
from flask.views import MethodView
from sqlalchemy import select

from ..auth.access import admin_required, current_actor, current_scope
from ..database import unit_of_work
from ..extensions import Blueprint, db
from . import rules as service
from .models import PromotionRuleVersion
from .schemas import (PromotionPreviewInputSchema, PromotionQuoteSchema, PromotionReportSchema, PromotionRuleInputSchema, PromotionRuleSchema,
                      PromotionStatusInputSchema, PromotionVersionSchema)

URL_PREFIX = "/promotions"
blp = Blueprint("promotions_api", __name__, description="Discount rules (优惠规则)")


@blp.route("/rules")
class Rules(MethodView):
    decorators = [admin_required]

    @blp.response(200, PromotionRuleSchema(many=True))
    def get(self):
        """Rules owned by the admin's union and the unions below it."""
        return db.session.scalars(service.rules_in_scope(current_scope())).all()

    @blp.arguments(PromotionRuleInputSchema, error_status_code=400)
    @blp.response(201, PromotionRuleSchema)
    def post(self, data):
        """Create a rule (version 1)."""
        with unit_of_work():
            rule = service.create_rule(current_actor(), current_scope(), data)
        return rule


@blp.route("/rules/<int:rule_id>")
class RuleItem(MethodView):
    decorators = [admin_required]

    @blp.response(200, PromotionRuleSchema)
    def get(self, rule_id):
        return service.get_rule_in_scope(current_scope(), rule_id)

    @blp.arguments(PromotionRuleInputSchema, error_status_code=400)
    @blp.response(200, PromotionRuleSchema)
    def put(self, data, rule_id):
        """Edit: writes the next version; earlier versions stay as they were."""
        with unit_of_work():
            rule = service.get_rule_in_scope(current_scope(), rule_id)
            service.edit_rule(current_actor(), current_scope(), rule, data)
        return rule


@blp.route("/rules/<int:rule_id>/status")
class RuleStatus(MethodView):
    decorators = [admin_required]

    @blp.arguments(PromotionStatusInputSchema, error_status_code=400)
    @blp.response(200, PromotionRuleSchema)
    def post(self, data, rule_id):
        """Pause or resume a rule."""
        with unit_of_work():
            rule = service.set_status(current_actor(), service.get_rule_in_scope(current_scope(), rule_id),
                                      data["status"])
        return rule


@blp.route("/rules/<int:rule_id>/versions")
class RuleVersions(MethodView):
    decorators = [admin_required]

    @blp.response(200, PromotionVersionSchema(many=True))
    def get(self, rule_id):
        rule = service.get_rule_in_scope(current_scope(), rule_id)
        return db.session.scalars(select(PromotionRuleVersion).where(PromotionRuleVersion.rule_id == rule.id)
                                  .order_by(PromotionRuleVersion.number)).all()


@blp.route("/rules/<int:rule_id>/report")
class RuleReport(MethodView):
    decorators = [admin_required]

    @blp.response(200, PromotionReportSchema)
    def get(self, rule_id):
        """Uses, discount given (net of refunds), budget left and each funder's total."""
        return service.report(service.get_rule_in_scope(current_scope(), rule_id))


@blp.route("/preview")
class Preview(MethodView):
    decorators = [admin_required]

    @blp.arguments(PromotionPreviewInputSchema, error_status_code=400)
    @blp.response(200, PromotionQuoteSchema(many=True))
    def post(self, data):
        """What a draft rule gives on sample amounts (default 50, 100, 200, 250, 500 yuan). Writes nothing."""
        amounts = tuple(data.pop("amounts_fen") or service.PREVIEW_AMOUNTS)
        return service.preview(current_scope(), data, amounts)
