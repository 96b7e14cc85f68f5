"""Browser tests: Playwright for Python driving Debian's Chromium against real gunicorn workers.
They need the Debian packages `chromium` and `fonts-wqy-microhei` (`make test` installs them when
it runs as root); without them they skip, naming the package.

Each test gets an empty test database served by gunicorn (without Redis), a `seed` app context
to write data into it, and a phone-sized or desktop page. `snap(name)` screenshots the current
page; every test's screenshots are kept in test-artifacts/e2e/<test>/.

Every page a test walks must keep to the Content-Security-Policy: the browser blocks an inline
script or style silently (the page just stops working), so each violation it reports is
collected in `page.csp_violations` and fails the test at its end.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests import factories
from tests.conftest import ROOT, make_app, wipe

CHROMIUM = "/usr/bin/chromium"
# The CJK font the screenshots need, and the Debian package that brings it.
CJK_FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
ARTIFACTS = ROOT / "test-artifacts" / "e2e"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


@pytest.fixture(scope="session")
def browser():
    missing = [package for path, package in ((CHROMIUM, "chromium"), (CJK_FONT, "fonts-wqy-microhei"))
               if not Path(path).exists()]
    if missing:
        pytest.skip(f"browser tests need Debian's {' and '.join(missing)}: apt-get install {' '.join(missing)}")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield browser
        browser.close()


@pytest.fixture
def live(database_url, gunicorn_factory):
    """A served app on the emptied test database; `live.seed` is an app (with context) on it."""
    app = make_app(database_url)
    server = gunicorn_factory({"DATABASE_URL": database_url, "REDIS_URL": "off", "BENEFITS_ENV": "testing"},
                              workers=2)
    server.seed = app
    yield server
    wipe(app)


def sign_in(page, url: str, username: str, password: str = factories.PASSWORD) -> None:
    """Sign in on the site's login page, as a person does, and wait for the page it leads to."""
    page.goto(url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


@pytest.fixture
def screenshots(request, tmp_path):
    folder = tmp_path / "shots"
    folder.mkdir()
    yield folder
    # kept for every test, passed or failed: they are what a person looks at before calling a
    # page done (test-artifacts/e2e/<test>/, the latest run's)
    target = ARTIFACTS / request.node.name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(folder, target)


def _page(browser, screenshots, width: int, height: int, mobile: bool):
    context = browser.new_context(viewport={"width": width, "height": height}, is_mobile=mobile,
                                  locale="zh-CN", device_scale_factor=1)
    # Chromium prints a console error for each violation; the event catches the rest (styles).
    context.add_init_script("document.addEventListener('securitypolicyviolation', function (e) {"
                            " console.error('Content Security Policy violation: ' + e.violatedDirective"
                            " + ' ' + (e.blockedURI || 'inline') + ' at ' + e.documentURI); });")
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.csp_violations = []
    page.on("console", lambda message: page.csp_violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    counter = {"n": 0}

    def snap(name: str) -> Path:
        counter["n"] += 1
        path = screenshots / f"{counter['n']:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    page.snap = snap
    return context, page


@pytest.fixture
def page(browser, screenshots):
    context, page = _page(browser, screenshots, 1366, 900, False)
    yield page
    page.snap("last")
    context.close()
    assert not page.csp_violations, page.csp_violations


@pytest.fixture
def phone_page(browser, screenshots):
    context, page = _page(browser, screenshots, 390, 844, True)
    yield page
    page.snap("last")
    context.close()
    assert not page.csp_violations, page.csp_violations
