"""Domain errors and the one JSON error envelope.

Every error under /api is `{"error": {"code", "message", "details"}}` with a fitting status;
pages get an HTML error page. Services raise DomainError subclasses with a stable `code`.

Messages are for people, in the request's language: the Chinese sentence is the message id
(`_("…")` at the raise site), the English is in the catalogue. The framework's own errors and
marshmallow's and webargs' field messages are put into that language here.
"""
from __future__ import annotations

import logging
import re

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: dict | None = None,
                 status: int | None = None):
        message = str(message)      # a lazy message (a module's constant) in the request's language
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.details = details or {}
        if isinstance(self.details.get("fields"), dict):
            self.details["fields"] = field_messages(self.details["fields"])

    def headers(self) -> dict[str, str]:
        """Response headers that belong to this error (Retry-After on a 429)."""
        return {}


class ValidationError(DomainError):
    status = 400
    code = "validation_error"


class NotAuthenticated(DomainError):
    status = 401
    code = "not_authenticated"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class LimitReached(DomainError):
    """A stock, budget, quota or per-member limit said no."""
    status = 409
    code = "limit_reached"


class Unprocessable(DomainError):
    status = 422
    code = "unprocessable"


class TooManyRequests(DomainError):
    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        if retry_after is not None:
            self.details.setdefault("retry_after_seconds", retry_after)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}


class ErrorSchema(Schema):
    code = fields.String(required=True, metadata={"description": "stable, for programs: `validation_error`, "
                                                                 "`not_authenticated`, `sold_out` …"})
    message = fields.String(required=True, metadata={"description": "for people; may be Chinese"})
    details = fields.Dict(required=True, metadata={
        "description": "`{}` unless the error says more: `fields` (field → messages) for a 400, "
                       "`rows` for a refused list, `retry_after_seconds` for a 429 …"})


class ErrorEnvelopeSchema(Schema):
    """What every error under /api is, whatever its status (docs/api.md, "Errors"). The OpenAPI
    document gives it as every operation's `default` response (`extensions.api`)."""
    error = fields.Nested(ErrorSchema, required=True)


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def is_api_request() -> bool:
    return request.path.startswith("/api/")


_HTTP_CODES = {
    400: "bad_request", 401: "not_authenticated", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
    415: "unsupported_media_type", 422: "validation_error", 429: "too_many_requests",
}

# What a status says to a person: the error page's headline, and the message of the framework's
# own errors (an unknown address, a method the address does not take, a body too large …),
# whose descriptions are the web framework's English.
STATUS_MESSAGES = {
    400: _l("请求有误，请检查后重试。"), 401: _l("请先登录。"), 403: _l("您没有权限访问此页面。"),
    404: _l("找不到此页面，或不在您的管辖范围内。"), 405: _l("不支持此操作。"), 409: _l("当前状态不允许此操作。"),
    413: _l("上传的文件太大。"), 415: _l("不支持这种内容格式。"), 422: _l("有的项目没填或填得不对。"),
    429: _l("尝试次数过多，请稍后再试。"), 500: _l("系统出错了，请稍后再试。"),
}

# marshmallow's and webargs' default field messages (details.fields), in the request's language.
# Messages the app writes itself are translated where they are raised.
_FIELD_MESSAGES = [(re.compile(pattern), message) for pattern, message in (
    (r"Missing data for required field\.", _l("此项必填。")),
    (r"Field may not be null\.", _l("此项不能为空。")),
    (r"Unknown field\.", _l("没有这一项。")),
    (r"Invalid value\.", _l("值不对。")),
    (r"Invalid input\.", _l("值不对。")),
    (r"Invalid (?:input )?type\.", _l("类型不对。")),
    (r"Not a valid string\.", _l("须为文字。")),
    (r"Not a valid utf-8 string\.", _l("须为文字。")),
    (r"Not a valid integer\.", _l("须为整数。")),
    (r"Not a valid number\.", _l("须为数字。")),
    (r"Number too large\.", _l("数字太大。")),
    (r"Special numeric values \(nan or infinity\) are not permitted\.", _l("须为数字。")),
    (r"Not a valid boolean\.", _l("须为 true 或 false。")),
    (r"Not a valid date\.", _l("须为日期（年-月-日）。")),
    (r"Not a valid datetime\.", _l("须为日期和时间。")),
    (r"Not a valid time\.", _l("须为时间。")),
    (r"Not a valid list\.", _l("须为列表。")),
    (r"Not a valid mapping type\.", _l("须为对象。")),
    (r"Not a valid email address\.", _l("电子邮箱地址不对。")),
    (r"Not a valid URL\.", _l("网址不对。")),
    (r"String does not match expected pattern\.", _l("格式不对。")),
    (r"Shorter than minimum length (?P<min>\d+)\.", _l("至少 %(min)s 个。")),
    (r"Longer than maximum length (?P<max>\d+)\.", _l("最多 %(max)s 个。")),
    (r"Length must be between (?P<min>\d+) and (?P<max>\d+)\.", _l("须为 %(min)s 到 %(max)s 个。")),
    (r"Length must be (?P<equal>\d+)\.", _l("须为 %(equal)s 个。")),
    (r"Must be greater than or equal to (?P<min>\S+) and less than or equal to (?P<max>\S+)\.",
     _l("须在 %(min)s 到 %(max)s 之间。")),
    (r"Must be greater than or equal to (?P<min>\S+)\.", _l("不能小于 %(min)s。")),
    (r"Must be less than or equal to (?P<max>\S+)\.", _l("不能大于 %(max)s。")),
    (r"Must be greater than (?P<min>\S+)\.", _l("须大于 %(min)s。")),
    (r"Must be less than (?P<max>\S+)\.", _l("须小于 %(max)s。")),
    (r"Must be one of: (?P<choices>.+)\.", _l("须为以下之一：%(choices)s。")),
    (r"One or more of the choices you made was not in: (?P<choices>.+)\.", _l("只能从这些中选：%(choices)s。")),
)]


