"""An SMTP server that keeps what it receives, for tidewatch's SMTP tests (tests/it/support/smtp.rs).

aiosmtpd's SMTP protocol on a socket bound to port 0 (the kernel picks a free port, so parallel
tests never race for one), on loopback. It prints `LISTENING <port>` once it accepts
connections, and serves until it is killed.

Every message delivered is written to --dir as NNNN.eml (the raw message) and NNNN.json, a
summary the tests read instead of parsing MIME themselves:

    {"mail_from": "...", "rcpt_tos": [...], "auth_login": "user" or null, "tls": true/false,
     "subject": "...", "from": "...", "to": "...", "content_type": "multipart/alternative",
     "parts": [{"content_type": "text/plain", "content": "..."}, ...]}

Text parts are decoded, with CRLF line ends made LF; other parts have a null content.

The JSON file is written under a temporary name and renamed, so a reader never sees half of it.

Options:
    --user U --password P   require AUTH (PLAIN or LOGIN) with exactly these credentials
    --echo-auth             a rejected AUTH reply quotes the password it was sent (as a careless
                            server might), to prove the client masks it
    --starttls CERT KEY     offer STARTTLS with this certificate
    --implicit-tls CERT KEY TLS from the first byte (port-465 style)
"""

import argparse
import asyncio
import email
import email.policy
import json
import logging
import os
import socket
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        stem = os.path.join(self.directory, f"{self.count:04d}")
        content = envelope.original_content or envelope.content
        with open(stem + ".eml", "wb") as f:
            f.write(content)
        message = email.message_from_bytes(content, policy=email.policy.default)
        parts = []
        for part in message.walk():
            if part.is_multipart():
                continue
            content = part.get_content()
            if isinstance(content, str):
                content = content.replace("\r\n", "\n")
            else:
                content = None
            parts.append({"content_type": part.get_content_type(), "content": content})
        login = None
        if session.authenticated and isinstance(session.auth_data, LoginPassword):
            login = session.auth_data.login.decode("utf-8", "replace")
        summary = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "auth_login": login,
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "subject": str(message.get("subject", "")),
            "from": str(message.get("from", "")),
            "to": str(message.get("to", "")),
            "content_type": message.get_content_type(),
            "parts": parts,
        }
        with open(stem + ".json.tmp", "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=1)
        os.replace(stem + ".json.tmp", stem + ".json")
        return "250 OK"


def authenticator(user, password, echo):
    def check(server, session, envelope, mechanism, auth_data):
        if (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode()
            and auth_data.password == password.encode()
        ):
            return AuthResult(success=True, auth_data=auth_data)
        if echo and isinstance(auth_data, LoginPassword):
            sent = auth_data.password.decode("utf-8", "replace")
            return AuthResult(
                success=False,
                handled=False,
                message=f"535 5.7.8 Authentication failed for password {sent}",
            )
        return AuthResult(success=False, handled=False)

    return check


def tls_context(cert, key):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--echo-auth", action="store_true")
    parser.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--implicit-tls", nargs=2, metavar=("CERT", "KEY"))
    args = parser.parse_args()
    # Each session's commands, to stderr: the test shows this log when a delivery goes wrong.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    handler = Sink(args.dir)
    options = {"hostname": "sink.test", "ident": "tidewatch test sink"}
    if args.starttls:
        options["tls_context"] = tls_context(*args.starttls)
    if args.user is not None:
        options["authenticator"] = authenticator(args.user, args.password or "", args.echo_auth)
        options["auth_required"] = True
        # aiosmtpd only knows about STARTTLS; with implicit TLS the connection is already
        # encrypted, so its check for encryption before AUTH must be turned off.
        options["auth_require_tls"] = not args.implicit_tls
    else:
        options["auth_require_tls"] = False
    implicit = tls_context(*args.implicit_tls) if args.implicit_tls else None

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, **options), sock=sock, ssl=implicit
    )
    print(f"LISTENING {sock.getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
