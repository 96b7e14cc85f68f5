"""Input that PostgreSQL or the code below could not take is refused at the edge, with a 400
(a 404 for a path), never a 500 (docs/security.md, "Hostile input").

Whole numbers have one rule, `whole_number`, behind every way an integer comes in: the `int`
URL converter, the marshmallow `Integer` field (bodies and query strings), the WTForms
`IntegerField` and `request.args.get(..., type=whole_number)`. Python's own `int()` and
`str.isdigit()` are too kind for input: they take '²', Arabic-Indic '٢٥٠' and full-width
'２５０', and `int(1.5)` quietly drops the half. Ids and counts live in PostgreSQL `integer`
columns, so a number beyond 32 bits names no row and would make PostgreSQL raise.

Every request is also checked once, before any view reads it (`check_request`): no NUL
character in the path, query string, headers, form fields, file names or JSON strings
(PostgreSQL text cannot hold one), and JSON nested no deeper than MAX_JSON_DEPTH (the parser
and everything that walks the body recurse).
"""
from __future__ import annotations

import json
import re

from flask import Flask, request
from flask_babel import gettext as _
from marshmallow import fields, validate
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import IntegerConverter, ValidationError as NoRoute
import wtforms

from .errors import ValidationError

INT32_MIN, INT32_MAX = -2**31, 2**31 - 1        # PostgreSQL `integer`: ids, counts, points
INT64_MIN, INT64_MAX = -2**63, 2**63 - 1        # PostgreSQL `bigint`: budgets in fen
MAX_ID = INT32_MAX
MAX_JSON_DEPTH = 32
_WHOLE = re.compile(r"[+-]?[0-9]{1,40}")


class OutOfRange(ValueError):
    """A whole number outside the range asked for (the column's, unless told)."""


def whole_number(value, low: int = INT32_MIN, high: int = INT32_MAX) -> int:
    """An int, or text of ASCII digits with an optional sign, within [low, high].

    Raises ValueError for anything else: a float (even 2.0), a bool, other digits, junk;
    OutOfRange (a ValueError) for a number outside the bounds. `request.args.get(name, default,
    type=whole_number)` therefore falls back to the default for any of them.
    """
    if isinstance(value, str):
        text = value.strip()
        if not _WHOLE.fullmatch(text):
            raise ValueError("not a whole number written in the digits 0-9")
        value = int(text)
    elif isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("not a whole number")
    if not low <= value <= high:
        raise OutOfRange(f"must be a whole number from {low} to {high}")
    return value


def row_id(value) -> int | None:
    """The row id that `value` (an int, or a path segment of ASCII digits) names, or None: ids
    are 1 to MAX_ID."""
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        return None
    try:
        return whole_number(value, 1, MAX_ID)
    except ValueError:
        return None


# --- the three adapters ---------------------------------------------------------------------------

class IdConverter(IntegerConverter):
    """`<int:...>` in every route: ASCII digits only (werkzeug's `\\d+` takes '²' and '٣', which
    `int()` then reads or chokes on) and at most MAX_ID, so a bigger number is simply no route:
    404. The OpenAPI document gets the maximum from `max`."""
    regex = r"[0-9]+"

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_ID,
                 signed: bool = False):
        super().__init__(map, fixed_digits, min, max, signed)

    def to_python(self, value: str) -> int:
        if len(value.lstrip("-")) > 10:
            raise NoRoute()
        return super().to_python(value)


class Integer(fields.Integer):
    """marshmallow's Integer with the house rule: a JSON integer (or, unless `strict`, a string of
    ASCII digits, as query strings and forms send), never a float, and within the column's
    range (32 bits; `big=True` for a `bigint` column). The range is a Range validator, so the
    OpenAPI document shows it."""

    def __init__(self, *, big: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.validators.insert(0, validate.Range(min=INT64_MIN if big else INT32_MIN,
                                                 max=INT64_MAX if big else INT32_MAX))

    def _validated(self, value) -> int:
        if self.strict and isinstance(value, str):
            raise self.make_error("invalid", input=value)
        try:
            return whole_number(value, INT64_MIN, INT64_MAX)
        except OutOfRange:
            raise self.make_error("too_large", input=value) from None
        except ValueError:
            raise self.make_error("invalid", input=value) from None


class IntegerField(wtforms.IntegerField):
    """WTForms' IntegerField with the house rule: '1.5', '٢٥٠' and '２５０' are errors, not 1 and 250,
    and the number must fit its 32-bit column (the form's NumberRange may ask for less)."""

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        try:
            self.data = whole_number(valuelist[0])
        except OutOfRange:
            self.data = None
            raise ValueError(self.gettext("Number must be between %(min)s and %(max)s.")
                             % {"min": INT32_MIN, "max": INT32_MAX}) from None
        except ValueError:
            self.data = None
            raise ValueError(self.gettext("Not a valid integer value.")) from None


# --- every request ----------------------------------------------------------------------------------

class HostileInput(ValidationError):
    """Refused before any view saw the request."""
    code = "invalid_input"


def init_app(app: Flask) -> None:
    app.url_map.converters["int"] = IdConverter   # before the blueprints add their rules
    app.before_request(check_request)


def check_request() -> None:
    if "\x00" in request.path:
        _refuse_nul("path")
    _check_pairs(request.args.items(multi=True))
    _check_pairs(request.headers.items())
    if not request.content_length and request.headers.get("Transfer-Encoding") is None:
        return
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        _check_form()
    elif request.is_json:
        _check_json()


def _check_form() -> None:
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        return  # refused with a 413 when the view reads it (some pages say so in their own words)
    try:
        form, files = request.form, request.files
    except RequestEntityTooLarge:
        return
    _check_pairs(form.items(multi=True))
    _check_pairs((key, upload.filename or "") for key, upload in files.items(multi=True))


def _check_pairs(pairs) -> None:
    for key, value in pairs:
        if "\x00" in key or "\x00" in value:
            _refuse_nul(key)


def _check_json() -> None:
    try:
        body = json.loads(request.get_data(cache=True))
    except RecursionError:
        _refuse_depth()
    except ValueError:
        return  # malformed: the view's parser answers with `malformed_json`
    stack = [(body, 1, "")]
    while stack:
        item, depth, where = stack.pop()
        if isinstance(item, dict):
            if depth > MAX_JSON_DEPTH:
                _refuse_depth()
            for key, value in item.items():
                name = f"{where}.{key}" if where else key
                if "\x00" in key:
                    _refuse_nul(name)
                stack.append((value, depth + 1, name))
        elif isinstance(item, list):
            if depth > MAX_JSON_DEPTH:
                _refuse_depth()
            stack.extend((value, depth + 1, f"{where}.{n}" if where else str(n)) for n, value in enumerate(item))
        elif isinstance(item, str) and "\x00" in item:
            _refuse_nul(where or "body")


def _refuse_nul(where: str):
    """400 naming where the NUL was (`details.fields`, as for a validation error): a query or form
    field, a header, a JSON key path such as `answers.3.0`, or the path."""
    where = where.replace("\x00", "\\0")
    raise HostileInput(_("请求中含有空字符（NUL），无法处理。请检查输入后重试。"), code="nul_character",
                       details={"fields": {where: [_("含有空字符（NUL）")]}})


def _refuse_depth():
    raise HostileInput(_("提交的数据层级过深（超过 %(n)s 层），无法处理。", n=MAX_JSON_DEPTH), code="json_too_deep")
