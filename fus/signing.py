"""Detached CMS (PKCS#7) signature verification for firmware images.

Pure module: stdlib, cryptography and asn1crypto only. cryptography has no CMS signature
verification (in any version), so asn1crypto parses the SignedData and cryptography checks the
signature values and the certificate links.

What is checked, in this order, for each SignerInfo (every failure is a ``SignatureError`` with a
stable ``code`` and a reason written for the manufacturer who uploaded the signature):

1. the input is at most ``MAX_SIGNATURE_SIZE`` bytes of DER, or PEM labelled ``PKCS7`` or ``CMS``,
   holding a ContentInfo of type signedData ("malformed" otherwise; no parser exception escapes);
2. the signature is detached: encapContentInfo carries no content ("not_detached") and its type is
   id-data;
3. digestAlgorithm is SHA-256, SHA-384 or SHA-512 ("unsupported_algorithm"; SHA-1 and SHA-224 are
   refused);
4. the signer certificate is found by issuerAndSerialNumber or subjectKeyIdentifier among the
   certificates in the SignedData, or else among the trust anchors, so that a pinned signing
   certificate need not be shipped in the signature ("no_signer_certificate");
5. signed attributes are present, with exactly one contentType (id-data) and one messageDigest, and
   at most one signingTime ("malformed");
6. the signature over the DER of the signed attributes (re-tagged as SET OF, 0x31) verifies with
   the signer's key: RSA PKCS#1 v1.5 (keys >= 2048 bits), RSA-PSS with the parameters of the
   signatureAlgorithm, or ECDSA on P-256/P-384/P-521 ("bad_signature"; other key types or a
   signatureAlgorithm whose hash differs from digestAlgorithm: "unsupported_algorithm");
7. a certification path leads from the signer certificate through certificates shipped in the
   SignedData to one of the trust anchors, at most ``MAX_PATH_LENGTH`` certificates long. An anchor
   is matched by its exact DER, so it may be a root CA, an intermediate CA or the signing
   certificate itself (pinning). Each link: issuer name equals subject name and the issuer's key
   verifies the child's signature; every issuing certificate, anchors included, has
   basicConstraints cA=TRUE, respects pathLenConstraint, and has keyCertSign if it has keyUsage; a
   critical extension this module does not understand (e.g. nameConstraints) rejects the path
   ("untrusted_chain"). Every certificate of the path, anchor included, must be valid at
   ``at_time`` ("expired" / "not_yet_valid", naming the certificate and its dates);
8. the signer certificate's keyUsage, if present, includes digitalSignature, and its
   extendedKeyUsage, if present, includes codeSigning ("no_code_signing_usage"). A signer
   certificate without extendedKeyUsage is accepted: the extension is optional in RFC 5280 and
   trust is already limited to the anchors the manufacturer registered; anyExtendedKeyUsage
   alone is not enough;
9. last, because it is the expensive step, the messageDigest equals the digest of the content,
   read in ``CHUNK_SIZE`` pieces or taken from ``known_digests`` ("digest_mismatch").

Several SignerInfos: the signature is accepted when at least one of them passes every check, and
the first one that does is reported. When none does, the error reported is "digest_mismatch" if
some signer passed everything but the content digest (a trusted signer says this image is not the
one signed), otherwise the error of the first SignerInfo.

Not done: no revocation checking (no CRL, no OCSP), no certificate policies or name constraints
processing, no timestamp tokens (signingTime is reported, never trusted for validity: certificates
are checked at ``at_time``), no countersignatures, and the content is hashed as raw bytes (no
S/MIME text canonicalisation).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

from asn1crypto import cms as asn1_cms
from asn1crypto import core as asn1_core
from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

__all__ = [
    "CHUNK_SIZE",
    "CODES",
    "MAX_CERTIFICATE_FILE_SIZE",
    "MAX_PATH_LENGTH",
    "MAX_SIGNATURE_SIZE",
    "SignatureError",
    "VerifiedSignature",
    "load_certificates",
    "verify_detached_signature",
]

MAX_SIGNATURE_SIZE = 1024 * 1024
MAX_CERTIFICATE_FILE_SIZE = 1024 * 1024
CHUNK_SIZE = 1024 * 1024
MAX_PATH_LENGTH = 6  # certificates in a path, signer and anchor included
_MAX_CANDIDATE_PATHS = 16

CODES = frozenset(
    {
        "malformed",
        "not_detached",
        "unsupported_algorithm",
        "no_signer_certificate",
        "bad_signature",
        "untrusted_chain",
        "expired",
        "not_yet_valid",
        "no_code_signing_usage",
        "digest_mismatch",
    }
)

# What asn1crypto (and a broken certificate in cryptography) raise on bad input.
_PARSE_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    OverflowError,
    RecursionError,
    UnsupportedAlgorithm,
    x509.InvalidVersion,
)

_DIGESTS: dict[str, tuple[Callable[[], Any], Callable[[], hashes.HashAlgorithm]]] = {
    "sha256": (hashlib.sha256, hashes.SHA256),
    "sha384": (hashlib.sha384, hashes.SHA384),
    "sha512": (hashlib.sha512, hashes.SHA512),
}
_DIGEST_LABELS = {"sha256": "SHA-256", "sha384": "SHA-384", "sha512": "SHA-512"}

# signatureAlgorithm (asn1crypto name) -> (key family, hash named by the algorithm or None)
_SIGNATURE_ALGORITHMS: dict[str, tuple[str, str | None]] = {
    "rsassa_pkcs1v15": ("rsa", None),
    "sha1_rsa": ("rsa", "sha1"),
    "sha224_rsa": ("rsa", "sha224"),
    "sha256_rsa": ("rsa", "sha256"),
    "sha384_rsa": ("rsa", "sha384"),
    "sha512_rsa": ("rsa", "sha512"),
    "rsassa_pss": ("rsa", None),
    "ecdsa": ("ec", None),
    "sha1_ecdsa": ("ec", "sha1"),
    "sha224_ecdsa": ("ec", "sha224"),
    "sha256_ecdsa": ("ec", "sha256"),
    "sha384_ecdsa": ("ec", "sha384"),
    "sha512_ecdsa": ("ec", "sha512"),
}
_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
_MIN_RSA_BITS = 2048

# Extensions whose criticality we honour (processed here, or harmless to accept unprocessed).
_UNDERSTOOD_EXTENSIONS = frozenset(
    {
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.CERTIFICATE_POLICIES,
    }
)


@dataclass(frozen=True, slots=True)
class VerifiedSignature:
    """The outcome of a successful verification."""

    signer_subject: str  # RFC 4514 string of the signer certificate subject
    signer_serial: str  # hex, lower case
    anchor_subject: str  # RFC 4514 subject of the trust anchor the path ended at
    digest_algorithm: str  # "sha256", "sha384" or "sha512"
    signing_time: datetime | None  # signingTime signed attribute (aware, UTC), if present


class SignatureError(ValueError):
    """Why a signature was refused: ``code`` is stable for programs, ``reason`` is for people."""

    code: str
    reason: str

    def __init__(self, code: str, reason: str) -> None:
        if code not in CODES:
            raise ValueError(f"unknown SignatureError code {code!r}")
        super().__init__(reason)
        self.code = code
        self.reason = reason

    def __repr__(self) -> str:
        return f"SignatureError(code={self.code!r}, reason={self.reason!r})"


# --------------------------------------------------------------------------------------------
# Certificates


def load_certificates(pem_or_der: bytes) -> list[x509.Certificate]:
    """One or more PEM certificates, or a single DER certificate.

    Raises ``SignatureError(code="malformed")`` for anything else (empty, too large, a PEM file
    without a CERTIFICATE block, undecodable DER or base64). Text and other PEM blocks around the
    certificates are ignored.
    """
    if not isinstance(pem_or_der, bytes | bytearray | memoryview):
        raise TypeError("load_certificates() takes bytes")
    data = bytes(pem_or_der)
    if not data.strip():
        raise SignatureError("malformed", "The certificate file is empty.")
    if len(data) > MAX_CERTIFICATE_FILE_SIZE:
        raise SignatureError(
            "malformed",
            f"The certificate file is larger than {MAX_CERTIFICATE_FILE_SIZE // 1024} KiB; "
            "it cannot be a certificate.",
        )
    if b"-----BEGIN" not in data:
        return [_load_der_certificate(data, "The certificate file")]
    blocks = _PEM_CERTIFICATE.findall(data)
    if not blocks:
        raise SignatureError(
            "malformed",
            "The PEM file contains no certificate (no '-----BEGIN CERTIFICATE-----' block).",
        )
    certificates = []
    for number, block in enumerate(blocks, start=1):
        try:
            der = base64.b64decode(b"".join(block.split()), validate=True)
        except binascii.Error:
            raise SignatureError(
                "malformed", f"Certificate {number} of the PEM file has damaged base64."
            ) from None
        certificates.append(_load_der_certificate(der, f"Certificate {number} of the PEM file"))
    return certificates


_PEM_CERTIFICATE = re.compile(
    rb"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.DOTALL
)


def _load_der_certificate(der: bytes, what: str) -> x509.Certificate:
    """A DER certificate, fully parsed now, so that a damaged field cannot surface later."""
    try:
        # cryptography only warns about a non-positive serial number (RFC 5280 forbids it);
        # asn1crypto sees it first so the refusal is clean and no warning is raised.
        if asn1_x509.Certificate.load(der, strict=True).serial_number <= 0:
            raise SignatureError(
                "malformed", f"{what} has a zero or negative serial number (RFC 5280 forbids it)."
            )
        certificate = x509.load_der_x509_certificate(der)
        certificate.extensions  # noqa: B018 - parse now: a broken extension fails here
        certificate.subject.rfc4514_string()
        certificate.issuer.rfc4514_string()
        certificate.public_bytes(Encoding.DER)
    except SignatureError:
        raise
    except _PARSE_ERRORS:
        raise SignatureError(
            "malformed", f"{what} is not a readable X.509 certificate (DER or PEM)."
        ) from None
    return certificate


def _subject(cert: x509.Certificate) -> str:
    try:
        text = cert.subject.rfc4514_string()
    except _PARSE_ERRORS:
        return "(unreadable subject)"
    return text or "(empty subject)"


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:  # a GeneralizedTime without "Z": DER requires Z, so read it as UTC
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def _extension(cert: x509.Certificate, ext_type: type[Any]) -> Any:
    """The value of an extension, or None; a damaged extension is a "malformed" signature."""
    try:
        return cert.extensions.get_extension_for_class(ext_type).value
    except x509.ExtensionNotFound:
        return None
    except _PARSE_ERRORS as exc:
        raise SignatureError(
            "malformed",
            f"The certificate '{_subject(cert)}' has a damaged extension ({exc}).",
        ) from None


# --------------------------------------------------------------------------------------------
# Parsing: everything asn1crypto touches happens here, inside one guard.


@dataclass(frozen=True, slots=True)
class _PssParameters:
    hash_algorithm: str
    mgf: str
    mgf_hash: str | None
    salt_length: int
    trailer_field: Any


@dataclass(frozen=True, slots=True)
class _Signer:
    number: int  # 1-based, for messages
    sid_issuer: Any  # asn1crypto Name, with sid_serial; or None
    sid_serial: int | None
    sid_key_id: bytes | None
    digest_algorithm: str  # asn1crypto name, or a dotted OID when unknown
    signature_algorithm: str
    pss: _PssParameters | None
    signature: bytes
    signed_attrs_der: bytes | None  # SET OF encoding, as signed
    attributes: Mapping[str, tuple[tuple[Any, ...], ...]]  # type -> values of each occurrence


@dataclass(frozen=True, slots=True)
class _SignedData:
    detached: bool
    content_type: str
    certificates: tuple[x509.Certificate, ...]
    signers: tuple[_Signer, ...]


_KNOWN_ATTRIBUTES = ("content_type", "message_digest", "signing_time")


def _unarmor(signature: bytes) -> bytes:
    stripped = signature.strip()
    if not stripped.startswith(b"-----BEGIN"):
        return signature
    try:
        label, _headers, der = asn1_pem.unarmor(stripped)
    except _PARSE_ERRORS:
        raise SignatureError(
            "malformed", "The PEM signature file is damaged (bad armour or base64)."
        ) from None
    if label not in ("PKCS7", "CMS"):
        raise SignatureError(
            "malformed",
            f"The PEM file holds a '{label}', not a signature: expected "
            "'-----BEGIN PKCS7-----' or '-----BEGIN CMS-----'.",
        )
    return bytes(der)


def _der_set_of(contents: bytes) -> bytes:
    length = len(contents)
    if length < 0x80:
        header = bytes([0x31, length])
    else:
        octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
        header = bytes([0x31, 0x80 | len(octets)]) + octets
    return header + contents


def _parse_signer(number: int, info: Any) -> _Signer:
    sid = info["sid"]
    sid_issuer = sid_serial = sid_key_id = None
    if sid.name == "issuer_and_serial_number":
        sid_issuer = sid.chosen["issuer"]
        sid_issuer.hashable  # noqa: B018 - normalise now, inside the parse guard
        sid_serial = int(sid.chosen["serial_number"].native)
    else:
        sid_key_id = bytes(sid.chosen.native)

    signature_algorithm = info["signature_algorithm"]
    algorithm_name = str(signature_algorithm["algorithm"].native)
    pss = None
    if algorithm_name == "rsassa_pss":
        params = signature_algorithm["parameters"]
        if not isinstance(params, asn1_core.Void):
            mgf = params["mask_gen_algorithm"]
            mgf_params = mgf["parameters"]
            pss = _PssParameters(
                hash_algorithm=str(params["hash_algorithm"]["algorithm"].native),
                mgf=str(mgf["algorithm"].native),
                mgf_hash=(
                    None
                    if isinstance(mgf_params, asn1_core.Void)
                    else str(mgf_params["algorithm"].native)
                ),
                salt_length=int(params["salt_length"].native),
                trailer_field=params["trailer_field"].native,
            )

    signed_attrs = info["signed_attrs"]
    signed_attrs_der = None
    attributes: dict[str, list[tuple[Any, ...]]] = {}
    if not isinstance(signed_attrs, asn1_core.Void):
        signed_attrs_der = _der_set_of(bytes(signed_attrs.contents))
        for attribute in signed_attrs:
            kind = attribute["type"].native
            if kind in _KNOWN_ATTRIBUTES:
                attributes.setdefault(kind, []).append(tuple(attribute["values"].native))

    return _Signer(
        number=number,
        sid_issuer=sid_issuer,
        sid_serial=sid_serial,
        sid_key_id=sid_key_id,
        digest_algorithm=str(info["digest_algorithm"]["algorithm"].native),
        signature_algorithm=algorithm_name,
        pss=pss,
        signature=bytes(info["signature"].native),
        signed_attrs_der=signed_attrs_der,
        attributes={kind: tuple(values) for kind, values in attributes.items()},
    )


def _parse(signature: bytes) -> _SignedData:
    if not isinstance(signature, bytes | bytearray | memoryview):
        raise TypeError("the signature must be bytes")
    signature = bytes(signature)
    if not signature.strip():
        raise SignatureError("malformed", "The signature file is empty.")
    if len(signature) > MAX_SIGNATURE_SIZE:
        raise SignatureError(
            "malformed",
            f"The signature file is larger than {MAX_SIGNATURE_SIZE // 1024} KiB; a detached "
            "signature is a few KiB. Was the image itself uploaded as the signature?",
        )
    der = _unarmor(signature)
    try:
        info = asn1_cms.ContentInfo.load(der, strict=True)
        kind = info["content_type"].native
        if kind != "signed_data":
            raise SignatureError(
                "malformed",
                f"The file is a CMS '{kind}' structure, not a signature (signedData).",
            )
        signed_data = info["content"]
        encap = signed_data["encap_content_info"]
        detached = isinstance(encap["content"], asn1_core.Void)
        content_type = str(encap["content_type"].native)

        certificates: list[x509.Certificate] = []
        certificate_set = signed_data["certificates"]
        if not isinstance(certificate_set, asn1_core.Void):
            for choice in certificate_set:
                if choice.name != "certificate":
                    continue  # attribute certificates and "other" formats play no part here
                certificates.append(
                    _load_der_certificate(
                        choice.chosen.dump(),
                        f"Certificate {len(certificates) + 1} embedded in the signature",
                    )
                )

        signers = tuple(
            _parse_signer(number, signer_info)
            for number, signer_info in enumerate(signed_data["signer_infos"], start=1)
        )
    except SignatureError:
        raise
    except _PARSE_ERRORS:
        raise SignatureError(
            "malformed",
            "The signature file could not be read: it is not a DER or PEM CMS/PKCS#7 "
            "signature, or it is truncated or damaged.",
        ) from None
    return _SignedData(
        detached=detached,
        content_type=content_type,
        certificates=tuple(certificates),
        signers=signers,
    )


# --------------------------------------------------------------------------------------------
# Per-signer checks


@dataclass(frozen=True, slots=True)
class _Candidate:
    """A signer that passed every check but the content digest."""

    signer: _Signer
    digest_algorithm: str
    message_digest: bytes
    result: VerifiedSignature


def _supported_digest(name: str, what: str) -> str:
    if name in _DIGESTS:
        return name
    if name == "sha1":
        raise SignatureError(
            "unsupported_algorithm",
            f"The {what} uses SHA-1, which is no longer accepted; sign with SHA-256, "
            "SHA-384 or SHA-512.",
        )
    raise SignatureError(
        "unsupported_algorithm",
        f"The {what} uses the hash algorithm '{name}'; only SHA-256, SHA-384 and SHA-512 "
        "are accepted.",
    )


def _sid_matches(signer: _Signer, cert: x509.Certificate) -> bool:
    if signer.sid_key_id is not None:
        ski = _extension(cert, x509.SubjectKeyIdentifier)
        return ski is not None and hmac.compare_digest(ski.digest, signer.sid_key_id)
    if cert.serial_number != signer.sid_serial:
        return False
    try:
        return bool(asn1_x509.Name.load(cert.issuer.public_bytes()) == signer.sid_issuer)
    except _PARSE_ERRORS:
        return False


def _find_signer_certificate(
    signer: _Signer,
    certificates: Sequence[x509.Certificate],
    trust_anchors: Sequence[x509.Certificate],
) -> x509.Certificate:
    for cert in (*certificates, *trust_anchors):
        if _sid_matches(signer, cert):
            return cert
    if signer.sid_key_id is not None:
        wanted = f"subject key identifier {signer.sid_key_id.hex()}"
    else:
        wanted = f"serial number {signer.sid_serial:x}"
    raise SignatureError(
        "no_signer_certificate",
        f"The signer certificate ({wanted}) is neither included in the signature nor one of "
        "the registered certificates; sign so that the signing certificate is embedded.",
    )


def _single_attribute(signer: _Signer, kind: str, label: str, *, required: bool) -> Any:
    occurrences = signer.attributes.get(kind, ())
    values = [value for occurrence in occurrences for value in occurrence]
    if not values and not required:
        return None
    if len(occurrences) != 1 or len(values) != 1:
        problem = "is missing" if not values else "appears more than once"
        raise SignatureError(
            "malformed", f"The {label} signed attribute of the signature {problem}."
        )
    return values[0]


def _hash_for(name: str) -> hashes.HashAlgorithm:
    return _DIGESTS[name][1]()


def _check_signature(signer: _Signer, cert: x509.Certificate, digest_name: str) -> None:
    """Verify the signature over the signed attributes with the signer certificate's key."""
    algorithm = signer.signature_algorithm
    if algorithm not in _SIGNATURE_ALGORITHMS:
        raise SignatureError(
            "unsupported_algorithm",
            f"The signature algorithm '{algorithm}' is not supported; use RSA (PKCS#1 v1.5 or "
            "PSS) or ECDSA.",
        )
    family, named_hash = _SIGNATURE_ALGORITHMS[algorithm]
    if named_hash is not None:
        _supported_digest(named_hash, "signature algorithm")
        if named_hash != digest_name:
            raise SignatureError(
                "unsupported_algorithm",
                f"The signature algorithm '{algorithm}' does not use the digest algorithm of "
                f"the signature ({_DIGEST_LABELS[digest_name]}); mixed hashes are refused.",
            )
    try:
        key = cert.public_key()
    except _PARSE_ERRORS:
        raise SignatureError(
            "unsupported_algorithm",
            f"The public key of the signer certificate '{_subject(cert)}' is of an "
            "unsupported type.",
        ) from None
    data = signer.signed_attrs_der
    assert data is not None  # checked by the caller

    if family == "rsa":
        if not isinstance(key, rsa.RSAPublicKey):
            raise SignatureError(
                "bad_signature",
                f"The signature is an RSA signature but the signer certificate "
                f"'{_subject(cert)}' does not hold an RSA key.",
            )
        if key.key_size < _MIN_RSA_BITS:
            raise SignatureError(
                "unsupported_algorithm",
                f"The signer's RSA key has {key.key_size} bits; at least {_MIN_RSA_BITS} "
                "are required.",
            )
        pad: padding.AsymmetricPadding = (
            _pss_padding(signer, digest_name) if algorithm == "rsassa_pss" else padding.PKCS1v15()
        )
    else:
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise SignatureError(
                "bad_signature",
                f"The signature is an ECDSA signature but the signer certificate "
                f"'{_subject(cert)}' does not hold an EC key.",
            )
        if key.curve.name not in _CURVES:
            raise SignatureError(
                "unsupported_algorithm",
                f"The signer's EC key is on the curve '{key.curve.name}'; only P-256, P-384 "
                "and P-521 are accepted.",
            )
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signer.signature, data, pad, _hash_for(digest_name))
        else:
            key.verify(signer.signature, data, ec.ECDSA(_hash_for(digest_name)))
    except (InvalidSignature, ValueError):
        raise SignatureError(
            "bad_signature",
            f"The signature value does not verify with the key of the signer certificate "
            f"'{_subject(cert)}': the signature is damaged, or it was not made with that "
            "certificate's key.",
        ) from None