def _field_message(message):
    if isinstance(message, (dict, list)):
        return field_messages(message)
    if hasattr(message, "__html__"):    # a lazy message: in the request's language now
        message = str(message)
    if not isinstance(message, str):
        return message
    for pattern, translated in _FIELD_MESSAGES:
        match = pattern.fullmatch(message)
        if match:
            return str(translated) % match.groupdict() if match.groupdict() else str(translated)
    return message


def field_messages(fields_: dict | list | str):
    """Per-field messages (`details.fields`: field → message, a list of them, or nested fields)
    with marshmallow's and webargs' default messages in the request's language; other messages
    are the app's own, already translated where they were raised."""
    if isinstance(fields_, dict):
        return {name: _field_message(value) for name, value in fields_.items()}
    if isinstance(fields_, list):
        return [_field_message(value) for value in fields_]
    return _field_message(fields_)


def _http_error_payload(exc: HTTPException) -> tuple[int, str, str, dict]:
    status = exc.code or 500
    code = _HTTP_CODES.get(status, "http_error")
    message = str(STATUS_MESSAGES.get(status, STATUS_MESSAGES[400 if status < 500 else 500]))
    details: dict = {}
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages") if isinstance(data, dict) else None
    if isinstance(exc, CSRFError):
        message = _("页面已过期，请刷新后重新提交。")
    if messages:
        # webargs/flask-smorest validation: {"json": {"field": ["msg"]}} -> per-field details
        flat: dict = {}
        for location, fields in messages.items():
            if isinstance(fields, dict):
                flat.update(fields)
            else:
                flat[location] = fields
        if "_schema" in flat and any("Invalid JSON" in str(m) for m in flat["_schema"]):
            return 400, "malformed_json", _("请求内容不是有效的 JSON。"), {}
        if any("Invalid JSON" in str(m) for m in flat.get("json", [])):
            return 400, "malformed_json", _("请求内容不是有效的 JSON。"), {}
        details = {"fields": field_messages(flat)}
        status, code, message = 400, "validation_error", _("有的项目没填或填得不对。")
    return status, code, message, details


def _error_page(status: int, message: str | None = None):
    """The HTML error page: the status's headline, the error's own message when it says more,
    and the way home."""
    headline = str(STATUS_MESSAGES.get(status, _("出错了")))
    return render_template("errors/error.html", status=status, headline=headline,
                           message=message if message != headline else None)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def handle_domain_error(exc: DomainError):
        if is_api_request():
            return jsonify(error_body(exc.code, exc.message, exc.details)), exc.status, exc.headers()
        return _error_page(exc.status, exc.message), exc.status, exc.headers()

    @app.errorhandler(HTTPException)
    def handle_http_error(exc: HTTPException):
        status, code, message, details = _http_error_payload(exc)
        if is_api_request():
            response = jsonify(error_body(code, message, details))
            if status == 405 and exc.get_response().headers.get("Allow"):
                response.headers["Allow"] = exc.get_response().headers["Allow"]
            return response, status
        return _error_page(status, message), status

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        if is_api_request():
            return jsonify(error_body("internal_error", str(STATUS_MESSAGES[500]))), 500
        return _error_page(500), 500
