"""A throw-away PKI for tests: root CA, intermediate CA, code-signing leaf, detached CMS signatures.

Every function makes fresh keys, so tests can build as many independent "manufacturers" as they
need. Typical use::

    root = pki.make_root("Acme Root CA")
    inter = pki.make_intermediate(root, "Acme Firmware CA")
    leaf = pki.make_leaf(inter, "Acme Firmware Signing")
    sig = pki.sign_detached(image_bytes, leaf.key, leaf.cert, [inter.cert])
    verify_detached_signature(sig, io.BytesIO(image_bytes), [root.cert])

Key types (``key_type=``): ``"rsa"`` (2048 bits), ``"rsa3072"``, ``"ec"`` (P-256), ``"p384"``,
``"p521"``. Validity defaults to "from yesterday for a year"; pass ``not_before`` / ``not_after``
(aware datetimes) to make expired or not-yet-valid certificates.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

CODE_SIGNING = ExtendedKeyUsageOID.CODE_SIGNING
SERVER_AUTH = ExtendedKeyUsageOID.SERVER_AUTH


@dataclass(frozen=True, slots=True)
class Issued:
    """A certificate together with its private key."""

    cert: x509.Certificate
    key: PrivateKey

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def make_key(key_type: str = "rsa") -> PrivateKey:
    """A new private key: "rsa", "rsa3072", "ec" (P-256), "p384" or "p521"."""
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if key_type == "rsa3072":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    curves: dict[str, ec.EllipticCurve] = {
        "ec": ec.SECP256R1(),
        "p384": ec.SECP384R1(),
        "p521": ec.SECP521R1(),
    }
    if key_type not in curves:
        raise ValueError(f"unknown key type {key_type!r}")
    return ec.generate_private_key(curves[key_type])


def make_root(
    name: str = "Test Root CA",
    *,
    key_type: str = "rsa",
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> Issued:
    """A self-signed root CA (basicConstraints cA=True, keyUsage keyCertSign + cRLSign)."""
    key = make_key(key_type)
    cert = _build(
        subject=name,
        public_key=key.public_key(),
        issuer=None,
        signing_key=key,
        not_before=not_before,
        not_after=not_after,
        ca=True,
        path_length=None,
        eku=None,
    )
    return Issued(cert, key)


def make_intermediate(
    issuer: Issued,
    name: str = "Test Intermediate CA",
    *,
    key_type: str = "rsa",
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    path_length: int | None = 0,
) -> Issued:
    """An intermediate CA issued by ``issuer`` (pathLenConstraint ``path_length``)."""
    key = make_key(key_type)
    cert = _build(
        subject=name,
        public_key=key.public_key(),
        issuer=issuer,
        signing_key=issuer.key,
        not_before=not_before,
        not_after=not_after,
        ca=True,
        path_length=path_length,
        eku=None,
    )
    return Issued(cert, key)


def make_leaf(
    issuer: Issued | None,
    name: str = "Test Firmware Signing",
    *,
    key_type: str = "rsa",
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    eku: Sequence[x509.ObjectIdentifier] | None = (CODE_SIGNING,),
) -> Issued:
    """An end-entity signing certificate (keyUsage digitalSignature, EKU ``eku``).

    ``issuer=None`` makes it self-signed (for pinning tests); ``eku=None`` leaves out the
    extendedKeyUsage extension altogether.
    """
    key = make_key(key_type)
    cert = _build(
        subject=name,
        public_key=key.public_key(),
        issuer=issuer,
        signing_key=issuer.key if issuer is not None else key,
        not_before=not_before,
        not_after=not_after,
        ca=False,
        path_length=None,
        eku=eku,
    )
    return Issued(cert, key)


def sign_detached(
    data_or_path: bytes | str | os.PathLike[str],
    leaf_key: PrivateKey,
    leaf_cert: x509.Certificate,
    extra_certs: Sequence[x509.Certificate] = (),
    hash: hashes.HashAlgorithm | None = None,
    *,
    pem: bool = False,
    rsa_padding: padding.PSS | padding.PKCS1v15 | None = None,
) -> bytes:
    """A detached CMS signature (DER, or PEM "BEGIN PKCS7" with ``pem=True``) over the data.

    Made by cryptography's ``PKCS7SignatureBuilder``: signed attributes (contentType, signingTime,
    messageDigest, SMIMECapabilities) are present, the leaf and ``extra_certs`` are embedded.
    ``hash`` defaults to SHA-256 (the builder also takes SHA-224/384/512, not SHA-1).
    A path is read whole: this is a test helper, not the production code path.
    """
    if isinstance(data_or_path, bytes):
        data = data_or_path
    else:
        with open(data_or_path, "rb") as fh:
            data = fh.read()
    builder = pkcs7.PKCS7SignatureBuilder().set_data(data)
    builder = builder.add_signer(
        leaf_cert, leaf_key, hash or hashes.SHA256(), rsa_padding=rsa_padding
    )
    for cert in extra_certs:
        builder = builder.add_certificate(cert)
    encoding = serialization.Encoding.PEM if pem else serialization.Encoding.DER
    return builder.sign(encoding, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary])


def _build(
    *,
    subject: str,
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
    issuer: Issued | None,
    signing_key: PrivateKey,
    not_before: datetime | None,
    not_after: datetime | None,
    ca: bool,
    path_length: int | None,
    eku: Sequence[x509.ObjectIdentifier] | None,
) -> x509.Certificate:
    now = datetime.now(UTC)
    subject_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "RMS-FUS Test"),
            x509.NameAttribute(NameOID.COMMON_NAME, subject),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(public_key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject_name)
        .issuer_name(issuer.cert.subject if issuer is not None else subject_name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - timedelta(days=1))
        .not_valid_after(not_after or now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    return builder.sign(signing_key, hashes.SHA256())
