"""Prize pages: the member's mall and redemptions (phone first), the pickup-point staff page,
and the admin prize console."""
from __future__ import annotations

import secrets

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import charts, clock, periods
from ..auth.access import admin_required, current_actor, current_scope, member_required, pickup_staff_required
from ..database import unit_of_work
from ..errors import DomainError
from ..extensions import db
from ..inputs import whole_number
from ..orgs import service as orgs
from ..pagination import page_number, paginate
from ..points import service as points
from . import categories, export, rules, schemas, service
from .forms import EmptyForm, ImageForm, PickupForm, PointForm, PrizeForm, RedeemForm, RestockForm

bp = Blueprint("prizes", __name__)
# Templates show a prize's picture (uploaded, else its category's placeholder) and category by
# the same functions the API uses.
bp.add_app_template_global(schemas.image_url, "prize_image_url")
bp.add_app_template_global(categories.label, "prize_category")


# --- member ---------------------------------------------------------------------------------

@bp.get("/prizes")
@member_required
def mall():
    member = current_user.member
    page = page_number()
    balance = points.balance(member.id)
    items, total = service.mall_page(member, balance, page, 40)
    return render_template("prizes/mall.html", prizes=items, total=total, page=page, per_page=40, balance=balance)


@bp.get("/prizes/<int:prize_id>")
@member_required
def detail(prize_id):
    member = current_user.member
    prize = service.prize_for_member(member, prize_id)
    form = RedeemForm(formdata=None)
    form.pickup_point_id.choices = [(s.pickup_point_id, f"{s.pickup_point.name}（{_('剩余')} {s.stock}）")
                                    for s in prize.stocks]
    return render_template("prizes/detail.html", prize=prize, form=form, balance=points.balance(member.id),
                           state=rules.prize_state(prize))


@bp.route("/prizes/<int:prize_id>/confirm", methods=["GET", "POST"])
@member_required
def confirm(prize_id):
    """The one confirmation: a summary with the final button; the nonce makes a double tap safe."""
    member = current_user.member
    prize = service.prize_for_member(member, prize_id)
    form = RedeemForm(request.args if request.method == "GET" else None)
    form.pickup_point_id.choices = [(s.pickup_point_id, s.pickup_point.name) for s in prize.stocks]
    if request.method == "GET":
        quantity = form.quantity.data if isinstance(form.quantity.data, int) else 1
        form.nonce.data = secrets.token_urlsafe(16)
        point = next((s.pickup_point for s in prize.stocks if s.pickup_point_id == form.pickup_point_id.data),
                     prize.stocks[0].pickup_point if len(prize.stocks) == 1 else None)
        return render_template("prizes/confirm.html", prize=prize, form=form, quantity=quantity, point=point,
                               balance=points.balance(member.id))
    form = RedeemForm()
    form.pickup_point_id.choices = [(s.pickup_point_id, s.pickup_point.name) for s in prize.stocks]
    if not form.validate():
        flash(_("请检查兑换数量和领取点。"), "error")
        return redirect(url_for("prizes.detail", prize_id=prize_id))
    args = {"quantity": form.quantity.data, "pickup_point_id": form.pickup_point_id.data or None,
            "delivery_address": form.delivery_address.data or None, "delivery_phone": form.delivery_phone.data or None}
    try:
        with unit_of_work():
            body = service.redeem_prize(prize_id, args, form.nonce.data or None, user_id=current_user.id,
                                        signed_in=current_actor)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("prizes.detail", prize_id=prize_id))
    flash(_("兑换成功！请凭核销码到领取点领取。") if body["pickup_code"] else _("兑换成功！我们会尽快寄出。"), "success")
    return redirect(url_for("prizes.my_redemption", redemption_id=body["id"]))


@bp.get("/prizes/my")
@member_required
def my_redemptions():
    member = current_user.member
    page = page_number()
    items, total = paginate(service.my_redemptions(member), page, 30)
    return render_template("prizes/my.html", redemptions=items, total=total, page=page, per_page=30,
                           balance=points.balance(member.id))


@bp.get("/prizes/my/<int:redemption_id>")
@member_required
def my_redemption(redemption_id):
    member = current_user.member
    r = service.own_redemption(member, redemption_id)
    return render_template("prizes/redemption.html", r=r, form=EmptyForm(), balance=points.balance(member.id),
                           now=clock.now(), as_utc=clock.as_utc)


@bp.post("/prizes/my/<int:redemption_id>/cancel")
@member_required
def cancel(redemption_id):
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        with unit_of_work():
            service.cancel(current_user.member, redemption_id, current_user.id)
        flash(_("已取消兑换，积分已退回。"), "success")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("prizes.my_redemption", redemption_id=redemption_id))


