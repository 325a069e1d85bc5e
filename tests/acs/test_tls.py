"""The portal over TLS: uvicorn started with runportal's arguments and a certificate this test
makes (cryptography); a box authenticates with basic credentials over HTTPS."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.exceptions import ImproperlyConfigured

from portal.management.commands.runportal import uvicorn_argv
from tests.acs.cpe import envelope, inform

ROOT = Path(__file__).resolve().parents[2]


def make_certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_tls_settings_are_checked(settings, tmp_path):
    settings.PORTAL_TLS_CERT = str(tmp_path / "cert.pem")
    settings.PORTAL_TLS_KEY = ""
    with pytest.raises(ImproperlyConfigured, match="set together"):
        uvicorn_argv("/bin", "127.0.0.1", 8443)
    settings.PORTAL_TLS_KEY = str(tmp_path / "key.pem")
    with pytest.raises(ImproperlyConfigured, match="no such file"):
        uvicorn_argv("/bin", "127.0.0.1", 8443)
    settings.PORTAL_TLS_CERT = settings.PORTAL_TLS_KEY = ""
    assert "--ssl-certfile" not in uvicorn_argv("/bin", "127.0.0.1", 8000)


@pytest.mark.slow
def test_a_box_speaks_cwmp_over_https_with_basic_auth(settings, tmp_path):
    cert, key = make_certificate(tmp_path)
    settings.PORTAL_TLS_CERT, settings.PORTAL_TLS_KEY = str(cert), str(key)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = uvicorn_argv(os.path.dirname(sys.executable), "127.0.0.1", port)
    assert argv[argv.index("--ssl-certfile") + 1] == str(cert)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    env.update(
        PORTAL_VAR_DIR=str(tmp_path / "var"),
        DJANGO_SETTINGS_MODULE="portal.settings",
        CWMP_AUTH="basic",
        CWMP_UNKNOWN_DEVICES="all",
        CWMP_BOOTSTRAP_USERNAME="boot",
        CWMP_BOOTSTRAP_PASSWORD="strap",
    )
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v0"],
        env=env,
        check=True,
        cwd=ROOT,
    )
    log = open(tmp_path / "uvicorn.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        context = ssl.create_default_context(cafile=str(cert))
        url = f"https://127.0.0.1:{port}/cwmp"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"https://127.0.0.1:{port}/login/", context=context)
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError((tmp_path / "uvicorn.log").read_text()) from None
                time.sleep(0.3)
        request = urllib.request.Request(
            url,
            data=envelope(inform()),
            headers={
                "Content-Type": "text/xml",
                "Authorization": "Basic " + base64.b64encode(b"boot:strap").decode(),
            },
        )
        with urllib.request.urlopen(request, context=context) as response:
            assert response.status == 200
            assert b"InformResponse" in response.read()
            assert "cwmp_session" in response.headers["Set-Cookie"]
            assert "Secure" in response.headers["Set-Cookie"]
        # The TLS port speaks nothing else: plain HTTP gets no CWMP answer.
        with pytest.raises((urllib.error.URLError, ConnectionError, http_client_errors())):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/cwmp", data=b"", timeout=5)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def http_client_errors():
    import http.client

    return http.client.HTTPException
