"""E-mail on a new referral: one per caseworker of the recipient agency, over SMTP to a local
sink, holding a link and nothing about the person, the case, the purpose or the service."""

from __future__ import annotations

from flask import Flask

from app.notifications.mail import send_notification
from tests.factories import make_referral
from tests.notifications.conftest import FAMILY_NAME, PURPOSE, SERVICE_NAME, Sink, build_world


def test_new_referral_mails_each_caseworker_a_link_and_no_personal_data(mail_app: Flask, smtp_sink: Sink) -> None:
    with mail_app.app_context():
        world = build_world()
        referral = make_referral(world.sender, world.case, world.service)
        reference = world.case.reference
        sender_name = world.sender.display_name
        caseworker_addresses = sorted(u.email for u in world.caseworkers)

    assert sorted(smtp_sink.recipients) == caseworker_addresses
    assert len(smtp_sink.received) == 2
    link = f"https://referral.example.gov/referrals/{referral.id}"
    for (tos, raw), message in zip(smtp_sink.received, smtp_sink.messages, strict=True):
        assert message["To"] == tos[0]
        assert message["Subject"] == "Victim referral: A new referral is waiting for your answer"
        body = message.get_content()
        assert link in body
        whole = raw.decode()
        for secret in (FAMILY_NAME, reference, PURPOSE, SERVICE_NAME, sender_name, referral.case_id):
            assert secret not in whole, secret
        others = set(caseworker_addresses) - {tos[0]}
        assert not any(address in whole for address in others)


def test_no_mail_without_a_mail_server(app: Flask, smtp_sink: Sink) -> None:
    with app.test_request_context():
        assert app.config["MAIL_SERVER"] is None
        assert (
            send_notification(to="a@example.org", kind="referral.expired", link="/referrals/x", language="en") is False
        )
        world = build_world()
        make_referral(world.sender, world.case, world.service)
    assert smtp_sink.received == []
