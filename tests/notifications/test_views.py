"""The notification centre: own notifications only, newest first, unread marked; mark one
read (and go to its link), mark all read; another user's notification is not found."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask, render_template_string
from flask.testing import FlaskClient
from flask_login import login_user
from sqlalchemy import select

from app.accounts.models import User
from app.accounts.roles import Role
from app.core.db import utcnow
from app.extensions import db
from app.notifications.models import Notification
from tests.accounts.test_query_counts import count_statements
from tests.factories import make_agency, make_user, new_totp_secret, sign_in_directly


def add_notifications(user: User, count: int, *, read: int = 0, prefix: str = "n") -> list[int]:
    """``count`` notifications for ``user``, one minute apart (the last is the newest); the
    first ``read`` of them already read. Their links are /referrals/<prefix><number>."""
    start = utcnow() - timedelta(minutes=count)
    rows = [
        Notification(
            user_id=user.id,
            kind="referral.received" if number % 2 else "referral.expired",
            link=f"/referrals/{prefix}{number}",
            created_at=start + timedelta(minutes=number),
            read_at=start if number < read else None,
        )
        for number in range(count)
    ]
    db.session.add_all(rows)
    db.session.commit()
    return [row.id for row in rows]


def signed_in(client: FlaskClient, role: Role = Role.CASEWORKER) -> User:
    user = make_user(role, make_agency("FR"), totp_secret=new_totp_secret())
    sign_in_directly(client, user)
    return user


def read_at(notification_id: int) -> object:
    return db.session.execute(select(Notification.read_at).where(Notification.id == notification_id)).scalar_one()


@pytest.mark.parametrize("role", list(Role))
def test_every_role_sees_its_own_notifications_newest_first(app: Flask, client: FlaskClient, role: Role) -> None:
    with app.app_context():
        user = signed_in(client, role)
        oldest, middle, newest = add_notifications(user, 3, read=1, prefix="mine")
        theirs = add_notifications(make_user(Role.CASEWORKER), 2, prefix="theirs")
    response = client.get("/notifications/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "theirs" not in page and not any(f'notification-{n}"' in page for n in theirs)
    rows = [page.index(f'id="notification-{n}"') for n in (newest, middle, oldest)]
    assert rows == sorted(rows)  # newest first
    assert f'action="/notifications/{newest}/read"' in page  # an unread one opens through "mark read"
    assert 'href="/referrals/mine0"' in page  # a read one is a plain link
    assert page.count("notification-unread") == 2
    assert "You have 2 unread notifications." in page
    assert "A new referral is waiting for your answer" in page and "A referral expired without an answer" in page
    assert page.count("<time datetime=") == 3


def test_empty_centre(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        signed_in(client)
    page = client.get("/notifications/").get_data(as_text=True)
    assert "You have no notifications." in page
    assert "Mark all as read" not in page


def test_anonymous_is_sent_to_sign_in(client: FlaskClient) -> None:
    response = client.get("/notifications/")
    assert response.status_code == 302
    assert "/sign-in" in response.headers["Location"]
    assert client.post("/notifications/read-all").status_code == 302
    assert client.post("/notifications/1/read").status_code == 302


def test_mark_one_read_goes_to_its_link(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        user = signed_in(client)
        first, second = add_notifications(user, 2, prefix="r")
    response = client.post(f"/notifications/{first}/read")
    assert response.status_code == 302
    assert response.headers["Location"] == "/referrals/r0"
    with app.app_context():
        assert read_at(first) is not None and read_at(second) is None
        when = read_at(first)
    assert client.post(f"/notifications/{first}/read").status_code == 302  # again: stays read, same time
    with app.app_context():
        assert read_at(first) == when
    page = client.get("/notifications/").get_data(as_text=True)
    assert page.count("notification-unread") == 1
    assert 'href="/referrals/r0"' in page  # a read one is a plain link


def test_another_users_notification_is_not_found(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        signed_in(client)
        (theirs,) = add_notifications(make_user(Role.CASEWORKER), 1)
    assert client.post(f"/notifications/{theirs}/read").status_code == 404
    assert client.post("/notifications/999999/read").status_code == 404
    assert client.get(f"/notifications/{theirs}/read").status_code == 405
    with app.app_context():
        assert read_at(theirs) is None


def test_mark_all_read_touches_only_own(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        user = signed_in(client)
        mine = add_notifications(user, 3, read=1)
        theirs = add_notifications(make_user(Role.CASEWORKER), 2)
    response = client.post("/notifications/read-all", follow_redirects=True)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "All your notifications are marked as read." in page
    assert "notification-unread" not in page and "You have read all your notifications." in page
    with app.app_context():
        assert all(read_at(n) is not None for n in mine)
        assert all(read_at(n) is None for n in theirs)


def test_posts_need_the_csrf_token(app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    with app.app_context():
        user = signed_in(client)
        (notification,) = add_notifications(user, 1)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    assert client.post(f"/notifications/{notification}/read").status_code == 400
    assert client.post("/notifications/read-all").status_code == 400
    page = client.get("/notifications/").get_data(as_text=True)
    assert 'name="csrf_token"' in page
    with app.app_context():
        assert read_at(notification) is None


def test_only_the_newest_hundred_are_listed(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        user = signed_in(client)
        ids = add_notifications(user, 101, prefix="x")
    page = client.get("/notifications/").get_data(as_text=True)
    assert page.count("<time datetime=") == 100
    assert f'id="notification-{ids[-1]}"' in page  # the newest is there
    assert f'id="notification-{ids[0]}"' not in page  # the oldest is left out
    assert "Only the newest 100 notifications are shown." in page
    assert "You have 101 unread notifications." in page  # the count covers them all


def test_centre_runs_a_fixed_number_of_statements(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        user = signed_in(client)
        add_notifications(user, 5, read=2)
    client.get("/notifications/")  # warm-up
    with count_statements(app) as few:
        assert client.get("/notifications/").status_code == 200
    with app.app_context():
        add_notifications(db.session.get(User, user.id), 45, read=20)
    with count_statements(app) as many:
        assert client.get("/notifications/").status_code == 200
    assert len(many) == len(few), f"{len(few)} statements with 5 notifications, {len(many)} with 50"
    assert len(few) <= 6, few


def test_unread_count_for_the_navigation(app: Flask) -> None:
    with app.app_context():
        user = make_user(Role.CASEWORKER)
        add_notifications(user, 4, read=1)
        user_id = user.id
    template = "{{ unread_notifications() }}"
    with app.test_request_context():
        assert render_template_string(template) == "0"  # nobody signed in
        login_user(db.session.get(User, user_id))
        assert render_template_string(template) == "3"
