"""The member's SMS settings form (Flask-WTF: CSRF on the POST)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectMultipleField

from . import kinds


class SmsSettingsForm(FlaskForm):
    # the optional kinds the member wants by SMS; an unticked box turns that kind's SMS off
    sms_on = SelectMultipleField(choices=[SelectChoice(name, kinds.kind(name).label) for name in kinds.OPTIONAL])
