from marshmallow import Schema, fields

from ..inputs import Integer


class OrganisationSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    level = fields.String()
    parent_id = fields.Integer(allow_none=True)


class OrgQueryArgs(Schema):
    parent_id = Integer(load_default=None)
