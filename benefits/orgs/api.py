"""Organisations API: the tree below the admin's own union."""
from flask.views import MethodView

from ..auth.access import admin_required, current_scope
from ..extensions import Blueprint
from . import service
from .schemas import OrganisationSchema, OrgQueryArgs

URL_PREFIX = "/organisations"
blp = Blueprint("orgs_api", __name__, description="Union organisation tree (组织)")


@blp.route("")
class Organisations(MethodView):
    decorators = [admin_required]

    @blp.arguments(OrgQueryArgs, location="query", error_status_code=400)
    @blp.response(200, OrganisationSchema(many=True))
    def get(self, args):
        """Direct children of `parent_id` (default: the admin's own union and its children), or with
        `q` the organisations in your subtree whose name or code holds it."""
        scope = current_scope()
        if args["q"] is not None:
            return service.search(scope, args["q"])
        if args["parent_id"] is None:
            return [scope, *service.children(scope)]
        return service.children(service.get_in_scope(scope, args["parent_id"]))


@blp.route("/<int:org_id>")
class OrganisationItem(MethodView):
    decorators = [admin_required]

    @blp.response(200, OrganisationSchema)
    def get(self, org_id):
        """One organisation inside your subtree (404 outside it)."""
        return service.get_in_scope(current_scope(), org_id)
