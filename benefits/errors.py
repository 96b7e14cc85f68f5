"""Domain errors and the one JSON error envelope.

Every error under /api is `{"error": {"code", "message", "details"}}` with a fitting status;
pages get an HTML error page. Services raise DomainError subclasses with a stable `code`.
"""
from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: dict | None = None,
                 status: int | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.details = details or {}

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


def _http_error_payload(exc: HTTPException) -> tuple[int, str, str, dict]:
    status = exc.code or 500
    code = _HTTP_CODES.get(status, "http_error")
    message = exc.description or exc.name
    details: dict = {}
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages") if isinstance(data, dict) else None
    if messages:
        # webargs/flask-smorest validation: {"json": {"field": ["msg"]}} -> per-field details
        flat: dict = {}
        for location, fields in messages.items():
            if isinstance(fields, dict):
                flat.update(fields)
            else:
                flat[location] = fields
        details = {"fields": flat}
        if "_schema" in flat and any("Invalid JSON" in str(m) for m in flat["_schema"]):
            return 400, "malformed_json", "The request body is not valid JSON.", {}
        if any("Invalid JSON" in str(m) for m in flat.get("json", [])):
            return 400, "malformed_json", "The request body is not valid JSON.", {}
        status, code, message = 400, "validation_error", "Some fields are missing or invalid."
    if status == 413:
        message = "The upload is too large."
    return status, code, message, details


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def handle_domain_error(exc: DomainError):
        if is_api_request():
            return jsonify(error_body(exc.code, exc.message, exc.details)), exc.status, exc.headers()
        return (render_template("errors/error.html", status=exc.status, message=exc.message), exc.status,
                exc.headers())

    @app.errorhandler(HTTPException)
    def handle_http_error(exc: HTTPException):
        status, code, message, details = _http_error_payload(exc)
        if is_api_request():
            response = jsonify(error_body(code, message, details))
            if status == 405 and exc.get_response().headers.get("Allow"):
                response.headers["Allow"] = exc.get_response().headers["Allow"]
            return response, status
        return render_template("errors/error.html", status=status, message=message), status

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        if is_api_request():
            return jsonify(error_body("internal_error", "Something went wrong on our side.")), 500
        return render_template("errors/error.html", status=500, message="Something went wrong on our side."), 500
