"""Sign-in, two-factor, throttling and sessions through the HTTP layer."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.accounts.models import RecoveryCode, User, UserSession
from app.accounts.roles import Role
from app.audit.models import AuditEntry
from app.extensions import db
from tests.factories import PASSWORD, make_user, new_totp_secret, sign_in_directly, sign_in_through_pages


def actions(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.execute(select(AuditEntry.action).order_by(AuditEntry.seq)).scalars())


def test_sign_in_without_two_factor_for_frontline(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        user = make_user(Role.FRONTLINE, email="officer@example.org")
    response = client.post("/sign-in", data={"email": "Officer@Example.org ", "password": PASSWORD})
    assert response.status_code == 302 and response.location == "/"
    page = client.get("/")
    assert page.status_code == 200
    assert "Test frontline" in page.get_data(as_text=True)
    assert "auth.sign_in.success" in actions(app)
    with app.app_context():
        assert db.session.get(User, user.id).last_sign_in_at is not None


@pytest.mark.parametrize(
    ("email", "password", "reason"),
    [
        ("officer@example.org", "wrong password here", "bad_password"),
        ("nobody@example.org", PASSWORD, "unknown_account"),
    ],
)
def test_failed_sign_in_is_generic_and_recorded(
    app: Flask, client: FlaskClient, email: str, password: str, reason: str
) -> None:
    with app.app_context():
        make_user(Role.FRONTLINE, email="officer@example.org")
    response = client.post("/sign-in", data={"email": email, "password": password})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "The e-mail address or password is not right." in body
    assert password not in body  # the password is never sent back
    assert f'value="{email}"' in body  # what was typed stays
    with app.app_context():
        entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "auth.sign_in.failure")).scalar_one()
        assert entry.details["reason"] == reason
        assert email not in str(entry.details)


def test_deactivated_user_cannot_sign_in_and_sessions_end_at_once(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        user = make_user(Role.FRONTLINE, email="gone@example.org")
        sign_in_directly(client, user)
    assert client.get("/").status_code == 200
    with app.app_context():
        from app.core.db import utcnow

        row = db.session.get(User, user.id)
        row.active, row.deactivated_at = False, utcnow()  # as if by another process
        db.session.commit()
    assert client.get("/").status_code == 302  # the live session is refused immediately
    response = client.post("/sign-in", data={"email": "gone@example.org", "password": PASSWORD})
    assert "The e-mail address or password is not right." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(select(UserSession.end_reason)).scalar_one() == "deactivated"


def test_two_factor_sign_in_and_code_usable_once(app: Flask, client: FlaskClient) -> None:
    secret = new_totp_secret()
    with app.app_context():
        make_user(Role.SUPERVISOR, email="sup@example.org", totp_secret=secret)
    response = client.post("/sign-in", data={"email": "sup@example.org", "password": PASSWORD})
    assert response.location == "/sign-in/code"
    assert client.get("/").status_code == 302  # not signed in yet
    code = pyotp.TOTP(secret).now()
    assert client.post("/sign-in/code", data={"code": "000000" if code != "000000" else "111111"}).status_code == 200
    assert client.post("/sign-in/code", data={"code": code}).status_code == 302
    assert client.get("/").status_code == 200
    # the same code cannot be used again, even in a fresh sign-in
    other = FlaskClient(app, app.response_class, use_cookies=True)
    other.post("/sign-in", data={"email": "sup@example.org", "password": PASSWORD})
    body = other.post("/sign-in/code", data={"code": code}).get_data(as_text=True)
    assert "That code is not right" in body
    assert "auth.two_factor.failure" in actions(app)


def test_recovery_code_works_once(app: Flask, client: FlaskClient) -> None:
    from app.accounts import services

    secret = new_totp_secret()
    with app.test_request_context():
        user = make_user(Role.SUPERVISOR, email="sup@example.org", totp_secret=secret)
        codes = services.regenerate_recovery_codes(db.session.get(User, user.id))
        db.session.commit()
    client.post("/sign-in", data={"email": "sup@example.org", "password": PASSWORD})
    assert client.post("/sign-in/code", data={"code": codes[0].upper()}).status_code == 302
    client.post("/sign-out")
    client.post("/sign-in", data={"email": "sup@example.org", "password": PASSWORD})
    assert client.post("/sign-in/code", data={"code": codes[0]}).status_code == 200
    with app.app_context():
        used = db.session.execute(select(RecoveryCode).where(RecoveryCode.used_at.is_not(None))).scalars().all()
        assert len(used) == 1


def test_mandatory_enrolment_for_admin_roles(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        make_user(Role.AGENCY_ADMIN, email="admin@example.org")
    response = client.post("/sign-in", data={"email": "admin@example.org", "password": PASSWORD})
    assert response.location == "/sign-in/set-up-two-factor"
    page = client.get("/sign-in/set-up-two-factor").get_data(as_text=True)
    assert "<svg" in page  # the QR code is rendered here, not fetched from elsewhere
    with app.app_context():
        from app.accounts import two_factor

        secret = two_factor.read_pending_secret(db.session.execute(select(User)).scalar_one())
    assert secret and secret in page
    bad = client.post("/sign-in/set-up-two-factor", data={"code": "123"})
    assert "That code is not right" in bad.get_data(as_text=True)
    done = client.post("/sign-in/set-up-two-factor", data={"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200
    assert "recovery-codes" in done.get_data(as_text=True)
    assert client.get("/").status_code == 200
    assert "auth.two_factor.enrolled" in actions(app)


def test_optional_two_factor_can_be_required_for_everyone(database_uri: str, app: Flask) -> None:
    from tests.conftest import make_app

    strict = make_app(database_uri, TWO_FACTOR_REQUIRED_FOR_ALL=True)
    with app.app_context():
        make_user(Role.FRONTLINE, email="f@example.org")
    response = strict.test_client().post("/sign-in", data={"email": "f@example.org", "password": PASSWORD})
    assert response.location == "/sign-in/set-up-two-factor"


def test_new_session_id_at_sign_in_and_sign_out_ends_it_server_side(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        make_user(Role.FRONTLINE, email="f@example.org")
    with client.session_transaction() as s:
        s["sid"] = "planted-by-attacker"
        s["language"] = "fr"
    sign_in_through_pages(client, "f@example.org")
    with client.session_transaction() as s:
        sid = s["sid"]
    assert sid != "planted-by-attacker"
    cookie = client.get_cookie("trs_session")
    assert cookie is not None
    stolen = cookie.value
    client.post("/sign-out")
    assert client.get("/").status_code == 302
    replay = FlaskClient(app, app.response_class, use_cookies=True)
    replay.set_cookie("trs_session", stolen)
    assert replay.get("/").status_code == 302  # the old cookie is worthless
    assert "auth.sign_out" in actions(app)


@pytest.mark.parametrize(
    ("field", "delta", "reason"),
    [
        ("last_seen_at", timedelta(minutes=31), "idle"),
        ("created_at", timedelta(hours=13), "expired"),
    ],
)
def test_idle_and_absolute_timeouts(app: Flask, client: FlaskClient, field: str, delta: timedelta, reason: str) -> None:
    with app.app_context():
        user = make_user(Role.FRONTLINE)
        sign_in_directly(client, user)
        record = db.session.execute(select(UserSession)).scalar_one()
        setattr(record, field, getattr(record, field) - delta)
        db.session.commit()
    response = client.get("/")
    assert response.status_code == 302
    assert "Your session has ended" in client.get(response.location).get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(select(UserSession.end_reason)).scalar_one() == reason


def test_password_change_ends_other_sessions(app: Flask) -> None:
    with app.app_context():
        user = make_user(Role.FRONTLINE, email="f@example.org")
    laptop, phone = app.test_client(), app.test_client()
    sign_in_through_pages(laptop, "f@example.org")
    sign_in_through_pages(phone, "f@example.org")
    bad = laptop.post(
        "/account/password", data={"current_password": "not it at all", "new_password": "x", "confirm_password": "x"}
    )
    assert "Your current password is not right." in bad.get_data(as_text=True)
    weak = laptop.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": "password1234", "confirm_password": "password1234"},
    )
    assert "too common" in weak.get_data(as_text=True)
    new = "violet otter marmalade"
    ok = laptop.post(
        "/account/password", data={"current_password": PASSWORD, "new_password": new, "confirm_password": new}
    )
    assert ok.status_code == 302
    assert laptop.get("/").status_code == 200
    assert phone.get("/").status_code == 302
    with app.app_context():
        assert db.session.get(User, user.id).password_changed_at is not None


def test_user_lists_and_ends_own_sessions(app: Flask) -> None:
    with app.app_context():
        make_user(Role.FRONTLINE, email="f@example.org")
        other = make_user(Role.FRONTLINE, email="g@example.org")
    laptop, phone, stranger = app.test_client(), app.test_client(), app.test_client()
    sign_in_through_pages(laptop, "f@example.org")
    sign_in_through_pages(phone, "f@example.org")
    sign_in_through_pages(stranger, "g@example.org")
    page = laptop.get("/account/sessions").get_data(as_text=True)
    assert page.count("End this session") == 1 and "This session" in page
    with app.app_context():
        phone_session = (
            db.session.execute(
                select(UserSession).where(UserSession.user_id != other.id).order_by(UserSession.id.desc())
            )
            .scalars()
            .first()
        )
        stranger_session = db.session.execute(select(UserSession).where(UserSession.user_id == other.id)).scalar_one()
    assert laptop.post(f"/account/sessions/{stranger_session.id}/end").status_code == 404
    assert laptop.post(f"/account/sessions/{phone_session.id}/end").status_code == 302
    assert phone.get("/").status_code == 302
    assert stranger.get("/").status_code == 200


def test_account_is_throttled_after_repeated_failures(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        make_user(Role.FRONTLINE, email="f@example.org")
    for _ in range(5):
        assert (
            client.post("/sign-in", data={"email": "f@example.org", "password": "wrong wrong wrong"}).status_code == 200
        )
    blocked = client.post("/sign-in", data={"email": "f@example.org", "password": PASSWORD})
    assert blocked.status_code == 429
    assert "Too many attempts" in blocked.get_data(as_text=True)
    # another account from the same address is not locked by this one
    with app.app_context():
        make_user(Role.FRONTLINE, email="g@example.org")
    assert client.post("/sign-in", data={"email": "g@example.org", "password": PASSWORD}).status_code == 302
    assert "auth.throttled" in actions(app)


def test_successful_sign_ins_do_not_count_towards_throttling(app: Flask) -> None:
    with app.app_context():
        make_user(Role.FRONTLINE, email="f@example.org")
    for _ in range(7):
        c = app.test_client()
        assert c.post("/sign-in", data={"email": "f@example.org", "password": PASSWORD}).status_code == 302


def test_client_address_is_throttled_across_accounts(database_uri: str, app: Flask) -> None:
    from tests.conftest import make_app

    tight = make_app(database_uri, SIGN_IN_LIMIT_PER_ADDRESS="3 per minute")
    client = tight.test_client()
    for n in range(3):
        client.post("/sign-in", data={"email": f"x{n}@example.org", "password": "wrong wrong wrong"})
    assert client.post("/sign-in", data={"email": "y@example.org", "password": "whatever it is"}).status_code == 429


def test_abandoned_device_change_keeps_the_current_second_factor(app: Flask, client: FlaskClient) -> None:
    secret = new_totp_secret()
    with app.app_context():
        user = make_user(Role.SUPERVISOR, email="sup@example.org", totp_secret=secret)
        sign_in_directly(client, user)
    page = client.get("/account/two-factor").get_data(as_text=True)
    assert "<svg" in page and secret not in page  # a new secret is offered
    client.post("/sign-out")
    # the person walks away: the old phone still signs them in, and no enrolment is forced
    assert client.post("/sign-in", data={"email": "sup@example.org", "password": PASSWORD}).location == "/sign-in/code"
    assert client.post("/sign-in/code", data={"code": pyotp.TOTP(secret).now()}).status_code == 302


def test_moving_to_a_new_phone_replaces_the_secret(app: Flask, client: FlaskClient) -> None:
    from app.accounts import two_factor

    old = new_totp_secret()
    with app.app_context():
        user = make_user(Role.SUPERVISOR, email="sup@example.org", totp_secret=old)
        sign_in_directly(client, user)
    client.get("/account/two-factor")
    with app.app_context():
        new = two_factor.read_pending_secret(db.session.get(User, user.id))
    assert new and new != old
    no_password = client.post("/account/two-factor", data={"code": pyotp.TOTP(new).now(), "current_password": "nope"})
    assert "Your current password is not right." in no_password.get_data(as_text=True)
    wrong = client.post("/account/two-factor", data={"code": pyotp.TOTP(old).now(), "current_password": PASSWORD})
    assert "That code is not right" in wrong.get_data(as_text=True)
    done = client.post("/account/two-factor", data={"code": pyotp.TOTP(new).now(), "current_password": PASSWORD})
    assert "recovery-codes" in done.get_data(as_text=True)
    with app.app_context():
        stored = db.session.get(User, user.id)
        assert two_factor.read_secret(stored) == new and stored.totp_pending_secret is None


def test_second_factor_guessing_is_throttled(app: Flask, client: FlaskClient) -> None:
    secret = new_totp_secret()
    with app.app_context():
        make_user(Role.SUPERVISOR, email="sup@example.org", totp_secret=secret)
    client.post("/sign-in", data={"email": "sup@example.org", "password": PASSWORD})
    right = pyotp.TOTP(secret).now()
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(5):
        assert client.post("/sign-in/code", data={"code": wrong}).status_code == 200
    assert client.post("/sign-in/code", data={"code": right}).status_code == 429


def test_pending_sign_in_expires(app: Flask, client: FlaskClient) -> None:
    secret = new_totp_secret()
    with app.app_context():
        make_user(Role.SUPERVISOR, email="sup@example.org", totp_secret=secret)
    client.post("/sign-in", data={"email": "sup@example.org", "password": PASSWORD})
    with client.session_transaction() as s:
        s["pending_sign_in"] = {**s["pending_sign_in"], "at": s["pending_sign_in"]["at"] - 600}
    response = client.post("/sign-in/code", data={"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302 and response.location == "/sign-in"
    assert client.get("/").status_code == 302


def test_recovery_codes_and_disabling_need_the_password(app: Flask, client: FlaskClient) -> None:
    secret = new_totp_secret()
    with app.app_context():
        user = make_user(Role.FRONTLINE, email="f@example.org", totp_secret=secret)
        sign_in_directly(client, user)
    refused = client.post("/account/two-factor/recovery-codes", data={"current_password": "guess guess guess"})
    assert "Your current password is not right." in refused.get_data(as_text=True)
    made = client.post("/account/two-factor/recovery-codes", data={"current_password": PASSWORD})
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", made.get_data(as_text=True))
    assert len(codes) == 10 and all(len(code) == 19 for code in codes)
    assert client.post("/account/two-factor/disable", data={"current_password": "guess guess guess"}).status_code == 200
    assert client.post("/account/two-factor/disable", data={"current_password": PASSWORD}).status_code == 302
    with app.app_context():
        assert not db.session.get(User, user.id).two_factor_enabled
        assert "auth.reauthentication.failure" in actions(app)


def test_mandatory_two_factor_cannot_be_turned_off(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        user = make_user(Role.SUPERVISOR, totp_secret=new_totp_secret())
        sign_in_directly(client, user)
    assert client.get("/account/two-factor/disable").status_code == 403
    assert client.post("/account/two-factor/disable", data={"current_password": PASSWORD}).status_code == 403
    with app.app_context():
        assert db.session.get(User, user.id).two_factor_enabled


def test_password_guessing_on_account_pages_is_throttled(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        sign_in_directly(client, make_user(Role.FRONTLINE, totp_secret=new_totp_secret()))
    for _ in range(5):
        client.post("/account/two-factor/recovery-codes", data={"current_password": "guess guess guess"})
    assert (
        client.post(
            "/account/password",
            data={
                "current_password": PASSWORD,
                "new_password": "violet otter marmalade",
                "confirm_password": "violet otter marmalade",
            },
        ).status_code
        == 429
    )


def test_staff_of_a_deactivated_agency_are_signed_out(app: Flask, client: FlaskClient) -> None:
    from app.accounts.models import Agency

    with app.app_context():
        user = make_user(Role.FRONTLINE)
        sign_in_directly(client, user)
    assert client.get("/").status_code == 200
    with app.app_context():
        db.session.get(Agency, user.agency_id).active = False
        db.session.commit()
    assert client.get("/").status_code == 302