def _pss_padding(signer: _Signer, digest_name: str) -> padding.PSS:
    pss = signer.pss
    if pss is None:
        raise SignatureError(
            "unsupported_algorithm",
            "The RSA-PSS signature does not state its parameters; they are required.",
        )
    _supported_digest(pss.hash_algorithm, "RSA-PSS signature")
    if pss.hash_algorithm != digest_name:
        raise SignatureError(
            "unsupported_algorithm",
            "The RSA-PSS hash differs from the digest algorithm of the signature; mixed hashes "
            "are refused.",
        )
    if pss.mgf != "mgf1" or pss.mgf_hash is None:
        raise SignatureError(
            "unsupported_algorithm",
            f"The RSA-PSS mask generation function '{pss.mgf}' is not supported (only MGF1).",
        )
    _supported_digest(pss.mgf_hash, "RSA-PSS mask generation function")
    if pss.trailer_field not in ("trailer_field_bc", 1) or pss.salt_length < 0:
        raise SignatureError(
            "unsupported_algorithm", "The RSA-PSS parameters (trailer or salt) are invalid."
        )
    return padding.PSS(mgf=padding.MGF1(_hash_for(pss.mgf_hash)), salt_length=pss.salt_length)


def _check_validity(cert: x509.Certificate, role: str, at_time: datetime) -> None:
    not_before = cert.not_valid_before_utc
    not_after = cert.not_valid_after_utc
    dates = f"valid from {_when(not_before)} to {_when(not_after)}"
    if at_time > not_after:
        raise SignatureError(
            "expired",
            f"The {role} '{_subject(cert)}' has expired ({dates}; checked at {_when(at_time)}).",
        )
    if at_time < not_before:
        raise SignatureError(
            "not_yet_valid",
            f"The {role} '{_subject(cert)}' is not valid yet ({dates}; checked at "
            f"{_when(at_time)}).",
        )


