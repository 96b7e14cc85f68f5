"""The member's 消息 page: every notice, newest first, and which optional kinds come by SMS."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..auth.access import member_required
from ..database import unit_of_work
from ..pagination import page_number
from . import kinds, service
from .forms import SmsSettingsForm
from .urls import href

bp = Blueprint("notices", __name__)
PER_PAGE = 30
STATUS_NAMES = {"pending": _l("短信待发送"), "sent": _l("短信已发送"), "failed": _l("短信未能送达"), "skipped": _l("未发短信")}


@bp.get("/me/messages")
@member_required
def messages():
    page = page_number()
    member_id = current_user.member_id
    items, total = service.member_notices(member_id, page, PER_PAGE)
    return render_template("notices/messages.html", items=items, href=href, total=total, page=page,
                           per_page=PER_PAGE, settings=service.settings(member_id), form=SmsSettingsForm(),
                           status_names=STATUS_NAMES)


@bp.post("/me/messages/settings")
@member_required
def save_settings():
    form = SmsSettingsForm()
    if not form.validate_on_submit():
        abort(400)
    with unit_of_work():
        service.set_sms_off(current_user.member_id, [k for k in kinds.OPTIONAL if k not in (form.sms_on.data or ())])
    flash(_("短信提醒设置已保存。"), "success")
    return redirect(url_for("notices.messages") + "#settings")
