"""Where notices go: a channel delivers one notice or raises DeliveryFailed.

- `log` (development and tests): writes one log line per notice — id, kind, the phone masked
  and the text (mobile numbers in it masked too). Nothing leaves the machine.
- `http` (production): POSTs the notice as JSON to the SMS gateway at NOTICE_GATEWAY_URL, signed
  with HMAC-SHA256 over the exact body bytes (header `X-Benefits-Signature: sha256=<hex>`) with
  NOTICE_GATEWAY_SECRET, and the notice's dedupe key as `Idempotency-Key` (also in the body), so
  the gateway drops a repeat. Each request has a timeout; a 5xx, 408, 429, timeout or broken
  connection is tried again after a short backoff (NOTICE_HTTP_TRIES tries in all), and then left
  to the sender's own retry (next_attempt_at). Any other 4xx is a refusal that no retry mends.

A failure's reason never carries the gateway's answer body (which could echo the phone).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass

import requests

from ..pii import mask_phone, mask_phones_in

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Benefits-Signature"


class DeliveryFailed(Exception):
    def __init__(self, reason: str, *, permanent: bool = False):
        super().__init__(reason)
        self.reason = reason[:255]
        self.permanent = permanent


class ChannelNotConfigured(RuntimeError):
    pass


@dataclass(frozen=True)
class Outgoing:
    """One notice on its way: what the channel needs and nothing more."""
    notice_id: int
    kind: str
    phone: str
    text: str
    dedupe_key: str


class LogChannel:
    name = "log"
    longest_seconds = 0.0       # one delivery at most (the sender's lease is sized from it)

    def send(self, notice: Outgoing) -> None:
        log.info("notice %s (%s) to %s: %s", notice.notice_id, notice.kind, mask_phone(notice.phone),
                 mask_phones_in(notice.text))


def sign(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def body_of(notice: Outgoing) -> bytes:
    """The JSON the gateway receives (UTF-8, Chinese as is); the same bytes on every try."""
    return json.dumps({"notice_id": notice.notice_id, "dedupe_key": notice.dedupe_key, "kind": notice.kind,
                       "phone": notice.phone, "text": notice.text},
                      ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


_RETRYABLE_4XX = (408, 429)


class HttpChannel:
    name = "http"

    def __init__(self, url: str, secret: str, *, timeout: float = 5.0, tries: int = 3, backoff: float = 0.5):
        if not url or not secret:
            raise ChannelNotConfigured("NOTICE_GATEWAY_URL and NOTICE_GATEWAY_SECRET must both be set")
        self.url = url
        self.secret = secret.encode("utf-8")
        self.timeout = timeout
        self.tries = max(1, tries)
        self.backoff = backoff
        self.session = requests.Session()   # keeps the connection to the gateway open
        self.longest_seconds = self.tries * 2 * timeout + backoff * (2 ** (self.tries - 1))

    def send(self, notice: Outgoing) -> None:
        body = body_of(notice)
        headers = {"Content-Type": "application/json; charset=utf-8", SIGNATURE_HEADER: sign(self.secret, body),
                   "Idempotency-Key": notice.dedupe_key}
        reason = ""
        for attempt in range(self.tries):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = self.session.post(self.url, data=body, headers=headers, timeout=self.timeout)
            except requests.Timeout:
                reason = "timeout"
                continue
            except requests.RequestException as exc:
                reason = f"connection failed ({type(exc).__name__})"
                continue
            status = response.status_code
            response.close()
            if 200 <= status < 300:
                return
            reason = f"gateway answered {status}"
            if 400 <= status < 500 and status not in _RETRYABLE_4XX:
                raise DeliveryFailed(reason, permanent=True)
        raise DeliveryFailed(reason)


def from_config(config) -> LogChannel | HttpChannel:
    """The channel the configuration names; ChannelNotConfigured if it cannot be used."""
    name = config.get("NOTICE_CHANNEL", "log")
    if name == "log":
        return LogChannel()
    if name == "http":
        return HttpChannel(config.get("NOTICE_GATEWAY_URL", ""), config.get("NOTICE_GATEWAY_SECRET", ""),
                           timeout=config.get("NOTICE_HTTP_TIMEOUT_SECONDS", 5.0),
                           tries=config.get("NOTICE_HTTP_TRIES", 3),
                           backoff=config.get("NOTICE_HTTP_BACKOFF_SECONDS", 0.5))
    raise ChannelNotConfigured(f"NOTICE_CHANNEL must be 'log' or 'http', not {name!r}")
