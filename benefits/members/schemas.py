"""Members and cards in and out of the JSON API. Output never carries a raw ID number or phone."""
from marshmallow import Schema, fields, validate

from ..pagination import PageArgs, page_schema
from ..pii import mask_id_number, mask_phone
from .models import CARD_STATUSES, CATEGORIES


class CardSchema(Schema):
    id = fields.Integer()
    member_id = fields.Integer()
    number = fields.String()
    status = fields.String(metadata={"enum": list(CARD_STATUSES)})
    issued_at = fields.DateTime()
    status_changed_at = fields.DateTime()
    replaces_card_id = fields.Integer(allow_none=True)


class CardBriefSchema(Schema):
    id = fields.Integer()
    number = fields.String()
    status = fields.String()


class MemberSchema(Schema):
    id = fields.Integer()
    org_id = fields.Integer()
    org_name = fields.Function(lambda m: m.org.name)
    name = fields.String()
    id_number_masked = fields.Function(lambda m: mask_id_number(m.id_number))
    phone_masked = fields.Function(lambda m: mask_phone(m.phone))
    category = fields.String(metadata={"enum": list(CATEGORIES)})
    status = fields.String(metadata={"enum": ["active", "left"]})
    joined_on = fields.Date()
    left_on = fields.Date(allow_none=True)
    current_card = fields.Nested(CardBriefSchema, allow_none=True)


class MemberDetailSchema(MemberSchema):
    cards = fields.List(fields.Nested(CardSchema))


MemberPageSchema = page_schema(MemberSchema, "MemberPage")


class MemberQueryArgs(PageArgs):
    q = fields.String(load_default=None, validate=validate.Length(max=64),
                      metadata={"description": "name, card number, masked ID (3416**********1234) or last 4-6 ID characters"})
    status = fields.String(load_default=None, validate=validate.OneOf(["active", "left"]))
    category = fields.String(load_default=None, validate=validate.OneOf(CATEGORIES))
    org_id = fields.Integer(load_default=None, metadata={"description": "this union and the unions below it"})


class MemberCreateSchema(Schema):
    org_id = fields.Integer(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    id_number = fields.String(required=True, validate=validate.Length(max=18))
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=20))
    category = fields.String(load_default="ordinary", validate=validate.OneOf(CATEGORIES))
    joined_on = fields.Date(load_default=None, allow_none=True)


class ActivationCodeSchema(Schema):
    member_id = fields.Integer()
    code = fields.String(metadata={"description": "shown once; stored hashed"})
    expires_in_days = fields.Integer()


class MyProfileSchema(Schema):
    """The signed-in member's own profile and current card."""
    id = fields.Integer()
    name = fields.String()
    org_id = fields.Integer()
    org_name = fields.String()
    id_number_masked = fields.String()
    phone_masked = fields.String()
    category = fields.String()
    status = fields.String()
    joined_on = fields.Date()
    card = fields.Nested(CardBriefSchema, allow_none=True)
