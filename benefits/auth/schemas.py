from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields, validate, validates_schema


class LoginSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64),
                             metadata={"description": "members: national ID number; staff: user name"})
    password = fields.String(required=True, validate=validate.Length(min=1, max=128), load_only=True)


class ActivateSchema(Schema):
    id_number = fields.String(required=True, validate=validate.Length(max=18))
    card_number = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=19))
    activation_code = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=16))
    password = fields.String(required=True, validate=validate.Length(min=8, max=128), load_only=True)

    @validates_schema
    def _needs_proof(self, data, **_kwargs):
        if not data.get("card_number") and not data.get("activation_code"):
            raise ValidationError(_("请填写会员卡号或激活码。"), "card_number")


class SessionUserSchema(Schema):
    id = fields.Integer()
    username = fields.Function(lambda u: u.username if u.role != "member" else None, allow_none=True,
                               metadata={"description": "null for members (their ID number is never echoed)"})
    display_name = fields.String()
    role = fields.String()
    org_id = fields.Integer(allow_none=True)
    member_id = fields.Integer(allow_none=True)


class CsrfTokenSchema(Schema):
    csrf_token = fields.String(metadata={"description": "send it back in the X-CSRF-Token header"})
