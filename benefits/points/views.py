"""Points pages: the member's balance and history; an admin's audited adjustment."""
from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import StringField
from wtforms.validators import DataRequired, Length, NumberRange

from ..auth.access import admin_required, current_actor, current_scope, member_required
from ..database import unit_of_work
from ..errors import DomainError
from ..extensions import db
from ..inputs import IntegerField
from ..members.models import Member
from ..pagination import page_number, paginate
from ..pii import InvalidIdNumber, normalise_id_number
from . import service

bp = Blueprint("points", __name__)
KIND_NAMES = {"earn": _l("获得"), "spend": _l("兑换"), "refund": _l("退回"), "adjust": _l("调整"), "expire": _l("过期")}


class AdjustForm(FlaskForm):
    id_number = StringField(_l("会员身份证号"), validators=[DataRequired(), Length(max=18)])
    amount = IntegerField(_l("调整积分（负数为扣减）"), validators=[DataRequired(), NumberRange(-1_000_000, 1_000_000)])
    reason = StringField(_l("原因"), validators=[DataRequired(), Length(max=200)])


@bp.get("/me/points")
@member_required
def my_points():
    page = page_number()
    items, total = paginate(service.history(current_user.member_id), page, 30)
    return render_template("points/mine.html", balance=service.balance(current_user.member_id), items=items,
                           total=total, page=page, kinds=KIND_NAMES)


@bp.route("/admin/points/adjust", methods=["GET", "POST"])
@admin_required
def admin_adjust():
    form = AdjustForm()
    entry = None
    if form.validate_on_submit():
        try:
            id_number = normalise_id_number(form.id_number.data)
        except InvalidIdNumber:
            form.id_number.errors.append(_("身份证号无效"))
        else:
            member = db.session.scalar(select(Member).where(Member.id_number == id_number))
            if member is None or not current_scope().contains(member.org):
                form.id_number.errors.append(_("本单位没有这位会员"))
            else:
                try:
                    with unit_of_work():
                        entry = service.adjust(current_actor(), member, form.amount.data, form.reason.data)
                        flash(_("已调整，当前余额 %(b)s 积分。", b=entry.balance_after), "success")
                except DomainError as exc:
                    flash(exc.message, "error")
                else:
                    return redirect(url_for("points.admin_adjust"))
    return render_template("points/adjust.html", form=form)
