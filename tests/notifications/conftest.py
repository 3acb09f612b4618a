import email
import email.policy
from pathlib import Path

import pytest
from django.core import mail

from notifications.models import OutboundMessage
from notifications.tasks import message_send


def parsed(sent) -> email.message.EmailMessage:
    """A sent Django message as the receiving side parses it."""
    raw = sent.message().as_bytes(linesep="\r\n")
    return email.message_from_bytes(raw, policy=email.policy.default)


def calendar_of(message: email.message.EmailMessage, content_type: str = "text/calendar"):
    part = next(p for p in message.walk() if p.get_content_type() == content_type)
    return part, part.get_payload(decode=True).decode()


@pytest.fixture(autouse=True)
def fresh_smtp_connection():
    """Each test starts without the worker's kept SMTP connection (it may be a mock's)."""
    from notifications.tasks import smtp_close

    smtp_close()
    yield
    smtp_close()


@pytest.fixture
def deliver():
    """Send every queued outbox row now, as the worker would; returns what left, in order."""

    def run() -> list:
        before = len(mail.outbox)
        for pk in OutboundMessage.objects.filter(status="queued").values_list("pk", flat=True):
            message_send(pk)
        return mail.outbox[before:]

    return run


# --- real mail servers on loopback for the end-to-end test --------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpInbox:
    """What an aiosmtpd server on loopback received, with a bounded wait."""

    def __init__(self) -> None:
        import threading

        self.messages: list[email.message.EmailMessage] = []
        self.received_at: list[float] = []
        self._condition = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        import time

        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._condition:
            self.messages.append(message)
            self.received_at.append(time.perf_counter())
            self._condition.notify_all()
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 30) -> list:
        with self._condition:
            is_there = self._condition.wait_for(lambda: len(self.messages) >= count, timeout)
        assert is_there, f"SMTP server got {len(self.messages)} of {count} messages"
        return self.messages[:count]


@pytest.fixture
def smtp_server(monkeypatch):
    """An aiosmtpd server on 127.0.0.1; the worker started after it sends there."""
    from aiosmtpd.controller import Controller

    inbox = SmtpInbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("TEST_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
    monkeypatch.setenv("EMAIL_HOST", "127.0.0.1")
    monkeypatch.setenv("EMAIL_PORT", str(port))
    try:
        yield inbox
    finally:
        controller.stop()


DOVECOT_CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
mail_location = maildir:{mail}/mail/%u
first_valid_uid = {mail_uid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {mail}/users
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={mail}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service auth-worker {{
  user = {auth_user}
}}
service stats {{
  inet_listener http {{
    port = 0
  }}
}}
"""


@pytest.fixture
def imap_server(monkeypatch, tmp_path):
    """Debian's dovecot on a loopback port with one test user, config and mail under tmp.

    As root, dovecot will not run its login, auth or mail processes as root: they use Debian's
    dovenull and dovecot users, so the password file and the mail live in a directory made for
    the dovecot user (pytest's own tmp directory is closed to other users). Stopped after the
    test.
    """
    import getpass
    import os
    import pwd
    import shutil
    import socket
    import subprocess
    import tempfile
    import time

    dovecot = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not os.path.exists(dovecot):
        pytest.fail("dovecot is not installed (apt-get install -y dovecot-imapd)")
    user, password, port = "organizer", "imap-test-password", free_port()
    mail = Path(tempfile.mkdtemp(prefix="sb-imap-"))
    (mail / "users").write_text(f"{user}:{{PLAIN}}{password}\n")
    if os.geteuid() == 0:
        mail_user = pwd.getpwnam("dovecot")
        for path in (mail, mail / "users"):
            os.chown(path, mail_user.pw_uid, mail_user.pw_gid)
        names = {"internal_user": "dovecot", "internal_group": "dovecot"}
        names |= {"login_user": "dovenull", "auth_user": "root"}
    else:
        mail_user = pwd.getpwuid(os.geteuid())
        me = getpass.getuser()
        group = pwd.getpwuid(os.geteuid()).pw_gid
        names = {"internal_user": me, "internal_group": str(group)}
        names |= {"login_user": me, "auth_user": me}
    config = tmp_path / "dovecot.conf"
    config.write_text(
        DOVECOT_CONF.format(
            root=tmp_path,
            mail=mail,
            port=port,
            mail_uid=mail_user.pw_uid,
            mail_gid=mail_user.pw_gid,
            **names,
        )
    )
    process = subprocess.Popen([dovecot, "-F", "-c", str(config)])
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = tmp_path / "dovecot.log"
                    pytest.fail(f"dovecot did not start: {log.read_text() if log.exists() else ''}")
                time.sleep(0.1)  # bounded by the deadline above
        for name, value in {
            "IMAP_HOST": "127.0.0.1",
            "IMAP_PORT": str(port),
            "IMAP_USER": user,
            "IMAP_PASSWORD": password,
            "IMAP_USE_SSL": "false",
        }.items():
            monkeypatch.setenv(name, value)
        yield {"port": port, "user": user, "password": password}
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(mail, ignore_errors=True)
