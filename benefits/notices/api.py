"""Notices API (消息): a member reads their notices and chooses which optional kinds come by SMS."""
from __future__ import annotations

from flask.views import MethodView
from flask_login import current_user

from ..auth.access import member_required
from ..database import transactional
from ..extensions import Blueprint
from ..pagination import page_schema
from . import schemas, service
from .urls import href

URL_PREFIX = "/me/messages"
blp = Blueprint("notices_api", __name__, description="Notices to members (消息) and their SMS settings")


def _view(item: service.Shown) -> dict:
    return {"id": item.id, "kind": item.kind, "label": item.label, "text": item.text, "at": item.at,
            "sms": item.status, "link": href(item)}


def _settings(settings: list[service.Setting]) -> list[dict]:
    return [{"kind": s.kind, "label": s.label, "sms": s.sms} for s in settings]


@blp.route("")
class MyNotices(MethodView):
    decorators = [member_required]

    @blp.arguments(schemas.NoticePageArgs, location="query", error_status_code=400)
    @blp.response(200, page_schema(schemas.NoticeSchema, "NoticePage"))
    def get(self, args):
        """Your notices (消息), newest first: vouchers, prize pickups, points, payouts. Every notice
        is listed whatever became of its SMS (`sms`)."""
        items, total = service.member_notices(current_user.member_id, args["page"], args["per_page"])
        return {"items": [_view(i) for i in items], "page": args["page"], "per_page": args["per_page"],
                "total": total}


@blp.route("/settings")
class MySmsSettings(MethodView):
    decorators = [member_required]

    @blp.response(200, schemas.SmsSettingSchema(many=True))
    def get(self):
        """The optional kinds of notice and whether each comes to you by SMS."""
        return _settings(service.settings(current_user.member_id))

    @blp.arguments(schemas.SmsSettingsInSchema, error_status_code=400)
    @blp.response(200, schemas.SmsSettingSchema(many=True))
    @transactional
    def put(self, data):
        """Turn the SMS of exactly these optional kinds off (the others on). A kind that cannot be
        turned off (a payout, a prize ready, a voucher voided) is a 400."""
        return _settings(service.set_sms_off(current_user.member_id, data["sms_off"]))
