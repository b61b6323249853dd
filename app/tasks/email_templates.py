"""The e-mails the service sends, each with a plain-text and an HTML body.

Templates are `string.Template` strings filled from settings and the values each
builder passes; every value is HTML-escaped in the HTML body. No builder takes a
password, so no e-mail can carry one, and none quotes user-supplied text (names,
bios), so an e-mail cannot be turned into someone else's message.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from string import Template
from urllib.parse import urlencode

from app.config import get_settings

# SMTP allows 998 characters a line; a 7bit body keeps tokens on one unbroken line,
# so a person reading the raw `.eml` file (or a script) sees them whole.
MAX_7BIT_LINE = 998


@dataclass(frozen=True, slots=True)
class EmailTemplate:
    subject: Template
    text: Template
    html: Template


_LAYOUT = Template(
    """<!doctype html>
<html lang="en">
<body style="font-family: sans-serif; line-height: 1.5; color: #222; max-width: 36em;">
$body
<p style="color: #777; font-size: 0.9em;">$app_name</p>
</body>
</html>
"""
)

VERIFY_EMAIL = EmailTemplate(
    subject=Template("Confirm your e-mail address for $app_name"),
    text=Template(
        """Hello,

please confirm that this address belongs to your $app_name account by opening
this link within $lifetime:

$link

If the link does not open, submit this verification token instead:

$token

If you did not create an account, you can ignore this message.
"""
    ),
    html=Template(
        """<p>Hello,</p>
<p>please confirm that this address belongs to your $app_name account by opening
this link within $lifetime:</p>
<p><a href="$link">Confirm my e-mail address</a></p>
<p>If the link does not open, submit this verification token instead:</p>
<p><code style="word-break: break-all;">$token</code></p>
<p>If you did not create an account, you can ignore this message.</p>"""
    ),
)

PASSWORD_RESET = EmailTemplate(
    subject=Template("Reset your $app_name password"),
    text=Template(
        """Hello,

someone (hopefully you) asked to reset the password of your $app_name account.
Choose a new password by opening this link within $lifetime:

$link

If the link does not open, submit this reset token with your new password:

$token

The link works once. If you did not ask for it, ignore this message: your
password stays as it is.
"""
    ),
    html=Template(
        """<p>Hello,</p>
<p>someone (hopefully you) asked to reset the password of your $app_name account.
Choose a new password by opening this link within $lifetime:</p>
<p><a href="$link">Choose a new password</a></p>
<p>If the link does not open, submit this reset token with your new password:</p>
<p><code style="word-break: break-all;">$token</code></p>
<p>The link works once. If you did not ask for it, ignore this message: your
password stays as it is.</p>"""
    ),
)

PASSWORD_CHANGED = EmailTemplate(
    subject=Template("Your $app_name password was changed"),
    text=Template(
        """Hello,

the password of your $app_name account was changed on $changed_at.
Every session has been signed out; sign in again with the new password.

If you did not change it, reset your password now and contact us:

$link
"""
    ),
    html=Template(
        """<p>Hello,</p>
<p>the password of your $app_name account was changed on $changed_at.
Every session has been signed out; sign in again with the new password.</p>
<p>If you did not change it, <a href="$link">reset your password now</a>
and contact us.</p>"""
    ),
)


def frontend_link(path: str, **query: str) -> str:
    """A link for a person: on the deployment's front end if set, else on this service."""
    base = get_settings().link_base
    return f"{base}/{path.lstrip('/')}" + (f"?{urlencode(query)}" if query else "")


def _lifetime(minutes: int) -> str:
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour" + ("s" if hours != 1 else "")
    return f"{minutes} minute" + ("s" if minutes != 1 else "")


def _set_body(message: EmailMessage, body: str, subtype: str, *, first: bool) -> None:
    fits_7bit = body.isascii() and all(len(line) <= MAX_7BIT_LINE for line in body.splitlines())
    cte = "7bit" if fits_7bit else "quoted-printable"
    if first:
        message.set_content(body, subtype=subtype, cte=cte)
    else:
        message.add_alternative(body, subtype=subtype, cte=cte)


def render(template: EmailTemplate, *, to: str, **values: str) -> EmailMessage:
    """A complete message (headers, text and HTML alternatives) from a template."""
    settings = get_settings()
    values = {"app_name": settings.app_name, **values}
    escaped = {key: html.escape(value, quote=True) for key, value in values.items()}
    message = EmailMessage()
    message["Subject"] = template.subject.substitute(values)
    message["From"] = settings.email_from
    message["To"] = to
    message["Date"] = format_datetime(datetime.now(UTC))
    domain = parseaddr(settings.email_from)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(domain=domain)
    _set_body(message, template.text.substitute(values), "plain", first=True)
    body = template.html.substitute(escaped)
    _set_body(
        message, _LAYOUT.substitute(body=body, app_name=escaped["app_name"]), "html", first=False
    )
    return message


def verification_email(to: str, token: str) -> EmailMessage:
    lifetime = _lifetime(get_settings().email_token_expire_hours * 60)
    link = frontend_link(get_settings().verify_email_path, token=token)
    return render(VERIFY_EMAIL, to=to, link=link, token=token, lifetime=lifetime)


def password_reset_email(to: str, token: str) -> EmailMessage:
    lifetime = _lifetime(get_settings().password_reset_expire_minutes)
    link = frontend_link(get_settings().reset_password_path, token=token)
    return render(PASSWORD_RESET, to=to, link=link, token=token, lifetime=lifetime)


def password_changed_email(to: str, *, changed_at: datetime) -> EmailMessage:
    when = changed_at.astimezone(UTC).strftime("%Y-%m-%d at %H:%M UTC")
    return render(
        PASSWORD_CHANGED,
        to=to,
        changed_at=when,
        link=frontend_link(get_settings().reset_password_path),
    )
