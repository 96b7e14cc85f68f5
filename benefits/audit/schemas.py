from marshmallow import fields, validate, Schema

from ..pagination import PageArgs, page_schema


class AuditEntrySchema(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    actor_user_id = fields.Integer(allow_none=True)
    actor_label = fields.String()
    org_id = fields.Integer(allow_none=True)
    action = fields.String()
    target_type = fields.String()
    target_id = fields.String(allow_none=True)
    before = fields.Dict(allow_none=True, metadata={"description": "PII masked"})
    after = fields.Dict(allow_none=True, metadata={"description": "PII masked"})


AuditPageSchema = page_schema(AuditEntrySchema, "AuditPage")


class AuditQueryArgs(PageArgs):
    action = fields.String(load_default=None, validate=validate.Length(max=64),
                           metadata={"description": "e.g. card.freeze, member.join"})
