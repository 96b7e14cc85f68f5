"""Merchant onboarding API for union admins: merchants, stores, cashiers, terminal keys, reports
and closing statements. Everything is scoped to the admin's union subtree (else 404)."""
from __future__ import annotations

from flask.views import MethodView

from ..auth.access import admin_required, current_actor, current_scope
from ..database import transactional
from ..extensions import Blueprint
from ..orgs import service as orgs
from ..pagination import paginate
from ..transactions import settlement
from ..transactions.schemas import TillStatementSchema
from . import service
from .schemas import (CashierInSchema, CashierOutSchema, CloseStatementSchema, IssuedKeySchema, MerchantInSchema,
                      MerchantOutSchema, MerchantPageSchema, MerchantPatchSchema, MerchantQueryArgs,
                      MerchantReportRowSchema, ReportArgs, StoreSchema, TerminalKeyInSchema, TerminalKeyOutSchema)

URL_PREFIX = "/merchants"
blp = Blueprint("merchants_api", __name__, description="Partner merchants (普惠商家): onboarding by union admins")


def _merchant(merchant_id: int):
    return service.get_merchant_in_scope(current_scope(), merchant_id)


@blp.route("")
class Merchants(MethodView):
    decorators = [admin_required]

    @blp.arguments(MerchantQueryArgs, location="query", error_status_code=400)
    @blp.response(200, MerchantPageSchema)
    def get(self, args):
        """Merchants owned by your union or the unions below it."""
        stmt = service.merchants_in_scope(current_scope(), q=args["q"], status=args["status"], category=args["category"])
        items, total = paginate(stmt, args["page"], args["per_page"])
        return {"items": items, "page": args["page"], "per_page": args["per_page"], "total": total}

    @blp.arguments(MerchantInSchema, error_status_code=400)
    @blp.response(201, MerchantOutSchema)
    @transactional
    def post(self, data):
        """Onboard a merchant (audited)."""
        scope = current_scope()
        org = orgs.get_in_scope(scope, data.pop("org_id"))
        return service.create_merchant(current_actor(), scope, org, **data)


@blp.route("/<int:merchant_id>")
class MerchantItem(MethodView):
    decorators = [admin_required]

    @blp.response(200, MerchantOutSchema)
    def get(self, merchant_id):
        return _merchant(merchant_id)

    @blp.arguments(MerchantPatchSchema, error_status_code=400)
    @blp.response(200, MerchantOutSchema)
    @transactional
    def patch(self, data, merchant_id):
        """Change details, status (active / suspended / ended) or the card-number setting."""
        m = _merchant(merchant_id)
        current = {"name": m.name, "category": m.category, "status": m.status, "contact_name": m.contact_name,
                   "contact_phone": m.contact_phone, "accepts_card_number": m.accepts_card_number}
        return service.update_merchant(current_actor(), m, **{**current, **data})


@blp.route("/<int:merchant_id>/stores")
class Stores(MethodView):
    decorators = [admin_required]

    @blp.arguments(StoreSchema, error_status_code=400)
    @blp.response(201, StoreSchema)
    @transactional
    def post(self, data, merchant_id):
        return service.add_store(current_actor(), _merchant(merchant_id), name=data["name"], address=data["address"])


@blp.route("/<int:merchant_id>/cashiers")
class Cashiers(MethodView):
    decorators = [admin_required]

    @blp.arguments(CashierInSchema, error_status_code=400)
    @blp.response(201, CashierOutSchema)
    @transactional
    def post(self, data, merchant_id):
        """A cashier sign-in account for this merchant (optionally one store)."""
        m = _merchant(merchant_id)
        store = service.get_store(m, data["store_id"]) if data["store_id"] else None
        user = service.create_cashier(current_actor(), m, username=data["username"], display_name=data["display_name"],
                                      password=data["password"], store=store)
        return {"user_id": user.id, "username": user.username, "merchant_id": m.id,
                "store_id": store.id if store else None}


@blp.route("/<int:merchant_id>/stores/<int:store_id>/terminal-keys")
class TerminalKeys(MethodView):
    decorators = [admin_required]

    @blp.arguments(TerminalKeyInSchema, error_status_code=400)
    @blp.response(201, IssuedKeySchema)
    @transactional
    def post(self, data, merchant_id, store_id):
        """Issue a till key for the store. The key is in this response only; we keep its hash."""
        row, key = service.issue_terminal_key(current_actor(), service.get_store(_merchant(merchant_id), store_id),
                                              data["label"])
        return {"id": row.id, "store_id": row.store_id, "label": row.label, "key_prefix": row.key_prefix,
                "created_at": row.created_at, "revoked_at": None, "key": key}


@blp.route("/<int:merchant_id>/terminal-keys")
class TerminalKeyList(MethodView):
    decorators = [admin_required]

    @blp.response(200, TerminalKeyOutSchema(many=True))
    def get(self, merchant_id):
        return service.terminal_keys_of(_merchant(merchant_id))


@blp.route("/<int:merchant_id>/terminal-keys/<int:key_id>")
class TerminalKeyItem(MethodView):
    decorators = [admin_required]

    @blp.response(200, TerminalKeyOutSchema)
    @transactional
    def delete(self, merchant_id, key_id):
        """Revoke a key: the till using it is refused from the next request."""
        return service.revoke_terminal_key(current_actor(), service.get_terminal_key(_merchant(merchant_id), key_id))


@blp.route("/<int:merchant_id>/statements")
class Statements(MethodView):
    decorators = [admin_required]

    @blp.arguments(CloseStatementSchema, error_status_code=400)
    @blp.response(201, TillStatementSchema)
    @transactional
    def post(self, data, merchant_id):
        """Close the merchant's open period through a past China day."""
        return settlement.close_statement(current_actor(), _merchant(merchant_id), data["through"])


@blp.route("/report")
class Report(MethodView):
    decorators = [admin_required]

    @blp.arguments(ReportArgs, location="query", error_status_code=400)
    @blp.response(200, MerchantReportRowSchema(many=True))
    def get(self, args):
        """Per merchant in your scope: volume, discount and funders' shares, net of refunds."""
        return settlement.merchant_report(current_scope(), args["start"], args["end"])
