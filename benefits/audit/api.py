"""The audit log of the admin's subtree, newest first."""
from flask.views import MethodView

from ..auth.access import admin_required, current_scope
from ..extensions import Blueprint
from ..pagination import paginate
from . import service
from .schemas import AuditPageSchema, AuditQueryArgs

URL_PREFIX = "/audit"
blp = Blueprint("audit_api", __name__, description="Audit log (who changed what, when, before → after)")


@blp.route("")
class AuditLog(MethodView):
    decorators = [admin_required]

    @blp.arguments(AuditQueryArgs, location="query", error_status_code=400)
    @blp.response(200, AuditPageSchema)
    def get(self, args):
        """Entries for organisations in your subtree, filterable by action."""
        items, total = paginate(service.entries_in_scope(current_scope(), args["action"]),
                                args["page"], args["per_page"])
        return {"items": items, "page": args["page"], "per_page": args["per_page"], "total": total}