def _check_critical_extensions(cert: x509.Certificate, role: str) -> None:
    try:
        extensions = list(cert.extensions)
    except _PARSE_ERRORS as exc:
        raise SignatureError(
            "malformed", f"The {role} '{_subject(cert)}' has a damaged extension ({exc})."
        ) from None
    for extension in extensions:
        if extension.critical and extension.oid not in _UNDERSTOOD_EXTENSIONS:
            name = getattr(extension.oid, "_name", None) or extension.oid.dotted_string
            raise SignatureError(
                "untrusted_chain",
                f"The {role} '{_subject(cert)}' has a critical '{name}' extension that this "
                "portal cannot check, so the certificate chain is refused.",
            )


def _candidate_paths(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    trust_anchors: Sequence[x509.Certificate],
) -> list[list[x509.Certificate]]:
    """Every path (up to a limit) from ``leaf`` to an anchor whose links verify cryptographically.

    Anchors are tried before shipped intermediates, so the shortest way to an anchor comes first.
    """
    anchor_ders = {_der(anchor) for anchor in trust_anchors}
    pool = [*trust_anchors, *(c for c in intermediates if _der(c) not in anchor_ders)]
    paths: list[list[x509.Certificate]] = []

    def extend(path: list[x509.Certificate], ders: frozenset[bytes]) -> None:
        current = path[-1]
        if _der(current) in anchor_ders:
            paths.append(path)
            return
        if len(path) >= MAX_PATH_LENGTH:
            return
        for parent in pool:
            if len(paths) >= _MAX_CANDIDATE_PATHS:
                return
            parent_der = _der(parent)
            if parent_der in ders:
                continue
            try:
                if parent.subject != current.issuer:
                    continue
            except _PARSE_ERRORS:
                continue
            try:
                current.verify_directly_issued_by(parent)
            except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
                continue
            extend([*path, parent], ders | {parent_der})

    extend([leaf], frozenset({_der(leaf)}))
    return paths


