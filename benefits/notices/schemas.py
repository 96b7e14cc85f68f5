"""Notices API schemas: the member's notices and their SMS settings."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..pagination import PageArgs
from . import kinds
from .models import NOTICE_STATUSES


class NoticeSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"enum": list(kinds.KINDS)})
    label = fields.String(metadata={"description": "the kind, in Chinese (收到新券 …)"})
    text = fields.String(metadata={"description": "the notice as the SMS says it"})
    at = fields.DateTime()
    sms = fields.String(metadata={"enum": list(NOTICE_STATUSES),
                                  "description": "pending, sent, failed, or skipped (no phone, or turned off)"})
    link = fields.String(allow_none=True, metadata={"description": "the page of the member's app it is about"})


class NoticePageArgs(PageArgs):
    pass


class SmsSettingSchema(Schema):
    kind = fields.String(metadata={"enum": list(kinds.OPTIONAL)})
    label = fields.String()
    sms = fields.Boolean(metadata={"description": "false: the member turned this kind's SMS off"})


class SmsSettingsInSchema(Schema):
    sms_off = fields.List(fields.String(validate=validate.Length(max=32)), required=True,
                          validate=validate.Length(max=50),
                          metadata={"description": "the optional kinds not to send by SMS; every other is sent"})
