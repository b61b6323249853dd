"""E-mail delivery: the outbox folder, a real SMTP server (plain, AUTH, TLS), failures."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app.tasks.email import Mailer, deliver
from app.tasks.email_templates import password_changed_email, verification_email
from tests.mail import (
    CredentialCheck,
    Inbox,
    LocalController,
    Outbox,
    body_of,
    parse,
    self_signed_certificate,
    server_tls_context,
    token_in,
)

pytestmark = pytest.mark.usefixtures("database_url")
TOKEN = "header.payload-with_long_part." + "s" * 300
SetEnv = Callable[..., None]


async def test_outbox_file_is_a_complete_readable_message(outbox: Outbox) -> None:
    assert await deliver(verification_email("ada@example.com", TOKEN))
    [path] = outbox.files()
    raw = path.read_bytes()
    assert TOKEN.encode() in raw  # unbroken in the raw file: a person can copy it
    message = parse(raw)
    assert message["To"] == "ada@example.com"
    assert message["From"] == "Items Service <no-reply@localhost>"
    assert message["Subject"] == "Confirm your e-mail address for Items Service"
    assert message["Date"]
    assert message["Message-ID"]
    assert message.get_content_type() == "multipart/alternative"
    assert token_in(message) == TOKEN
    assert f"token={TOKEN}" in body_of(message, "html")
    assert [p.name for p in outbox.directory.iterdir()] == [path.name]  # no temporary left


async def test_outbox_files_sort_in_sending_order(outbox: Outbox) -> None:
    for n in range(3):
        await deliver(verification_email(f"user{n}@example.com", TOKEN))
    assert [m["To"] for m in outbox.messages()] == [f"user{n}@example.com" for n in range(3)]


async def test_values_are_escaped_in_html_and_unicode_survives(
    outbox: Outbox, set_env: SetEnv
) -> None:
    set_env(APP_NAME="Café <b>&</b> Co", EMAIL_FROM="Café <shop@example.com>")
    await deliver(password_changed_email("ada@example.com", changed_at=datetime.now(UTC)))
    [message] = outbox.messages()
    assert message["Subject"] == "Your Café <b>&</b> Co password was changed"
    assert "Café <b>&</b> Co" in body_of(message)
    html = body_of(message, "html")
    assert "Café &lt;b&gt;&amp;&lt;/b&gt; Co" in html
    assert "<b>&</b>" not in html


async def test_smtp_delivery_reaches_the_server(smtp_server: Inbox, outbox: Outbox) -> None:
    assert await deliver(verification_email("ada@example.com", TOKEN))
    [received] = smtp_server.to("ada@example.com")
    assert received.mail_from == "no-reply@localhost"
    assert token_in(received.message) == TOKEN
    assert outbox.files() == []  # SMTP configured: nothing written to the folder


@pytest.fixture
def smtp_with_auth(set_env: SetEnv) -> Iterator[Inbox]:
    inbox = Inbox()
    check = CredentialCheck(inbox, "mailer", "s3cret-pass")
    controller = LocalController(inbox, authenticator=check, auth_require_tls=False)
    controller.start()
    set_env(SMTP_HOST="127.0.0.1", SMTP_PORT=str(controller.port), SMTP_STARTTLS="false")
    yield inbox
    controller.stop()


async def test_smtp_logs_in_with_the_configured_credentials(
    smtp_with_auth: Inbox, set_env: SetEnv
) -> None:
    set_env(SMTP_USER="mailer", SMTP_PASSWORD="s3cret-pass")
    assert await deliver(verification_email("ada@example.com", TOKEN))
    assert smtp_with_auth.logins == ["mailer"]
    assert len(smtp_with_auth.to("ada@example.com")) == 1


async def test_smtp_failure_is_logged_not_raised(
    smtp_with_auth: Inbox, set_env: SetEnv, caplog: pytest.LogCaptureFixture
) -> None:
    set_env(SMTP_USER="mailer", SMTP_PASSWORD="wrong")
    with caplog.at_level(logging.ERROR, logger="app.tasks.email"):
        assert not await deliver(verification_email("ada@example.com", TOKEN), request_id="r-42")
    assert smtp_with_auth.received == []
    [record] = caplog.records
    assert "not sent (request r-42)" in record.getMessage()
    assert record.request_id == "r-42"  # type: ignore[attr-defined]
    assert "wrong" not in caplog.text  # the SMTP password never reaches the log


@pytest.fixture
def certificate(tmp_path: Path, set_env: SetEnv) -> tuple[Path, Path]:
    pair = self_signed_certificate(tmp_path)
    if pair is None:
        pytest.skip("the openssl tool is needed to make a test certificate")
    set_env(SSL_CERT_FILE=str(pair[0]))  # the client trusts it like a real CA
    return pair


def _serve(set_env: SetEnv, controller: LocalController, **settings: str) -> None:
    controller.start()
    set_env(SMTP_HOST="127.0.0.1", SMTP_PORT=str(controller.port), **settings)


async def test_starttls(certificate: tuple[Path, Path], set_env: SetEnv) -> None:
    inbox = Inbox()
    context = server_tls_context(*certificate)
    controller = LocalController(inbox, tls_context=context, require_starttls=True)
    _serve(set_env, controller, SMTP_STARTTLS="true")
    try:
        assert await deliver(verification_email("ada@example.com", TOKEN))
    finally:
        controller.stop()
    assert len(inbox.to("ada@example.com")) == 1


async def test_implicit_tls(certificate: tuple[Path, Path], set_env: SetEnv) -> None:
    inbox = Inbox()
    controller = LocalController(inbox, ssl_context=server_tls_context(*certificate))
    _serve(set_env, controller, SMTP_TLS="true")
    try:
        assert await deliver(verification_email("ada@example.com", TOKEN))
    finally:
        controller.stop()
    assert len(inbox.to("ada@example.com")) == 1


async def test_required_starttls_never_falls_back_to_plain_text(
    smtp_server: Inbox, set_env: SetEnv
) -> None:
    set_env(SMTP_STARTTLS="true")  # the server offers no STARTTLS
    assert not await deliver(verification_email("ada@example.com", TOKEN))
    assert smtp_server.received == []


async def test_mailer_without_a_scheduler_waits_for_the_caller(smtp_server: Inbox) -> None:
    mailer = Mailer()
    mailer.send(verification_email("ada@example.com", TOKEN))
    assert smtp_server.received == []
    assert await mailer.deliver_pending() == 1
    assert mailer.pending == []
    assert len(smtp_server.received) == 1


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_failed_send_does_not_fail_the_request_and_logs_its_id(
    app: FastAPI, set_env: SetEnv, caplog: pytest.LogCaptureFixture
) -> None:
    set_env(SMTP_HOST="127.0.0.1", SMTP_PORT=str(_closed_port()), SMTP_STARTTLS="false")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        with caplog.at_level(logging.ERROR, logger="app.tasks.email"):
            response = await client.post(
                "/api/v1/users",
                json={"email": "lost@example.com", "password": "Valid-Pass1"},
                headers={"X-Request-ID": "req-7f3a"},  # kept by the request pipeline
            )
    assert response.status_code == 201, response.text
    [record] = [r for r in caplog.records if r.name == "app.tasks.email"]
    assert "lost@example.com not sent (request req-7f3a)" in record.getMessage()
