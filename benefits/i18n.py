"""Simplified Chinese by default, English on request (a language switch stored in the session).

Message ids are the Chinese text; English catalogues live in `translations/` folders: the
shared one in `benefits/translations` and any domain's own in `benefits/<domain>/translations`.
`make i18n` compiles them.
"""
from __future__ import annotations

from pathlib import Path

from flask import current_app, has_request_context, request, session
from flask_babel import get_translations

PACKAGE = Path(__file__).resolve().parent


def translation_directories() -> str:
    dirs = [PACKAGE / "translations", *sorted(PACKAGE.glob("*/translations"))]
    return ";".join(str(d) for d in dirs if d.is_dir())


def select_locale() -> str:
    """The request's language; outside a request (the command line, a service called from a
    script) the default, Chinese."""
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    wanted = request.args.get("lang") or session.get("lang")
    return wanted if wanted in current_app.config["LANGUAGES"] else current_app.config["BABEL_DEFAULT_LOCALE"]


def init_app(app, babel) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", translation_directories())
    babel.init_app(app, locale_selector=select_locale)
    # Flask-Babel's template callables find the request's catalogue anew for every string (three
    # lookups of its context and the locale's name, each time); a page has dozens of strings. The
    # same callables, with the catalogue found once per request (the locale is fixed for a
    # request: Flask-Babel caches it there too).
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
    )


def _translations():
    if not has_request_context():
        return get_translations()
    found = request.environ.get(_TRANSLATIONS)
    if found is None:
        found = request.environ[_TRANSLATIONS] = get_translations()
    return found


_TRANSLATIONS = "benefits.translations"  # the request's catalogue, kept in its WSGI environ
