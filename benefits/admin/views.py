"""Admin console pages. Every page is scoped to the admin's own union subtree."""
from flask import Blueprint, render_template, request

from ..auth.access import admin_required, current_scope
from ..orgs import service as orgs

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("")
@admin_required
def dashboard():
    scope = current_scope()
    focus = orgs.get_in_scope(scope, request.args.get("org", scope.id, type=int))
    return render_template("admin/dashboard.html", scope=scope, focus=focus,
                           trail=[o for o in orgs.ancestors(focus) if scope.contains(o)],
                           children=orgs.children(focus), child_counts=orgs.child_counts(focus))


from . import member_import  # noqa: E402,F401  (its routes register on `bp`)