def _check_path(path: Sequence[x509.Certificate], at_time: datetime) -> None:
    """Constraints and validity of one candidate path (signer first, anchor last)."""
    for position, cert in enumerate(path):
        role = (
            "signer certificate"
            if position == 0
            else "trust anchor"
            if position == len(path) - 1
            else "intermediate certificate"
        )
        _check_critical_extensions(cert, role)
        if position == 0:
            continue
        constraints = _extension(cert, x509.BasicConstraints)
        if constraints is None or not constraints.ca:
            raise SignatureError(
                "untrusted_chain",
                f"The {role} '{_subject(cert)}' issued another certificate of the chain but is "
                "not a CA certificate (basicConstraints cA is not set).",
            )
        below = sum(1 for c in path[1:position] if c.subject != c.issuer)
        if constraints.path_length is not None and below > constraints.path_length:
            raise SignatureError(
                "untrusted_chain",
                f"The CA certificate '{_subject(cert)}' allows {constraints.path_length} "
                f"intermediate CA(s) below it, the chain has {below}.",
            )
        usage = _extension(cert, x509.KeyUsage)
        if usage is not None and not usage.key_cert_sign:
            raise SignatureError(
                "untrusted_chain",
                f"The CA certificate '{_subject(cert)}' may not sign certificates "
                "(keyUsage lacks keyCertSign).",
            )
    for position, cert in enumerate(path):
        role = (
            "signer certificate"
            if position == 0
            else "trust anchor"
            if position == len(path) - 1
            else "intermediate certificate"
        )
        _check_validity(cert, role, at_time)


