"""How a message leaves: e-mail through Django's e-mail framework (TISSER_SMTP_URL), SMS
through a provider's HTTP API (TISSER_SMS_PROVIDER). Each answers `Sent` or raises
`SendFailed`, saying whether trying again later could help."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from typing import Protocol

import httpx
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection


@dataclass(frozen=True)
class Outgoing:
    to: str
    subject: str
    text: str
    language: str
    # Where one click stops every message (RFC 8058 for e-mail).
    stop_url: str
    message_id: str


@dataclass(frozen=True)
class Sent:
    provider_ref: str = ""


class SendFailed(Exception):
    def __init__(self, code: str, *, transient: bool) -> None:
        super().__init__(code)
        self.code = code
        self.transient = transient


class Transport(Protocol):
    def send(self, message: Outgoing) -> Sent: ...


class EmailTransport:
    def send(self, message: Outgoing) -> Sent:
        if not settings.TISSER_SMTP_URL:
            raise SendFailed("no_transport", transient=False)
        domain = settings.TISSER_MAIL_FROM.rsplit("@", 1)[-1].strip("> ") or "tisser.invalid"
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.text,
            from_email=settings.TISSER_MAIL_FROM,
            to=[message.to],
            headers={
                # The same message sent twice (a worker killed after the server took it)
                # is recognisably the same.
                "Message-ID": f"<{message.message_id}@{domain}>",
                "Content-Language": message.language,
                "List-Unsubscribe": f"<{message.stop_url}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                "Auto-Submitted": "auto-generated",
            },
            # A stalled server must not hold a worker past the message's lease.
            connection=get_connection(fail_silently=False, timeout=10),
        )
        try:
            email.send()
        except smtplib.SMTPRecipientsRefused as exc:
            raise SendFailed("recipient_refused", transient=False) from exc
        except smtplib.SMTPResponseException as exc:
            # 5xx: the server will not take it; 4xx: try again later.
            raise SendFailed(f"smtp_{exc.smtp_code}", transient=exc.smtp_code < 500) from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise SendFailed("smtp_unreachable", transient=True) from exc
        return Sent(message.message_id)


# GSM 03.38's basic character set and its extension (each of those counts twice): a text
# of only these goes as 160 characters a part; anything else (an Arabic letter, a curly apostrophe,
# "«") makes the whole SMS Unicode, 70 a part.
_GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
    "^{}\\[~]|€"
)


def gsm7(text: str) -> bool:
    return all(char in _GSM7 for char in text)


class BrevoSms:
    """Brevo's transactional SMS API: POST {TISSER_SMS_API_URL} with the account's key in
    `api-key`, JSON {sender, recipient (country code and number, digits only), content,
    type: transactional, unicodeEnabled, tag}; 201 {"messageId", "reference", …} when
    accepted, 4xx {"code", "message"} when refused (402: no credits left)."""

    def send(self, message: Outgoing) -> Sent:
        body = {
            "sender": settings.TISSER_SMS_SENDER,
            "recipient": message.to.lstrip("+"),
            "content": message.text,
            "type": "transactional",
            # Arabic, Chinese, Cyrillic, and French's "ç" or a curly apostrophe, need Unicode: 70
            # characters a part instead of 160, so only when the text needs it.
            "unicodeEnabled": not gsm7(message.text),
            "tag": "tisser",
        }
        try:
            response = httpx.post(
                settings.TISSER_SMS_API_URL,
                json=body,
                headers={"api-key": settings.TISSER_SMS_API_KEY, "accept": "application/json"},
                timeout=10,
                follow_redirects=False,
            )
        except httpx.HTTPError as exc:
            raise SendFailed("sms_unreachable", transient=True) from exc
        if response.status_code in (200, 201, 202):
            try:
                found = response.json()
            except ValueError:
                found = {}
            ref = found.get("messageId") or found.get("reference") or ""
            return Sent(str(ref)[:100])
        transient = response.status_code == 429 or response.status_code >= 500
        raise SendFailed(f"sms_{response.status_code}", transient=transient)


class NoSms:
    def send(self, message: Outgoing) -> Sent:
        raise SendFailed("no_transport", transient=False)


def transport_for(channel: str) -> Transport:
    if channel == "email":
        return EmailTransport()
    if channel == "sms" and settings.TISSER_SMS_PROVIDER == "brevo":
        return BrevoSms()
    return NoSms()
