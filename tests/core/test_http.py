"""Security headers, error pages, request limits and CSRF, as a browser would see them."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from app.accounts.roles import Role
from tests.conftest import make_app
from tests.factories import make_user, sign_in_directly


def test_security_headers_on_public_page(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/sign-in")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"
    scripts = re.findall(r"<script[^>]*>", response.get_data(as_text=True))
    assert scripts and all('src="/static/' in tag for tag in scripts)  # no inline script anywhere
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_authenticated_pages_are_not_cached(app: Flask, client) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        sign_in_directly(client, make_user(Role.FRONTLINE))
    response = client.get("/account/")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"


def test_hsts_and_secure_cookie_in_production_shape(database_uri: str, app: Flask) -> None:
    hardened = make_app(database_uri, HSTS=True, SESSION_COOKIE_SECURE=True)
    response = hardened.test_client().get("/sign-in")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Secure" in response.headers["Set-Cookie"]


def test_unknown_url_is_a_friendly_404(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/no/such/page")
    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert "Page not found" in body and "Error reference" in body


def test_oversized_request_is_413(database_uri: str, app: Flask) -> None:
    small = make_app(database_uri, MAX_CONTENT_LENGTH=1024)
    response = small.test_client().post("/sign-in", data={"email": "a@b.c", "password": "x" * 5000})
    assert response.status_code == 413
    assert "larger than this service accepts" in response.get_data(as_text=True)


def test_missing_csrf_token_is_a_friendly_400(database_uri: str, app: Flask) -> None:
    protected = make_app(database_uri, WTF_CSRF_ENABLED=True)
    response = protected.test_client().post("/sign-in", data={"email": "a@example.org", "password": "whatever"})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "This form has expired" in body and "Traceback" not in body


def test_unexpected_error_shows_reference_not_details(
    database_uri: str, app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    broken = make_app(database_uri)

    @broken.route("/boom")
    def boom() -> str:
        victim = "".join(["Ana ", "Popescu"])  # personal data arriving at run time
        raise RuntimeError(f"secret victim name {victim}")

    broken.view_functions["boom"].is_public = True  # type: ignore[attr-defined]
    response = broken.test_client().get("/boom")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Error reference" in body and "Ana Popescu" not in body and "Traceback" not in body
    assert response.headers["X-Request-Id"] in body
    assert "Ana Popescu" not in caplog.text and "RuntimeError" in caplog.text


def test_healthz_checks_the_database(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_language_picker_works_before_sign_in(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/language", data={"language": "fr", "next": "/sign-in"})
    assert response.status_code == 302 and response.location == "/sign-in"
    page = client.get("/sign-in").get_data(as_text=True)
    assert '<html lang="fr">' in page
    evil = client.post("/language", data={"language": "fr", "next": "//evil.example/"})
    assert evil.location == "/"


def test_forms_work_over_https_with_same_origin_referrer(database_uri: str, app: Flask) -> None:
    """Flask-WTF checks the Referer on HTTPS; the Referrer-Policy must let browsers send it."""
    from app.accounts.roles import Role as R

    with app.app_context():
        make_user(R.FRONTLINE, email="f@example.org")
    secure = make_app(database_uri, WTF_CSRF_ENABLED=True, SESSION_COOKIE_SECURE=True)
    client = secure.test_client()
    page = client.get("/sign-in", base_url="https://localhost")
    assert page.headers["Referrer-Policy"] in {"same-origin", "strict-origin", "strict-origin-when-cross-origin"}
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    response = client.post(
        "/sign-in",
        base_url="https://localhost",
        headers={"Referer": "https://localhost/sign-in"},
        data={"csrf_token": token, "email": "f@example.org", "password": "correct horse battery staple"},
    )
    assert response.status_code == 302 and response.location == "/"
    forged = client.post(
        "/language",
        base_url="https://localhost",
        headers={"Referer": "https://evil.example/"},
        data={"csrf_token": token, "language": "fr"},
    )
    assert forged.status_code == 400