def _check_chain(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    trust_anchors: Sequence[x509.Certificate],
    at_time: datetime,
) -> x509.Certificate:
    """The trust anchor a valid path from ``leaf`` ends at."""
    paths = _candidate_paths(leaf, intermediates, trust_anchors)
    if not paths:
        raise SignatureError(
            "untrusted_chain",
            f"The signer '{_subject(leaf)}' is not trusted by this manufacturer's registered "
            "certificates: no certificate chain leads from it to any of them. Was the image "
            "signed with another manufacturer's key, or is an intermediate CA certificate "
            "missing from the signature?",
        )
    first_error: SignatureError | None = None
    for path in paths:
        try:
            _check_path(path, at_time)
        except SignatureError as exc:
            first_error = first_error or exc
            continue
        return path[-1]
    assert first_error is not None
    raise first_error


def _check_leaf_usage(cert: x509.Certificate) -> None:
    usage = _extension(cert, x509.KeyUsage)
    if usage is not None and not usage.digital_signature:
        raise SignatureError(
            "no_code_signing_usage",
            f"The signer certificate '{_subject(cert)}' may not make digital signatures "
            "(keyUsage lacks digitalSignature).",
        )
    extended = _extension(cert, x509.ExtendedKeyUsage)
    if extended is not None and ExtendedKeyUsageOID.CODE_SIGNING not in extended:
        raise SignatureError(
            "no_code_signing_usage",
            f"The signer certificate '{_subject(cert)}' is not a code-signing certificate: its "
            "extendedKeyUsage does not include codeSigning (1.3.6.1.5.5.7.3.3).",
        )


