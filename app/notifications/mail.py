"""E-mail for notifications: a translated sentence and a link, never personal data.

Runs as a background job (app.core.jobs). Without MAIL_SERVER, notifications stay in-app.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from app.notifications.vocabulary import NOTIFICATION_TITLES


def compose(*, to: str, kind: str, link: str, language: str) -> EmailMessage:
    config = current_app.config
    url = config["EXTERNAL_URL"].rstrip("/") + link
    with force_locale(language):
        title = str(NOTIFICATION_TITLES[kind])
        body = "\n\n".join(
            [
                title + ".",
                _("Sign in to see it: %(url)s", url=url),
                _("This message holds no details on purpose. Do not reply to it."),
            ]
        )
        subject = _("Victim referral: %(title)s", title=title)
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    return message


def send_notification(*, to: str, kind: str, link: str, language: str) -> bool:
    """Send one notification e-mail; False when e-mail is not configured."""
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        return False
    message = compose(to=to, kind=kind, link=link, language=language)
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=10) as smtp:
        if config.get("MAIL_STARTTLS"):
            smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        smtp.send_message(message)
    return True
