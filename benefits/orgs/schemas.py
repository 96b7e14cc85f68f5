from marshmallow import Schema, fields, validate

from ..inputs import Integer


class OrganisationSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    level = fields.String()
    parent_id = fields.Integer(allow_none=True)


class OrgQueryArgs(Schema):
    parent_id = Integer(load_default=None, metadata={"description": "list this organisation's direct children"})
    q = fields.String(load_default=None, validate=validate.Length(max=64),
                      metadata={"description": "search names and codes in your subtree (up to 20, exact code first)"})