@bp.get("/prizes/images/<int:image_id>")
def image(image_id):
    """Served with the sniffed type only, never as HTML or SVG."""
    picture = service.prize_image(image_id)
    if picture is None:
        abort(404)
    response = Response(picture.data, mimetype=picture.content_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


# --- pickup-point staff ---------------------------------------------------------------------

@bp.route("/prizes/pickup", methods=["GET", "POST"])
@pickup_staff_required
def pickup():
    staff = current_actor()
    points_ = service.staff_points(staff)
    form = PickupForm()
    form.pickup_point_id.choices = [(p.id, p.name) for p in points_]
    found = None
    if form.validate_on_submit():
        try:
            found = service.find_for_pickup(staff, form.pickup_point_id.data, form.code.data)
        except DomainError as exc:
            flash(exc.message, "error")
    return render_template("prizes/pickup.html", form=form, points=points_, found=found,
                           hand_over_form=EmptyForm(), mask_name=rules.mask_name)


@bp.post("/prizes/pickup/hand-over")
@pickup_staff_required
def hand_over():
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        with unit_of_work():
            r = service.hand_over(current_actor(), request.form.get("pickup_point_id", type=whole_number) or 0,
                                  request.form.get("code", ""))
            flash(_("已核销：%(prize)s ×%(n)s，会员 %(name)s", prize=r.prize.name, n=r.quantity,
                    name=rules.mask_name(r.member.name)), "success")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("prizes.pickup"))


# --- admin ----------------------------------------------------------------------------------

def _point_choices(scope):
    return [(p.id, p.name) for p in db.session.scalars(service.pickup_points_in_scope(scope))]


@bp.get("/admin/prizes")
@admin_required
def admin_list():
    scope = current_scope()
    page = page_number()
    items, total = paginate(service.prizes_in_scope(scope), page, 50)
    pending, _n = paginate(service.redemptions_in_scope(scope, approval="pending"), 1, 20)
    return render_template("prizes/admin_list.html", prizes=items, total=total, page=page, per_page=50,
                           pending=pending, action_form=EmptyForm(), state=rules.prize_state)


def _form_data(form: PrizeForm, scope, creating: bool) -> dict:
    data = {name: getattr(form, name).data for name in (
        "name", "description", "category", "cost_points", "per_day_limit", "per_month_limit", "lifetime_limit",
        "daily_quota", "pickup_days", "high_value", "is_listed")}
    data["eligible_categories"] = form.eligible_categories.data or []
    for name in ("opens_at", "closes_at"):
        value = getattr(form, name).data
        data[name] = value.replace(tzinfo=clock.CHINA) if value else None
    code = (form.eligible_org_code.data or "").strip()
    if code:
        org = orgs.get_by_code(code)
        data["eligible_org_id"] = org.id if org else -1
    if creating:
        data["fulfilment"] = form.fulfilment.data
        if form.fulfilment.data == "pickup":
            data["allocations"] = [{"pickup_point_id": form.pickup_point_id.data, "stock": form.stock.data or 0}] \
                if form.pickup_point_id.data else []
        else:
            data["stock"] = form.stock.data or 0
    return data


@bp.route("/admin/prizes/new", methods=["GET", "POST"])
@admin_required
def admin_new():
    scope = current_scope()
    form = PrizeForm()
    form.pickup_point_id.choices = _point_choices(scope)
    if form.validate_on_submit():
        try:
            with unit_of_work():
                prize = service.create_prize(current_actor(), scope, _form_data(form, scope, True))
            flash(_("奖品已创建。"), "success")
            return redirect(url_for("prizes.admin_edit", prize_id=prize.id))
        except DomainError as exc:
            flash(exc.message, "error")
            _field_errors(form, exc)
    return render_template("prizes/admin_form.html", form=form, prize=None)


def _field_errors(form, exc: DomainError) -> None:
    for name, message in (exc.details.get("fields") or {}).items():
        field = getattr(form, name, None) or (form.eligible_org_code if name == "eligible_org_id" else None)
        if field is not None:
            field.errors = list(field.errors) + [str(message)]


