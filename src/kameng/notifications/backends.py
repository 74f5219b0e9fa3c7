"""Where outbox messages go. Each backend has `send(*, recipient, subject, body)` and raises on failure.

The defaults send nothing out of the machine: SMS is written to the log with the number masked,
email goes through Django's mail, on the console unless settings name a real mailer.
A real SMS gateway is a class with the same method, named in settings.KAMENG_SMS_BACKEND.
"""

import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.console import EmailBackend as ConsoleEmailBackend

logger = logging.getLogger(__name__)

def mask_phone(phone: str) -> str:
    """13800000000 → 138****0000: enough to tell numbers apart in a log, not enough to call."""
    if len(phone) <= 7:
        return "*" * len(phone)
    return f"{phone[:3]}{'*' * (len(phone) - 7)}{phone[-4:]}"


class ConsoleSmsBackend:
    def send(self, *, recipient: str, subject: str, body: str) -> None:
        logger.info("SMS to %s: %s", mask_phone(recipient), body)


class DjangoEmailBackend:
    """Email through django.core.mail: the project's mailer if it configured one, else the console.

    Django's own fallback is SMTP to localhost, which must never be used by accident, so without
    MAILERS (or a legacy EMAIL_BACKEND) in settings the console backend is called directly.
    """

    def send(self, *, recipient: str, subject: str, body: str) -> None:
        message = EmailMessage(subject, body, None, [recipient])
        if hasattr(settings, "MAILERS") or settings.is_overridden("EMAIL_BACKEND"):
            message.send()
        else:
            ConsoleEmailBackend().send_messages([message])
