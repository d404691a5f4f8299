"""Browser fixtures: Debian's Chromium driven by Playwright against a live server.

The live server is a second app on the same database as the ``app`` fixture, with CSRF
protection on, served by Werkzeug in a daemon thread. Every test that uses it also uses
``app``, so the autouse ``_clean_database`` fixture empties the tables (and resets the
rate limiter) after each test.
"""

from __future__ import annotations

import gettext
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.conftest import make_app, unavailable

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "app" / "translations"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 360, "height": 780}
BLOCKING_IMPACTS = {"serious", "critical"}


def _chromium_path() -> str | None:
    if Path(CHROMIUM).is_file():
        return CHROMIUM
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    path = _chromium_path()
    if path is None:
        unavailable("Chromium is not installed")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr for every page and stylesheet."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@pytest.fixture(scope="session")
def _live_server_url(app: Flask, database_uri: str) -> Iterator[str]:
    # ``app`` has built the schema; this app shares the database, with CSRF on as in production.
    live = make_app(database_uri, WTF_CSRF_ENABLED=True)
    server = make_server("127.0.0.1", 0, live, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@pytest.fixture
def live_server(app: Flask, _live_server_url: str) -> str:
    """Base URL of the live app. Requesting ``app`` here makes the tables empty after the test."""
    return _live_server_url


@pytest.fixture
def new_page(browser: Browser, live_server: str) -> Iterator[Callable[..., Page]]:
    """Open a page in a fresh browser context (its own cookies); all are closed after the test."""
    contexts: list[BrowserContext] = []

    def open_page(**context_options: Any) -> Page:
        options: dict[str, Any] = {"base_url": live_server, "locale": "en-GB"}
        options.update(context_options)
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    """A desktop-sized page (Playwright's default 1280 x 720)."""
    return new_page()


@pytest.fixture
def phone_page(new_page: Callable[..., Page]) -> Page:
    """A page on a phone-sized screen, 360 CSS pixels wide."""
    return new_page(viewport=PHONE, is_mobile=True, has_touch=True)


def assert_accessible(page: Page) -> None:
    """Run axe-core on the page as it is now; fail on any serious or critical violation."""
    from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]

    page.wait_for_load_state("load")
    results = Axe().run(page)
    violations = [v for v in results.response["violations"] if v.get("impact") in BLOCKING_IMPACTS]
    if violations:
        lines = [f"{len(violations)} accessibility violation(s) on {page.url}:"]
        for violation in violations:
            lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}")
            lines.extend("    at " + " ".join(map(str, node["target"])) for node in violation["nodes"])
        raise AssertionError("\n".join(lines))


@pytest.fixture(scope="session")
def catalogs() -> Callable[[str], gettext.NullTranslations]:
    """The compiled catalogue of a language, as ``make translations`` builds it; (re)compiled
    here when missing or older than its source, so the app and the test read the same messages."""

    def catalog(language: str) -> gettext.NullTranslations:
        po = TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            done = subprocess.run(
                [sys.executable, "-m", "babel.messages.frontend", "compile", "-d", str(TRANSLATIONS)],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                pytest.fail(f"Compiling the translations failed:\n{done.stdout}{done.stderr}")
            # Flask-Babel keeps loaded catalogues process-wide: forget any loaded before this compile.
            from app.extensions import babel

            loaded = vars(babel).get("domain_instance")  # a cached property, absent until first use
            if loaded is not None:
                loaded.cache.clear()
        with mo.open("rb") as handle:
            return gettext.GNUTranslations(handle)

    return catalog


@pytest.fixture(scope="session")
def french_catalog(catalogs: Callable[[str], gettext.NullTranslations]) -> gettext.NullTranslations:
    return catalogs("fr")
