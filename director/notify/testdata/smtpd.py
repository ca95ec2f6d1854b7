"""A real SMTP server for lvsd's mail tests (Debian's python3-aiosmtpd).

usage: smtpd.py HOST PORT MAILDIR [none|starttls|tls] [CERT KEY] [USER PASSWORD]

Stores every mail it accepts in the Maildir MAILDIR (one file each in
MAILDIR/new) and prints "ready" once it answers. With starttls it offers
STARTTLS and refuses mail before it (RFC 3207); with tls it speaks TLS
from the first byte (RFC 8314). With USER and PASSWORD it requires AUTH
(over TLS only) and accepts those credentials alone.
"""
import os
import signal
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword


def main():
    # Blocked before the server's thread starts, so that sigwait gets them.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    host, port, maildir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    mode = sys.argv[4] if len(sys.argv) > 4 else "none"
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(maildir, sub), exist_ok=True)
    kw = {}
    ctx = None
    if mode != "none":
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(sys.argv[5], sys.argv[6])
    if mode == "starttls":
        kw.update(tls_context=ctx, require_starttls=True)
    if len(sys.argv) > 8:
        user, password = sys.argv[7].encode(), sys.argv[8].encode()

        def check(server, session, envelope, mechanism, data):
            ok = isinstance(data, LoginPassword) and data.login == user and data.password == password
            return AuthResult(success=ok)

        # aiosmtpd counts only STARTTLS as TLS; under implicit TLS the
        # whole session is encrypted, so AUTH may be offered from the start.
        kw.update(authenticator=check, auth_required=True, auth_require_tls=mode != "tls")
    c = Controller(Mailbox(maildir), hostname=host, port=port,
                   ssl_context=ctx if mode == "tls" else None, server_hostname="localhost", **kw)
    c.start()
    print("ready", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    c.stop()


if __name__ == "__main__":
    main()