def _check_signer(
    signer: _Signer,
    signed_data: _SignedData,
    trust_anchors: Sequence[x509.Certificate],
    at_time: datetime,
) -> _Candidate:
    digest_name = _supported_digest(signer.digest_algorithm, "signature")
    cert = _find_signer_certificate(signer, signed_data.certificates, trust_anchors)
    if signer.signed_attrs_der is None:
        raise SignatureError(
            "malformed",
            "The signature has no signed attributes; they are required (do not sign with "
            "'openssl cms -noattr').",
        )
    content_type = _single_attribute(signer, "content_type", "contentType", required=True)
    if content_type != "data":
        raise SignatureError(
            "malformed",
            f"The contentType signed attribute is '{content_type}'; it must be 'data'.",
        )
    message_digest = _single_attribute(signer, "message_digest", "messageDigest", required=True)
    signing_time = _single_attribute(signer, "signing_time", "signingTime", required=False)
    if not isinstance(message_digest, bytes) or (
        signing_time is not None and not isinstance(signing_time, datetime)
    ):
        raise SignatureError("malformed", "A signed attribute of the signature is damaged.")

    _check_signature(signer, cert, digest_name)
    anchor = _check_chain(cert, signed_data.certificates, trust_anchors, at_time)
    _check_leaf_usage(cert)
    return _Candidate(
        signer=signer,
        digest_algorithm=digest_name,
        message_digest=message_digest,
        result=VerifiedSignature(
            signer_subject=cert.subject.rfc4514_string(),
            signer_serial=f"{cert.serial_number:x}",
            anchor_subject=anchor.subject.rfc4514_string(),
            digest_algorithm=digest_name,
            signing_time=_as_utc(signing_time) if signing_time is not None else None,
        ),
    )


