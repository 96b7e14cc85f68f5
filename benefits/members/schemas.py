"""Members and cards in and out of the JSON API. Output never carries a raw ID number or phone."""
import re

from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields, validate

from ..inputs import Integer
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


class MemberSearchSchema(PageArgs):
    """A member search posted as JSON: the one way to look a whole ID number up, since URLs are
    kept in access logs."""
    q = fields.String(load_default=None, validate=validate.Length(max=64),
                      metadata={"description": "name, card number, whole ID number, masked ID (3416**********1234) "
                                               "or last 4-6 ID characters"})
    status = fields.String(load_default=None, validate=validate.OneOf(["active", "left"]))
    category = fields.String(load_default=None, validate=validate.OneOf(CATEGORIES))
    org_id = Integer(load_default=None, metadata={"description": "this union and the unions below it"})


_WHOLE_ID_NUMBER = re.compile(r"\s*\d{17}[\dXx]\s*")


def _not_a_whole_id_number(value: str) -> None:
    if _WHOLE_ID_NUMBER.fullmatch(value):
        raise ValidationError(_("完整的身份证号请用 POST /api/v1/members/search 查找，不能放在网址里。"))


class MemberQueryArgs(MemberSearchSchema):
    q = fields.String(load_default=None, validate=[validate.Length(max=64), _not_a_whole_id_number],
                      metadata={"description": "name, card number, masked ID (3416**********1234) or last 4-6 ID "
                                               "characters; a whole ID number only in POST /members/search"})


class MemberCreateSchema(Schema):
    org_id = Integer(required=True)
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