@bp.route("/admin/prizes/<int:prize_id>", methods=["GET", "POST"])
@admin_required
def admin_edit(prize_id):
    scope = current_scope()
    prize = service.prize_in_scope(scope, prize_id)
    form = PrizeForm(obj=prize if request.method == "GET" else None)
    form.pickup_point_id.choices = _point_choices(scope)
    if request.method == "GET":
        form.eligible_org_code.data = prize.eligible_org.code
        form.eligible_categories.data = prize.categories
        for name in ("opens_at", "closes_at"):
            value = getattr(prize, name)
            getattr(form, name).data = clock.as_utc(value).astimezone(clock.CHINA).replace(tzinfo=None) if value else None
    elif form.validate_on_submit():
        try:
            with unit_of_work():
                service.update_prize(current_actor(), scope, prize, _form_data(form, scope, False))
            flash(_("已保存。"), "success")
            return redirect(url_for("prizes.admin_edit", prize_id=prize_id))
        except DomainError as exc:
            flash(exc.message, "error")
            _field_errors(form, exc)
    restock_form = RestockForm(formdata=None)
    restock_form.pickup_point_id.choices = _point_choices(scope)
    redemptions, _n = paginate(service.redemptions_in_scope(scope, prize_id=prize.id), 1, 50)
    period, period_error = periods.from_args_or_default(request.args, periods.last_days(30))
    days = service.daily_report(prize, period)
    days_chart = charts.chart("bar", [charts.day_label(d["day"]) for d in days],
                              [(_("兑换件数"), [d["units"] for d in days]),
                               (_("取消或过期"), [d["returned_units"] for d in days])], stack=True)
    return render_template("prizes/admin_form.html", form=form, prize=prize, restock_form=restock_form,
                           image_form=ImageForm(formdata=None), action_form=EmptyForm(), report=service.report(prize),
                           history=service.stock_history(prize, 100), redemptions=redemptions,
                           period=period, period_error=period_error, days=days,
                           days_chart=days_chart), 400 if period_error else 200


@bp.post("/admin/prizes/<int:prize_id>/restock")
@admin_required
def admin_restock(prize_id):
    scope = current_scope()
    form = RestockForm()
    form.pickup_point_id.choices = _point_choices(scope)
    if form.validate_on_submit():
        try:
            with unit_of_work():
                prize = service.prize_in_scope(scope, prize_id)
                service.restock(current_actor(), scope, prize, form.quantity.data,
                                form.pickup_point_id.data if prize.fulfilment == "pickup" else None,
                                note=form.note.data or "")
            flash(_("已补充库存。"), "success")
        except DomainError as exc:
            flash(exc.message, "error")
    else:
        flash(_("请填写增加数量。"), "error")
    return redirect(url_for("prizes.admin_edit", prize_id=prize_id))


@bp.post("/admin/prizes/<int:prize_id>/image")
@admin_required
def admin_image(prize_id):
    form = ImageForm()
    if form.validate_on_submit():
        try:
            with unit_of_work():
                prize = service.prize_in_scope(current_scope(), prize_id)
                service.set_image(current_actor(), prize, form.image.data.read(service.MAX_IMAGE_BYTES + 1))
            flash(_("图片已更新。"), "success")
        except DomainError as exc:
            flash(exc.message, "error")
    else:
        flash(_("请选择图片。"), "error")
    return redirect(url_for("prizes.admin_edit", prize_id=prize_id))


_ACTIONS = {"approve": service.approve, "reject": service.reject, "deliver": service.mark_delivered}


@bp.post("/admin/prizes/redemptions/<int:redemption_id>/<action>")
@admin_required
def admin_action(redemption_id, action):
    if action not in _ACTIONS or not EmptyForm().validate_on_submit():
        abort(400)
    try:
        with unit_of_work():
            _ACTIONS[action](current_actor(), current_scope(), redemption_id)
        flash(_("已处理。"), "success")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(request.referrer if request.referrer and request.referrer.startswith(request.host_url)
                    else url_for("prizes.admin_list"))


@bp.route("/admin/prizes/points", methods=["GET", "POST"])
@admin_required
def admin_points():
    scope = current_scope()
    form = PointForm()
    if form.validate_on_submit():
        office_id = store_id = None
        if form.kind.data == "office":
            org = orgs.get_by_code((form.office_org_code.data or "").strip())
            office_id = org.id if org else -1
        else:
            store_id = form.store_id.data
        try:
            with unit_of_work():
                service.create_pickup_point(current_actor(), scope, name=form.name.data, address=form.address.data or "",
                                            office_org_id=office_id, store_id=store_id)
            flash(_("领取点已添加。"), "success")
            return redirect(url_for("prizes.admin_points"))
        except DomainError as exc:
            flash(exc.message, "error")
    return render_template("prizes/admin_points.html", form=form,
                           points=db.session.scalars(service.pickup_points_in_scope(scope)).all())


@bp.get("/admin/prizes/export.csv")
@admin_required
def admin_export():
    """Every redemption in the admin's subtree, or one prize's (`?prize_id=`; an id that cannot
    be a prize's is a 404, as in a path)."""
    prize_id = request.args.get("prize_id", type=whole_number)
    if request.args.get("prize_id") and prize_id is None:
        abort(404)
    stmt = service.redemptions_in_scope(current_scope(), prize_id)
    return Response(export.redemptions_csv(stmt), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=redemptions.csv"})