# --------------------------------------------------------------------------------------------
# Content digests


def _normalise_digest_name(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")


def _content_digests(
    names: Iterable[str],
    content: BinaryIO | str | os.PathLike[str],
    known_digests: Mapping[str, bytes] | None,
) -> dict[str, bytes]:
    """Digest of the content for each algorithm name, streaming it once for all that are unknown."""
    known = {
        _normalise_digest_name(name): bytes(value) for name, value in (known_digests or {}).items()
    }
    result: dict[str, bytes] = {}
    missing = []
    for name in sorted(set(names)):
        if name in known:
            size = _DIGESTS[name][0]().digest_size
            if len(known[name]) != size:
                raise ValueError(f"known_digests[{name!r}] must be {size} bytes")
            result[name] = known[name]
        else:
            missing.append(name)
    if not missing:
        return result

    hashers = {name: _DIGESTS[name][0]() for name in missing}
    if isinstance(content, str | os.PathLike):
        with open(content, "rb") as stream:
            _feed(stream, hashers.values())
    else:
        _feed(content, hashers.values())
    result.update({name: hasher.digest() for name, hasher in hashers.items()})
    return result


def _feed(stream: BinaryIO, hashers: Iterable[Any]) -> None:
    """Read ``stream`` from its current position to its end into the hashers, one chunk at a time."""
    hashers = list(hashers)
    readinto = getattr(stream, "readinto", None)
    if readinto is not None:
        buffer = bytearray(CHUNK_SIZE)
        with memoryview(buffer) as view:
            while True:
                count = readinto(buffer)
                if not count:
                    break
                for hasher in hashers:
                    hasher.update(view[:count])
        return
    while True:
        chunk = stream.read(CHUNK_SIZE)
        if not chunk:
            break
        for hasher in hashers:
            hasher.update(chunk)


# --------------------------------------------------------------------------------------------
# Entry point


def verify_detached_signature(
    signature: bytes,
    content: BinaryIO | str | os.PathLike[str],
    trust_anchors: Sequence[x509.Certificate],
    *,
    at_time: datetime | None = None,
    known_digests: Mapping[str, bytes] | None = None,
) -> VerifiedSignature:
    """Verify a detached CMS signature over ``content`` against the manufacturer's anchors.

    ``signature``: DER, or PEM ("-----BEGIN PKCS7-----" / "-----BEGIN CMS-----").
    ``content``: a path, or a binary file object read from its current position to its end in
    ``CHUNK_SIZE`` pieces (never whole). It is only read when some needed digest is not in
    ``known_digests`` (e.g. ``{"sha256": ...}`` computed while the upload was received; names are
    case-insensitive, "SHA-256" works too), and only after every cheaper check has passed.
    ``at_time``: an aware datetime at which certificates must be valid (default: now).

    Raises ``SignatureError`` with a code from ``CODES``; ``OSError`` when the content cannot be
    read; ``ValueError`` for a naive ``at_time`` or a known digest of the wrong length.
    """
    if at_time is None:
        at_time = datetime.now(UTC)
    elif at_time.tzinfo is None or at_time.utcoffset() is None:
        raise ValueError("at_time must be timezone-aware")
    signed_data = _parse(signature)
    if not signed_data.detached:
        raise SignatureError(
            "not_detached",
            "The signature embeds the signed content; upload a detached signature instead "
            "(e.g. 'openssl cms -sign -binary' without '-nodetach').",
        )
    if signed_data.content_type != "data":
        raise SignatureError(
            "malformed",
            f"The signature is over content of type '{signed_data.content_type}'; it must be "
            "'data'.",
        )
    if not signed_data.signers:
        raise SignatureError("malformed", "The signature contains no signer.")
    anchors = list(trust_anchors)
    if not anchors:
        raise SignatureError(
            "untrusted_chain",
            "No signing certificate is registered for this manufacturer, so no signature can "
            "be trusted.",
        )

    errors: list[SignatureError] = []
    candidates: list[_Candidate] = []
    for signer in signed_data.signers:
        try:
            candidates.append(_check_signer(signer, signed_data, anchors, at_time))
        except SignatureError as exc:
            errors.append(exc)

    if candidates:
        digests = _content_digests((c.digest_algorithm for c in candidates), content, known_digests)
        for candidate in candidates:
            if hmac.compare_digest(digests[candidate.digest_algorithm], candidate.message_digest):
                return candidate.result
        label = _DIGEST_LABELS[candidates[0].digest_algorithm]
        raise SignatureError(
            "digest_mismatch",
            f"The image does not match the signature: its {label} digest differs from the one "
            "that was signed. The image was altered (or damaged in transfer), or the signature "
            "belongs to another file.",
        )
    if len(errors) == 1:
        raise errors[0]
    first = errors[0]
    raise SignatureError(
        first.code,
        f"None of the {len(errors)} signers of the signature is acceptable. "
        f"Signer 1: {first.reason}",
    )
