"""Festival gift pages: the member's campaigns, gift choice, confirmation and pickup code (phone
first), and the union admin's campaigns, gifts, claims and report. The pickup code is handed
over at the prize counter (`/prizes/pickup`)."""
from __future__ import annotations

import secrets

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import clock
from ..auth.access import admin_required, current_actor, current_scope, member_required
from ..database import unit_of_work
from ..errors import DomainError, ValidationError
from ..extensions import db
from ..inputs import whole_number
from ..orgs import service as orgs
from ..pagination import page_number, paginate
from ..prizes import service as prizes
from ..prizes.rules import mask_name
from . import export, rules, service
from .forms import NO_POINT, CampaignForm, ClaimForm, EmptyForm, GiftForm, RestockForm

bp = Blueprint("festival", __name__)
PER_PAGE = 50

# The prize mall's delivery check names its fields; the page says what to fix in Chinese.
_CONTACT_MESSAGES = {"delivery_address": "请填写收货地址（5–255 个字）。", "delivery_phone": "请填写正确的 11 位手机号码。"}


# --- member ---------------------------------------------------------------------------------

@bp.get("/festival")
@member_required
def index():
    member = current_user.member
    return render_template("festival/index.html", campaigns=service.campaigns_for_member(member),
                           claims=service.my_claims(member), state=rules.campaign_state)


@bp.get("/festival/<int:campaign_id>")
@member_required
def detail(campaign_id):
    member = current_user.member
    campaign = service.campaign_for_member(member, campaign_id)
    return render_template("festival/detail.html", campaign=campaign, claim=service.my_claim(member, campaign_id),
                           state=rules.campaign_state(campaign), refusal=rules.eligibility_refusal(member, campaign))


@bp.route("/festival/<int:campaign_id>/confirm", methods=["GET", "POST"])
@member_required
def confirm(campaign_id):
    """The one confirmation: a summary (and, for a delivery gift, the address) with the final
    button; the nonce makes a double tap safe."""
    member = current_user.member
    campaign = service.campaign_for_member(member, campaign_id)
    if request.method == "GET":
        gift = service.gift_of(campaign, request.args.get("gift_id", type=whole_number))
        if gift is None:
            flash(_("请选择一份礼品。"), "error")
            return redirect(url_for("festival.detail", campaign_id=campaign_id))
        form = ClaimForm(formdata=None, gift_id=gift.id, nonce=secrets.token_urlsafe(16))
        return render_template("festival/confirm.html", campaign=campaign, gift=gift, form=form)
    form = ClaimForm()
    if not form.validate():
        flash(_("请重新选择礼品。"), "error")
        return redirect(url_for("festival.detail", campaign_id=campaign_id))
    args = {"gift_id": form.gift_id.data, "delivery_address": form.delivery_address.data or None,
            "delivery_phone": form.delivery_phone.data or None}
    try:
        with unit_of_work():
            body = service.claim_gift(campaign_id, args, form.nonce.data or None, user_id=current_user.id,
                                      signed_in=current_actor)
    except ValidationError as exc:
        fields = exc.details.get("fields") or {}
        contact = [m for name, m in _CONTACT_MESSAGES.items() if name in fields]
        flash(" ".join(contact) or exc.message, "error")
        if contact:
            return redirect(url_for("festival.confirm", campaign_id=campaign_id, gift_id=form.gift_id.data))
        return redirect(url_for("festival.detail", campaign_id=campaign_id))
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("festival.detail", campaign_id=campaign_id))
    flash(_("领取成功！请凭核销码到领取点领取。") if body["pickup_code"] else _("领取成功！我们会尽快寄出。"), "success")
    return redirect(url_for("festival.claim", campaign_id=campaign_id))


@bp.get("/festival/<int:campaign_id>/claim")
@member_required
def claim(campaign_id):
    member = current_user.member
    campaign = service.campaign_for_member(member, campaign_id)
    return render_template("festival/claim.html", campaign=campaign, r=service.own_claim(member, campaign_id))


# --- admin ----------------------------------------------------------------------------------

@bp.get("/admin/festival")
@admin_required
def admin_list():
    scope = current_scope()
    items, total = paginate(service.campaigns_in_scope(scope), page_number(), PER_PAGE)
    return render_template("festival/admin_list.html", campaigns=items, total=total, state=rules.campaign_state)


def _gift_choices(form: GiftForm, scope) -> None:
    names = {"pickup": _("到点领取"), "delivery": _("邮寄")}
    form.prize_id.choices = [(p.id, f"{p.name}（{names[p.fulfilment]}）")
                             for p in db.session.scalars(prizes.prizes_in_scope(scope))]
    form.pickup_point_id.choices = [(NO_POINT, _("邮寄的礼品：无领取点"))] + [
        (p.id, p.name) for p in db.session.scalars(prizes.pickup_points_in_scope(scope))]


def _gift_data(form: GiftForm) -> dict:
    point = form.pickup_point_id.data
    return {"prize_id": form.prize_id.data, "pickup_point_id": None if point in (None, NO_POINT) else point,
            "stock": form.stock.data}


def _campaign_data(form: CampaignForm) -> dict:
    data = {"name": form.name.data, "description": form.description.data or "",
            "eligible_categories": form.eligible_categories.data or [], "pickup_until": form.pickup_until.data,
            "gifts": [_gift_data(form)]}
    for name in ("opens_at", "closes_at"):
        value = getattr(form, name).data
        data[name] = value.replace(tzinfo=clock.CHINA) if value else None
    code = (form.eligible_org_code.data or "").strip()
    if code:
        org = orgs.get_by_code(code)
        data["eligible_org_id"] = org.id if org else -1
    return data


