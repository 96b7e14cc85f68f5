"""Staff account pages (员工账号): list, create, disable, enable and reset the password of admins,
cashiers and pickup staff inside the admin's union. Who may change whom is the service's rule
(`auth/staff.py`); these pages only show it. Nested in the admin console's blueprint: /admin/staff.

A reset password, made up or typed, is shown on the answer to the reset and nowhere else (not
flashed into the cookie, not logged)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from ..auth import passwords
from ..auth import staff as service
from ..auth.access import admin_required, current_actor, current_scope
from ..database import unit_of_work
from ..errors import DomainError, ValidationError
from ..pagination import page_number, paginate

bp = Blueprint("staff", __name__, url_prefix="/staff")

PER_PAGE = 30
ROLE_NAMES = {"admin": _l("管理员"), "merchant_staff": _l("收银员"), "pickup_staff": _l("核销员")}
NEW_TITLES = {"admin": _l("新建管理员"), "merchant_staff": _l("新建收银员"), "pickup_staff": _l("新建核销员")}
# The password rule that refused, in words (the rule itself: auth/passwords.py).
PASSWORD_PROBLEMS = {
    "too_short": _l("密码至少需要 %(n)s 位。", n=passwords.MIN_LENGTH),
    "common": _l("这个密码太常见，很容易被猜中，请换一个。"),
    "like_account": _l("密码不能取自账号。"),
}
# Refusals by their stable code, in the page's language.
REFUSALS = {
    "username_taken": _l("这个账号已被使用，请换一个。"),
    "own_account": _l("不能停用、启用或重置自己的账号。"),
    "same_union_admin": _l("本级工会的管理员由上级工会管理。"),
    "already_enabled": _l("该账号已是启用状态。"),
    "already_disabled": _l("该账号已停用。"),
}


class StaffForm(FlaskForm):
    username = StringField(_l("登录账号"), validators=[DataRequired(), Length(max=64)],
                           description=_l("2–64 位字母、数字或 _ . @ -，如 cashier_01"))
    display_name = StringField(_l("姓名"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("初始密码"), validators=[DataRequired(), Length(max=128)],
                             description=_l("至少 %(n)s 位，不能太常见，不能取自账号。", n=passwords.MIN_LENGTH))
    org_id = SelectField(_l("所属工会"), coerce=str, validate_choice=False)
    merchant_id = SelectField(_l("所属商家"), coerce=str, validate_choice=False)
    store_id = SelectField(_l("门店"), coerce=str, validate_choice=False)


class PasswordForm(FlaskForm):
    password = PasswordField(_l("新密码（留空则由系统生成）"), validators=[Optional(), Length(max=128)])


class ActionForm(FlaskForm):
    """Carries only the CSRF token of a one-button action."""


def _role_arg(values) -> str:
    role = values.get("role") or ""
    return role if role in ROLE_NAMES else ""


def _message(exc: DomainError) -> str:
    return str(REFUSALS[exc.code]) if exc.code in REFUSALS else exc.message


# --- list -----------------------------------------------------------------------------------------

@bp.get("")
@admin_required
def staff_list():
    scope = current_scope()
    role = _role_arg(request.args)
    status = request.args.get("status") if request.args.get("status") in ("enabled", "disabled") else ""
    q = (request.args.get("q") or "").strip()[:64]
    page = page_number()
    stmt = service.staff_in_scope(scope, role=role or None, q=q,
                                  enabled={"enabled": True, "disabled": False}.get(status))
    users, total = paginate(stmt, page, PER_PAGE)
    return render_template("admin/staff_list.html", users=users, workplaces=service.workplaces(users),
                           total=total, page=page, pages=max(1, -(-total // PER_PAGE)), role=role, status=status,
                           q=q, role_names=ROLE_NAMES, can_create_admins=bool(service.admin_unions(scope)))


# --- create ---------------------------------------------------------------------------------------

def _indented(orgs, scope) -> list[tuple[str, str]]:
    depth0 = scope.path.count("/")
    return [(str(o.id), "　" * (o.path.count("/") - depth0) + o.name) for o in orgs]


def _choices(form: StaffForm, role: str) -> None:
    scope = current_scope()
    if role == "merchant_staff":
        merchants = service.merchants_in_scope(scope)
        form.merchant_id.choices = [("", _("请选择商家"))] + [(str(m.id), m.name) for m in merchants]
        form.store_id.choices = [("", _("不限门店"))] + [
            (str(s.id), f"{m.name} · {s.name}") for m in merchants for s in m.stores]
    else:
        unions = service.admin_unions(scope) if role == "admin" else service.offices(scope)
        form.org_id.choices = [("", _("请选择工会"))] + _indented(unions, scope)


def _field_errors(form: StaffForm, exc: ValidationError) -> bool:
    """Put the service's field messages on the form's fields; False when none of them is one."""
    fields = (exc.details or {}).get("fields") or {}
    placed = False
    for name, message in fields.items():
        target = getattr(form, name, None)
        if target is None:
            continue
        if name == "password":
            problem = passwords.problem(form.password.data, (form.username.data or "").strip())
            message = PASSWORD_PROBLEMS.get(problem, message)
        target.errors = [*target.errors, str(message)]
        placed = True
    return placed


@bp.route("/new", methods=["GET", "POST"])
@admin_required
def staff_new():
    role = _role_arg(request.values)
    if not role:
        abort(404)
    form = StaffForm()
    _choices(form, role)
    if form.validate_on_submit():
        try:
            with unit_of_work():
                user = service.create_staff(current_actor(), current_scope(), role=role,
                                            username=form.username.data, display_name=form.display_name.data,
                                            password=form.password.data, org_id=form.org_id.data,
                                            merchant_id=form.merchant_id.data, store_id=form.store_id.data)
                user_id = user.id
            flash(_("%(role)s账号已创建，可以用它登录了。", role=ROLE_NAMES[role]), "success")
            return redirect(url_for("admin.staff.detail", user_id=user_id))
        except ValidationError as exc:
            if not _field_errors(form, exc):
                flash(_message(exc), "error")
        except DomainError as exc:
            if exc.code == "username_taken":
                form.username.errors = [*form.username.errors, str(REFUSALS["username_taken"])]
            else:
                flash(_message(exc), "error")
    status = 400 if request.method == "POST" else 200
    return render_template("admin/staff_new.html", form=form, role=role, title=NEW_TITLES[role],
                           role_names=ROLE_NAMES), status


# --- one account ----------------------------------------------------------------------------------

def _render_detail(user, status: int = 200, **context):
    scope = current_scope()
    return render_template("admin/staff_detail.html", user=user, role_names=ROLE_NAMES,
                           workplace=service.workplaces([user]).get(user.id, ""),
                           refusal=service.refusal(current_actor(), scope, user), refusals=REFUSALS,
                           action_form=ActionForm(), password_form=context.pop("password_form", None) or PasswordForm(),
                           **context), status


@bp.get("/<int:user_id>")
@admin_required
def detail(user_id: int):
    return _render_detail(service.get_staff(current_scope(), user_id))


def _switch(user_id: int, enabled: bool):
    scope = current_scope()
    user = service.get_staff(scope, user_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        with unit_of_work():
            service.set_staff_enabled(current_actor(), scope, user, enabled)
        flash(_("账号已启用。") if enabled else _("账号已停用，已登录的设备也已退出。"), "success")
    except DomainError as exc:
        flash(_message(exc), "error")
    return redirect(url_for("admin.staff.detail", user_id=user_id))


@bp.post("/<int:user_id>/disable")
@admin_required
def disable(user_id: int):
    return _switch(user_id, False)


@bp.post("/<int:user_id>/enable")
@admin_required
def enable(user_id: int):
    return _switch(user_id, True)


@bp.post("/<int:user_id>/password")
@admin_required
def reset_password(user_id: int):
    scope = current_scope()
    user = service.get_staff(scope, user_id)
    form = PasswordForm()
    if not form.validate_on_submit():
        return _render_detail(user, 400, password_form=form)
    typed = form.password.data or None
    try:
        with unit_of_work():
            password = service.reset_password(current_actor(), scope, user, typed)
    except ValidationError as exc:
        problem = passwords.problem(typed, user.username)
        form.password.errors = [*form.password.errors, str(PASSWORD_PROBLEMS.get(problem) or _message(exc))]
        return _render_detail(service.get_staff(scope, user_id), 400, password_form=form)
    except DomainError as exc:
        flash(_message(exc), "error")
        return redirect(url_for("admin.staff.detail", user_id=user_id))
    # Shown on this answer only; a typed password is not shown again (the admin has it).
    return _render_detail(service.get_staff(scope, user_id), new_password=None if typed else password,
                          password_was_reset=True)
