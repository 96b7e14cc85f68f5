"""Bare extension instances; `create_app` binds them to the application."""
from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
import flask_smorest
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from .errors import ErrorEnvelopeSchema

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class BenefitsApi(Api):
    # Every error is documented as the envelope that is sent (benefits/errors.py), not smorest's own.
    ERROR_SCHEMA = ErrorEnvelopeSchema


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's, with each request schema made once, when the view is declared: given a
    class, webargs makes a new instance on every request (tens of µs on the till's hot path).
    The schemas keep no state between loads, so one instance serves every request."""

    def arguments(self, schema, *args, **kwargs):
        return super().arguments(schema() if isinstance(schema, type) else schema, *args, **kwargs)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
api = BenefitsApi()
