"""Admin pages for discount rules: list, create / edit with a preview, pause, per-rule report."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from .. import charts, periods
from ..auth.access import admin_required, current_actor, current_scope
from ..database import unit_of_work
from ..errors import ValidationError
from ..extensions import db
from ..merchants.models import Merchant, Store
from ..orgs import service as orgs
from ..orgs.models import Organisation
from . import rules as service
from .engine import describe
from .forms import RuleForm, StatusForm

bp = Blueprint("promotions", __name__, url_prefix="/admin/promotions")


def _org_in_scope(code: str):
    org = orgs.get_by_code(code)
    return org if org is not None and current_scope().contains(org) else None


def _choices(form: RuleForm) -> None:
    in_scope = Merchant.org_id.in_(orgs.subtree_ids_select(current_scope()))
    merchants = db.session.execute(select(Merchant.id, Merchant.name).where(in_scope).order_by(Merchant.name)).all()
    form.merchant_ids.choices = [(m.id, m.name) for m in merchants]
    stores = db.session.execute(select(Store.id, Merchant.name, Store.name).join(Merchant)
                                .where(in_scope).order_by(Merchant.name, Store.name)).all()
    form.store_ids.choices = [(s[0], f"{s[1]} · {s[2]}") for s in stores]


def _editor(form: RuleForm, rule=None):
    """Shared by new and edit: 预览 shows the draft on sample amounts; 保存 writes a version."""
    scope = current_scope()
    previews = None
    if form.validate_on_submit():
        draft = form.draft(_org_in_scope)
        if not any(f.errors for f in form):
            try:
                if request.form.get("action") == "preview":
                    previews = service.preview(scope, draft)
                else:
                    with unit_of_work():
                        if rule is None:
                            rule = service.create_rule(current_actor(), scope, draft)
                            flash(_("优惠规则已创建"), "success")
                        else:
                            version = service.edit_rule(current_actor(), scope, rule, draft)
                            flash(_("已保存为第 %(n)s 版", n=version.number), "success")
                    return redirect(url_for("promotions.rule_detail", rule_id=rule.id))
            except ValidationError as exc:
                for name, messages in exc.details.get("fields", {}).items():
                    field = getattr(form, RuleForm.ERROR_FIELDS.get(name, name), None) or form.name
                    field.errors.extend(messages)
    status = 400 if request.method == "POST" and any(f.errors for f in form) else 200
    return render_template("promotions/edit.html", form=form, rule=rule, previews=previews), status


@bp.get("")
@admin_required
def rule_list():
    rules = db.session.scalars(service.rules_in_scope(current_scope())).all()
    summaries = {r.id: describe(service.terms_of(r)) for r in rules if r.current_version}
    return render_template("promotions/list.html", rules=rules, summaries=summaries)


@bp.route("/new", methods=["GET", "POST"])
@admin_required
def rule_new():
    form = RuleForm()
    _choices(form)
    return _editor(form)


@bp.route("/<int:rule_id>/edit", methods=["GET", "POST"])
@admin_required
def rule_edit(rule_id):
    rule = service.get_rule_in_scope(current_scope(), rule_id)
    form = RuleForm()
    _choices(form)
    if request.method == "GET":
        terms = rule.current_version.terms
        org = db.session.get(Organisation, terms["member_org_id"]) if terms.get("member_org_id") else None
        form.fill(terms, rule.name, org.code if org else None)
    return _editor(form, rule)


@bp.get("/<int:rule_id>")
@admin_required
def rule_detail(rule_id):
    rule = service.get_rule_in_scope(current_scope(), rule_id)
    report = service.report(rule)
    period, error = periods.from_args_or_default(request.args, periods.last_days(30))
    days = service.daily_report(rule, period)
    funder_names = {"union": _("工会"), "bank": _("银行"), "merchant": _("商家")}
    report_charts = {
        "days": charts.chart("bar", [charts.day_label(d["day"]) for d in days],
                             [(funder_names[f], [d["funders"][f] for d in days]) for f in funder_names],
                             money=True, stack=True),
        "funders": charts.chart("pie", funder_names.values(), [(_("优惠"), [report.funders[f] for f in funder_names])],
                                money=True),
    }
    return render_template("promotions/detail.html", rule=rule, summary=describe(service.terms_of(rule)),
                           report=report, used={n: (u, d) for n, u, d in report.by_version}, form=StatusForm(),
                           versions=sorted(rule.versions, key=lambda v: -v.number), period=period,
                           period_error=error, days=days, charts=report_charts), 400 if error else 200


@bp.post("/<int:rule_id>/status")
@admin_required
def rule_status(rule_id):
    form = StatusForm()
    if form.validate_on_submit():
        with unit_of_work():
            rule = service.get_rule_in_scope(current_scope(), rule_id)
            service.set_status(current_actor(), rule, "paused" if rule.status == "active" else "active")
        flash(_("已暂停") if rule.status == "paused" else _("已恢复"), "success")
    return redirect(url_for("promotions.rule_detail", rule_id=rule_id))