_FORM_FIELDS = {"eligible_org_id": "eligible_org_code", "gifts": "prize_id", "gifts.0.prize_id": "prize_id",
                "gifts.0.pickup_point_id": "pickup_point_id", "gifts.0.stock": "stock"}


def _field_errors(form, exc: DomainError) -> None:
    for name, messages in (exc.details.get("fields") or {}).items():
        field = getattr(form, _FORM_FIELDS.get(name, name), None)
        if field is not None:
            field.errors = list(field.errors) + [str(m) for m in messages]


@bp.route("/admin/festival/new", methods=["GET", "POST"])
@admin_required
def admin_new():
    scope = current_scope()
    form = CampaignForm()
    _gift_choices(form, scope)
    if form.validate_on_submit():
        try:
            with unit_of_work():
                campaign = service.create_campaign(current_actor(), scope, _campaign_data(form))
            flash(_("节日福利活动“%(name)s”已创建。", name=campaign.name), "success")
            return redirect(url_for("festival.admin_detail", campaign_id=campaign.id))
        except DomainError as exc:
            flash(exc.message, "error")
            _field_errors(form, exc)
    elif request.method == "POST":
        flash(_("有的项目没填或填得不对。"), "error")
    return render_template("festival/admin_new.html", form=form), 400 if request.method == "POST" else 200


@bp.get("/admin/festival/<int:campaign_id>")
@admin_required
def admin_detail(campaign_id):
    scope = current_scope()
    campaign = service.campaign_in_scope(scope, campaign_id)
    gift_form = GiftForm(formdata=None)
    _gift_choices(gift_form, scope)
    page = page_number()
    claims, total = paginate(service.claims_of(campaign), page, PER_PAGE)
    return render_template("festival/admin_detail.html", campaign=campaign, state=rules.campaign_state(campaign),
                           claimed=service.claimed_by_gift(campaign), gift_form=gift_form,
                           restock_form=RestockForm(formdata=None), action_form=EmptyForm(), claims=claims,
                           total=total, page=page, pages=max(1, -(-total // PER_PAGE)), mask_name=mask_name,
                           mask_address=rules.mask_address)


@bp.post("/admin/festival/<int:campaign_id>/gifts")
@admin_required
def admin_add_gift(campaign_id):
    scope = current_scope()
    campaign = service.campaign_in_scope(scope, campaign_id)
    form = GiftForm()
    _gift_choices(form, scope)
    if not form.validate_on_submit():
        flash(_("请选择礼品、领取点并填写数量。"), "error")
    else:
        try:
            with unit_of_work():
                service.add_gift(current_actor(), scope, campaign, _gift_data(form))
            flash(_("礼品已添加。"), "success")
        except DomainError as exc:
            messages = [m for ms in (exc.details.get("fields") or {}).values() for m in ms]
            flash("；".join(messages) or exc.message, "error")
    return redirect(url_for("festival.admin_detail", campaign_id=campaign_id))


@bp.post("/admin/festival/<int:campaign_id>/gifts/<int:gift_id>/restock")
@admin_required
def admin_restock(campaign_id, gift_id):
    campaign = service.campaign_in_scope(current_scope(), campaign_id)
    form = RestockForm()
    if not form.validate_on_submit():
        flash(_("请填写增加数量。"), "error")
    else:
        try:
            with unit_of_work():
                service.restock_gift(current_actor(), campaign, gift_id, form.quantity.data)
            flash(_("已补充库存。"), "success")
        except DomainError as exc:
            flash(exc.message, "error")
    return redirect(url_for("festival.admin_detail", campaign_id=campaign_id))


@bp.post("/admin/festival/<int:campaign_id>/claims/<int:claim_id>/deliver")
@admin_required
def admin_deliver(campaign_id, claim_id):
    scope = current_scope()
    campaign = service.campaign_in_scope(scope, campaign_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        with unit_of_work():
            service.mark_delivered(current_actor(), scope, campaign, claim_id)
        flash(_("已标记为寄出。"), "success")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("festival.admin_detail", campaign_id=campaign_id))


@bp.get("/admin/festival/<int:campaign_id>/report")
@admin_required
def admin_report(campaign_id):
    campaign = service.campaign_in_scope(current_scope(), campaign_id)
    return render_template("festival/admin_report.html", campaign=campaign, report=service.report(campaign))


def _csv(body: str, name: str) -> Response:
    return Response(body, mimetype="text/csv", headers={"Content-Disposition": f"attachment; filename={name}"})


@bp.get("/admin/festival/<int:campaign_id>/unclaimed.csv")
@admin_required
def admin_unclaimed_csv(campaign_id):
    campaign = service.campaign_in_scope(current_scope(), campaign_id)
    return _csv(export.unclaimed_csv(service.report(campaign)), f"festival-{campaign.id}-unclaimed.csv")


@bp.get("/admin/festival/<int:campaign_id>/stock.csv")
@admin_required
def admin_stock_csv(campaign_id):
    campaign = service.campaign_in_scope(current_scope(), campaign_id)
    return _csv(export.stock_csv(service.report(campaign)), f"festival-{campaign.id}-stock.csv")
