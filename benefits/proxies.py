"""The client as the trusted proxies in front of the app saw it.

Behind nginx every request comes from the proxy's address; sign-in throttling needs the
client's. Werkzeug's ProxyFix takes it from X-Forwarded-For, trusting exactly TRUSTED_PROXIES
hops (nginx appends the peer it saw, so a value the client forged sits further left and is
ignored), and the scheme from X-Forwarded-Proto. With 0 (the default) those headers are
ignored, since without a proxy any client could send them. The host is not taken from
X-Forwarded-Host: the proxy passes the original Host header (`proxy_set_header Host $host`).
"""
from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def init_app(app: Flask) -> None:
    hops = app.config.get("TRUSTED_PROXIES", 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)
