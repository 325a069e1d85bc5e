"""fus.signing: detached CMS signature verification. No database needed."""

from __future__ import annotations

import functools
import hashlib
import io
import os
import shutil
import subprocess
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import cms as asn1_cms
from asn1crypto import pem as asn1_pem
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.serialization import pkcs7
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fus import signing
from fus.signing import (
    SignatureError,
    VerifiedSignature,
    load_certificates,
    verify_detached_signature,
)
from tests.fus import pki

IMAGE = b"RMS-FUS firmware image\n" + bytes(range(256)) * 64


def verify(sig: bytes, data: bytes, anchors, **kwargs) -> VerifiedSignature:
    return verify_detached_signature(sig, io.BytesIO(data), anchors, **kwargs)


def refused(sig: bytes, data: bytes, anchors, **kwargs) -> SignatureError:
    with pytest.raises(SignatureError) as info:
        verify(sig, data, anchors, **kwargs)
    return info.value


@functools.cache
def manufacturer(key_type: str = "rsa") -> tuple[pki.Issued, pki.Issued, pki.Issued]:
    """(root, intermediate, leaf) of one manufacturer; cached so hypothesis can reuse them."""
    root = pki.make_root(f"Acme Root CA {key_type}", key_type=key_type)
    inter = pki.make_intermediate(root, f"Acme Firmware CA {key_type}", key_type=key_type)
    leaf = pki.make_leaf(inter, f"Acme Firmware Signing {key_type}", key_type=key_type)
    return root, inter, leaf


def resign(
    sig: bytes,
    key,
    *,
    digest: str = "sha256",
    message_digest: bytes | None = None,
    sign: bool = True,
) -> bytes:
    """Rewrite the first SignerInfo: digest algorithm (and the messageDigest to match the IMAGE,
    unless given), then re-sign the signed attributes with ``key`` (or, with ``sign=False``, keep
    the old signature value). Makes signatures the PKCS7SignatureBuilder refuses to make."""
    info = asn1_cms.ContentInfo.load(sig)
    signed_data = info["content"]
    signer = signed_data["signer_infos"][0]
    if message_digest is None:
        message_digest = hashlib.new(digest, IMAGE).digest()
    attrs = []
    for attr in signer["signed_attrs"]:
        if attr["type"].native == "message_digest":
            attr = asn1_cms.CMSAttribute({"type": "message_digest", "values": [message_digest]})
        attrs.append(attr)
    signed_attrs = asn1_cms.CMSAttributes(attrs)
    to_sign = signed_attrs.dump(force=True)
    assert to_sign[0] == 0x31
    signer["signed_attrs"] = signed_attrs
    signer["digest_algorithm"] = {"algorithm": digest}
    signed_data["digest_algorithms"] = [{"algorithm": digest}]
    hash_algorithm = {"sha1": hashes.SHA1, "sha256": hashes.SHA256}[digest]()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        signer["signature_algorithm"] = {"algorithm": f"{digest}_ecdsa"}
        value = key.sign(to_sign, ec.ECDSA(hash_algorithm))
    else:
        signer["signature_algorithm"] = {"algorithm": f"{digest}_rsa"}
        value = key.sign(to_sign, padding.PKCS1v15(), hash_algorithm)
    if sign:
        signer["signature"] = value
    return info.dump(force=True)


# --------------------------------------------------------------------------------------------
# Good signatures


@pytest.mark.parametrize("key_type", ["rsa", "ec", "p384", "p521"])
def test_good_signature_directly_under_root(key_type):
    root = pki.make_root(key_type=key_type)
    leaf = pki.make_leaf(root, "Acme Signing", key_type=key_type)
    sig = pki.sign_detached(IMAGE, leaf.key, leaf.cert)

    result = verify(sig, IMAGE, [root.cert])

    assert result.signer_subject == "CN=Acme Signing,O=RMS-FUS Test"
    assert result.signer_serial == f"{leaf.cert.serial_number:x}"
    assert result.anchor_subject == "CN=Test Root CA,O=RMS-FUS Test"
    assert result.digest_algorithm == "sha256"
    assert result.signing_time is not None
    assert result.signing_time.tzinfo is not None
    assert abs(result.signing_time - datetime.now(UTC)) < timedelta(minutes=5)


@pytest.mark.parametrize(
    ("hash_algorithm", "name"), [(hashes.SHA384(), "sha384"), (hashes.SHA512(), "sha512")]
)
def test_sha384_and_sha512_digests(hash_algorithm, name):
    root, inter, leaf = manufacturer("ec")
    sig = pki.sign_detached(IMAGE, leaf.key, leaf.cert, [inter.cert], hash_algorithm)
    assert verify(sig, IMAGE, [root.cert]).digest_algorithm == name
    assert refused(sig, IMAGE + b"!", [root.cert]).code == "digest_mismatch"


def test_rsa_pss_signature():
    root, inter, leaf = manufacturer("rsa")
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
    sig = pki.sign_detached(IMAGE, leaf.key, leaf.cert, [inter.cert], rsa_padding=pss)
    algorithm = asn1_cms.ContentInfo.load(sig)["content"]["signer_infos"][0]["signature_algorithm"]
    assert algorithm["algorithm"].native == "rsassa_pss"
    assert verify(sig, IMAGE, [root.cert]).signer_subject == leaf.cert.subject.rfc4514_string()


def test_intermediate_shipped_in_the_signature():
    root, inter, leaf = manufacturer("rsa")
    sig = pki.sign_detached(IMAGE, leaf.key, leaf.cert, [inter.cert])
    assert verify(sig, IMAGE, [root.cert]).anchor_subject == root.cert.subject.rfc4514_string()


def test_missing_intermediate_is_untrusted():
    root, _inter, leaf = manufacturer("rsa")
    sig = pki.sign_detached(IMAGE, leaf.key, leaf.cert)
    error = refused(sig, IMAGE, [root.cert])
    assert error.code == "untrusted_chain"


def test_pinned_leaf_as_anchor():
    _root, inter, leaf = manufacturer("rsa")
    sig = pki.sign_detached(IMAGE, leaf.key, leaf.cert, [inter.cert])
    result = verify(sig, IMAGE, [leaf.cert])
    assert result.anchor_subject == result.signer_subject


def test_pinned_self_signed_leaf():
    leaf = pki.make_leaf(None, "Acme Self-Signed Signing", key_type="ec")
    sig = pki.sign_detached(IMAGE, leaf.key, leaf.cert)
    assert (
        verify(sig, IMAGE, [leaf.cert]).anchor_subject
        == "CN=Acme Self-Signed Signing,O=RMS-FUS Test"
    )
    # Not pinned, it is just a self-signed certificate nobody trusts.
    assert refused(sig, IMAGE, [pki.make_root().cert]).code == "untrusted_chain"


def test_pinned_intermediate_as_anchor():
    _root, inter, leaf = manufacturer("ec")
    sig = pki.sign_detached(IMAGE, leaf.key, leaf.cert, [inter.cert])
    assert verify(sig, IMAGE, [inter.cert]).anchor_subject == inter.cert.subject.rfc4514_string()


def test_signer_certificate_found_among_anchors_when_not_embedded():
    _root, _inter, leaf = manufacturer("ec")
    sig = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(IMAGE)
        .add_signer(leaf.cert, leaf.key, hashes.SHA256())
        .sign(
            serialization.Encoding.DER,
            [
                pkcs7.PKCS7Options.DetachedSignature,
                pkcs7.PKCS7Options.Binary,
                pkcs7.PKCS7Options.NoCerts,
            ],
        )
    )
    assert verify(sig, IMAGE, [leaf.cert]).signer_subject == leaf.cert.subject.rfc4514_string()
    root, _, _ = manufacturer("ec")
    error = refused(sig, IMAGE, [root.cert])
    assert error.code == "no_signer_certificate"
    assert f"{leaf.cert.serial_number:x}" in error.reason


def test_leaf_without_extended_key_usage_is_accepted():
    root = pki.make_root(key_type="ec")
    leaf = pki.make_leaf(root, key_type="ec", eku=None)
    sig = pki.sign_detached(IMAGE, leaf.key, leaf.cert)
    assert verify(sig, IMAGE, [root.cert]).digest_algorithm == "sha256"


def test_several_signers_one_trusted_is_enough():
    root_a, inter_a, leaf_a = manufacturer("ec")
    root_b, inter_b, leaf_b = manufacturer("rsa")
    sig = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(IMAGE)
        .add_signer(leaf_b.cert, leaf_b.key, hashes.SHA256())
        .add_signer(leaf_a.cert, leaf_a.key, hashes.SHA384())
        .add_certificate(inter_a.cert)
        .add_certificate(inter_b.cert)
        .sign(
            serialization.Encoding.DER,
            [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary],
        )
    )
    result = verify(sig, IMAGE, [root_a.cert])
    assert result.signer_subject == leaf_a.cert.subject.rfc4514_string()
    assert result.digest_algorithm == "sha384"
    assert verify(sig, IMAGE, [root_b.cert]).digest_algorithm == "sha256"

    error = refused(sig, IMAGE, [pki.make_root().cert])
    assert error.code == "untrusted_chain"
    assert "None of the 2 signers" in error.reason
    assert refused(sig, IMAGE[:-1], [root_a.cert]).code == "digest_mismatch"


def test_at_time_decides_validity():
    root, inter, leaf = manufacturer("ec")
    sig = pki.sign_detached(IMAGE, leaf.key, leaf.cert, [inter.cert])
    later = datetime.now(UTC) + timedelta(days=400)
    assert refused(sig, IMAGE, [root.cert], at_time=later).code == "expired"
    with pytest.raises(ValueError, match="timezone-aware"):
        verify(sig, IMAGE, [root.cert], at_time=datetime(2026, 1, 1))


# --------------------------------------------------------------------------------------------
# Refusals


def test_tampered_image_is_digest_mismatch():
    root, inter, leaf = manufacturer("rsa")
    sig = pki.sign_detached(IMAGE, leaf.key, leaf.cert, [inter.cert])
    tampered = bytearray(IMAGE)
    tampered[1000] ^= 0x01
    error = refused(sig, bytes(tampered), [root.cert])
    assert error.code == "digest_mismatch"
    assert "image does not match the signature" in str(error)


def test_signature_by_another_manufacturers_key_is_untrusted():
    acme_root, _, _ = manufacturer("rsa")
    other_root = pki.make_root("Globex Root CA")
    other_leaf = pki.make_leaf(other_root, "Globex Firmware Signing")
    sig = pki.sign_detached(IMAGE, other_leaf.key, other_leaf.cert)
    error = refused(sig, IMAGE, [acme_root.cert])
    assert error.code == "untrusted_chain"
    assert "CN=Globex Firmware Signing" in error.reason
    assert "not trusted by this manufacturer's registered certificates" in error.reason


def test_same_subject_names_but_other_keys_are_untrusted():
    # An impostor CA with the very same name as the manufacturer's root.
    root, _, _ = manufacturer("rsa")
    impostor = pki.make_root("Acme Root CA rsa")
    leaf = pki.make_leaf(impostor, "Acme Firmware Signing rsa")
    sig = pki.sign_detached(IMAGE, leaf.key, leaf.cert, [impostor.cert])
    assert refused(sig, IMAGE, [root.cert]).code == "untrusted_chain"


def test_expired_leaf():
    now = datetime.now(UTC)
    root = pki.make_root(key_type="ec", not_before=now - timedelta(days=60))
    leaf = pki.make_leaf(
        root,
        "Old Signing",
        key_type="ec",
        not_before=now - timedelta(days=30),
        not_after=now - timedelta(days=1),
    )
    sig = pki.sign_detached(IMAGE, leaf.key, leaf.cert)
    error = refused(sig, IMAGE, [root.cert])
    assert error.code == "expired"
    assert "CN=Old Signing" in error.reason
    assert leaf.cert.not_valid_after_utc.strftime("%Y-%m-%d %H:%M:%S") in error.reason
    # ...and it was valid back then.
    assert verify(sig, IMAGE, [root.cert], at_time=now - timedelta(days=2))


def test_not_yet_valid_leaf():
    root = pki.make_root(key_type="ec")
    now = datetime.now(UTC)
    leaf = pki.make_leaf(
        root,
        "Future Signing",
        key_type="ec",
        not_before=now + timedelta(days=1),
        not_after=now + timedelta(days=30),
    )
    sig = pki.sign_detached(IMAGE, leaf.key, leaf.cert)
    error = refused(sig, IMAGE, [root.cert])
    assert error.code == "not_yet_valid"
    assert "CN=Future Signing" in error.reason
    assert leaf.cert.not_valid_before_utc.strftime("%Y-%m-%d %H:%M:%S") in error.reason


def test_expired_intermediate_is_named():
    root = pki.make_root(key_type="ec")
    now = datetime.now(UTC)
    inter = pki.make_intermediate(
        root,
        "Lapsed Firmware CA",
        key_type="ec",
        not_before=now - timedelta(days=30),
        not_after=now - timedelta(days=1),
    )
    leaf = pki.make_leaf(inter, key_type="ec")
    sig = pki.sign_detached(IMAGE, leaf.key, leaf.cert, [inter.cert])
    error = refused(sig, IMAGE, [root.cert])
    assert error.code == "expired"
    assert "intermediate certificate 'CN=Lapsed Firmware CA" in error.reason


def test_server_auth_only_leaf_is_not_for_code_signing():
    root = pki.make_root(key_type="ec")
    leaf = pki.make_leaf(root, "Web Server", key_type="ec", eku=[pki.SERVER_AUTH])
    sig = pki.sign_detached(IMAGE, leaf.key, leaf.cert)
    error = refused(sig, IMAGE, [root.cert])
    assert error.code == "no_code_signing_usage"
    assert "codeSigning" in error.reason


def test_issuer_that_is_not_a_ca_breaks_the_chain():
    root = pki.make_root(key_type="ec")
    not_a_ca = pki.make_leaf(root, "Plain Leaf", key_type="ec")
    leaf = pki.make_leaf(not_a_ca, key_type="ec")
    sig = pki.sign_detached(IMAGE, leaf.key, leaf.cert, [not_a_ca.cert])
    error = refused(sig, IMAGE, [root.cert])
    assert error.code == "untrusted_chain"
    assert "not a CA" in error.reason


def test_path_length_constraint_is_enforced():
    root = pki.make_root(key_type="ec")
    inter = pki.make_intermediate(root, "Top CA", key_type="ec", path_length=0)
    sub = pki.make_intermediate(inter, "Sub CA", key_type="ec", path_length=None)
    leaf = pki.make_leaf(sub, key_type="ec")
    sig = pki.sign_detached(IMAGE, leaf.key, leaf.cert, [sub.cert, inter.cert])
    error = refused(sig, IMAGE, [root.cert])
    assert error.code == "untrusted_chain"
    assert "CN=Top CA" in error.reason
    # Pinning the sub CA makes the over-long part irrelevant.
    assert verify(sig, IMAGE, [sub.cert]).anchor_subject == sub.cert.subject.rfc4514_string()


def test_not_detached():
    root, inter, leaf = manufacturer("ec")
    sig = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(IMAGE)
        .add_signer(leaf.cert, leaf.key, hashes.SHA256())
        .add_certificate(inter.cert)
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )
    assert refused(sig, IMAGE, [root.cert]).code == "not_detached"


def test_no_signed_attributes_is_refused():
    root, inter, leaf = manufacturer("ec")
    sig = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(IMAGE)
        .add_signer(leaf.cert, leaf.key, hashes.SHA256())
        .add_certificate(inter.cert)
        .sign(
            serialization.Encoding.DER,
            [
                pkcs7.PKCS7Options.DetachedSignature,
                pkcs7.PKCS7Options.Binary,
                pkcs7.PKCS7Options.NoAttributes,
            ],
        )
    )
    error = refused(sig, IMAGE, [root.cert])
    assert error.code == "malformed"
    assert "signed attributes" in error.reason


@pytest.mark.parametrize("key_type", ["rsa", "ec"])
def test_sha1_is_unsupported(key_type):
    root, inter, leaf = manufacturer(key_type)
    sig = pki.sign_detached(IMAGE, leaf.key, leaf.cert, [inter.cert])
    # Control: the rewriting helper makes valid signatures...
    assert verify(resign(sig, leaf.key), IMAGE, [root.cert]).digest_algorithm == "sha256"
    # ...so a genuine SHA-1 signature is refused for its algorithm alone.
    error = refused(resign(sig, leaf.key, digest="sha1"), IMAGE, [root.cert])
    assert error.code == "unsupported_algorithm"
    assert "SHA-1" in error.reason


def test_sha224_is_unsupported():
    root, inter, leaf = manufacturer("ec")
    sig = pki.sign_detached(IMAGE, leaf.key, leaf.cert, [inter.cert], hashes.SHA224())
    assert refused(sig, IMAGE, [root.cert]).code == "unsupported_algorithm"


def test_rewritten_message_digest_without_resigning_is_bad_signature():
    # An attacker swaps the image and patches messageDigest but cannot re-sign.
    root, inter, leaf = manufacturer("rsa")
    sig = pki.sign_detached(IMAGE, leaf.key, leaf.cert, [inter.cert])
    evil = b"evil firmware"
    patched = resign(sig, leaf.key, message_digest=hashlib.sha256(evil).digest(), sign=False)
    assert refused(patched, evil, [root.cert]).code == "bad_signature"


def test_signature_made_with_another_key_is_bad_signature():
    root, inter, leaf = manufacturer("ec")
    sig = pki.sign_detached(IMAGE, leaf.key, leaf.cert, [inter.cert])
    thief_key = pki.make_key("ec")
    assert refused(resign(sig, thief_key), IMAGE, [root.cert]).code == "bad_signature"


def test_pem_input_is_accepted():
    root, inter, leaf = manufacturer("rsa")
    sig_pem = pki.sign_detached(IMAGE, leaf.key, leaf.cert, [inter.cert], pem=True)
    assert sig_pem.startswith(b"-----BEGIN PKCS7-----")
    assert verify(sig_pem, IMAGE, [root.cert]).digest_algorithm == "sha256"

    der = pki.sign_detached(IMAGE, leaf.key, leaf.cert, [inter.cert])
    cms_pem = b"\n" + asn1_pem.armor("CMS", der)
    assert verify(cms_pem, IMAGE, [root.cert]).digest_algorithm == "sha256"

    error = refused(leaf.cert_pem(), IMAGE, [root.cert])
    assert error.code == "malformed"
    assert "CERTIFICATE" in error.reason


def test_oversized_and_empty_signatures_are_malformed():
    root, _, _ = manufacturer("rsa")
    too_big = b"\x30\x84" + b"\x00" * (signing.MAX_SIGNATURE_SIZE + 1)
    assert "larger than" in refused(too_big, IMAGE, [root.cert]).reason
    assert refused(b"", IMAGE, [root.cert]).code == "malformed"
    assert refused(IMAGE, IMAGE, [root.cert]).code == "malformed"


def test_no_trust_anchors_at_all():
    _root, inter, leaf = manufacturer("ec")
    sig = pki.sign_detached(IMAGE, leaf.key, leaf.cert, [inter.cert])
    assert refused(sig, IMAGE, []).code == "untrusted_chain"


# --------------------------------------------------------------------------------------------
# Content handling


class CountingReader(io.RawIOBase):
    """A file wrapper that records every read request."""

    def __init__(self, raw):
        self.raw = raw
        self.requests: list[int] = []

    def readable(self):
        return True

    def readinto(self, buffer):
        self.requests.append(len(buffer))
        return self.raw.readinto(buffer)


class ReadOnly:
    """A stream with read() only (no readinto), like some upload wrappers."""

    def __init__(self, data):
        self._io = io.BytesIO(data)
        self.requests: list[int] = []

    def read(self, size=-1):
        self.requests.append(size)
        return self._io.read(size)


def test_content_as_path_str_and_read_only_stream(tmp_path):
    root, inter, leaf = manufacturer("ec")
    sig = pki.sign_detached(IMAGE, leaf.key, leaf.cert, [inter.cert])
    image = tmp_path / "image.bin"
    image.write_bytes(IMAGE)
    assert verify_detached_signature(sig, image, [root.cert])
    assert verify_detached_signature(sig, str(image), [root.cert])
    stream = ReadOnly(IMAGE)
    assert verify_detached_signature(sig, stream, [root.cert])
    assert stream.requests and all(0 < size <= signing.CHUNK_SIZE for size in stream.requests)


def test_known_digests_skip_reading_the_content():
    root, inter, leaf = manufacturer("rsa")
    sig = pki.sign_detached(IMAGE, leaf.key, leaf.cert, [inter.cert])
    right = hashlib.sha256(IMAGE).digest()

    reader = CountingReader(io.BytesIO(IMAGE))
    result = verify_detached_signature(sig, reader, [root.cert], known_digests={"sha256": right})
    assert result.digest_algorithm == "sha256"
    assert reader.requests == []

    # The known digest is really what is compared.
    reader = CountingReader(io.BytesIO(IMAGE))
    with pytest.raises(SignatureError) as info:
        verify_detached_signature(
            sig, reader, [root.cert], known_digests={"SHA-256": hashlib.sha256(b"x").digest()}
        )
    assert info.value.code == "digest_mismatch"
    assert reader.requests == []

    # A digest for another algorithm does not help: the content is read, in bounded chunks.
    reader = CountingReader(io.BytesIO(IMAGE))
    verify_detached_signature(
        sig, reader, [root.cert], known_digests={"sha512": hashlib.sha512(IMAGE).digest()}
    )
    assert reader.requests and max(reader.requests) <= signing.CHUNK_SIZE

    with pytest.raises(ValueError, match="32 bytes"):
        verify_detached_signature(sig, reader, [root.cert], known_digests={"sha256": b"short"})


def test_content_is_not_read_when_the_signer_is_untrusted():
    _root, inter, leaf = manufacturer("rsa")
    sig = pki.sign_detached(IMAGE, leaf.key, leaf.cert, [inter.cert])
    reader = CountingReader(io.BytesIO(IMAGE))
    with pytest.raises(SignatureError):
        verify_detached_signature(sig, reader, [pki.make_root().cert])
    assert reader.requests == []


@pytest.mark.slow
def test_large_image_streams_with_bounded_memory(tmp_path):
    root, inter, leaf = manufacturer("ec")
    image = tmp_path / "big.img"
    with open(image, "wb") as fh:
        fh.truncate(50 * 1024 * 1024)
        fh.seek(-6, os.SEEK_END)
        fh.write(b"THEEND")
    sig = pki.sign_detached(image, leaf.key, leaf.cert, [inter.cert])

    tracemalloc.start()
    try:
        result = verify_detached_signature(sig, image, [root.cert])
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.digest_algorithm == "sha256"
    assert peak < 4 * 1024 * 1024, f"peak {peak} bytes"


# --------------------------------------------------------------------------------------------
# load_certificates


def test_load_certificates_pem_many_and_der():
    root, inter, leaf = manufacturer("rsa")
    assert load_certificates(root.cert_pem()) == [root.cert]
    bundle = root.cert_pem() + b"\n" + inter.cert_pem() + leaf.cert_pem()
    assert load_certificates(bundle) == [root.cert, inter.cert, leaf.cert]
    der = root.cert.public_bytes(serialization.Encoding.DER)
    assert load_certificates(der) == [root.cert]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"   \n",
        b"not a certificate",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        b"\x30\x82\x01\x00" + b"\x00" * 10,
    ],
)
def test_load_certificates_refuses_garbage(data):
    with pytest.raises(SignatureError) as info:
        load_certificates(data)
    assert info.value.code == "malformed"
    assert info.value.reason


def test_load_certificates_refuses_a_private_key():
    _root, _inter, leaf = manufacturer("ec")
    with pytest.raises(SignatureError) as info:
        load_certificates(leaf.key_pem())
    assert "no certificate" in info.value.reason


# --------------------------------------------------------------------------------------------
# OpenSSL interoperability


needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")


def _openssl_sign(tmp_path: Path, *extra: str, signer=None, inter=None) -> bytes:
    _root, default_inter, default_leaf = manufacturer("rsa")
    leaf = signer or default_leaf
    inter = inter or default_inter
    (tmp_path / "img").write_bytes(IMAGE)
    (tmp_path / "leaf.pem").write_bytes(leaf.cert_pem())
    (tmp_path / "key.pem").write_bytes(leaf.key_pem())
    (tmp_path / "inter.pem").write_bytes(inter.cert_pem())
    out = tmp_path / "sig"
    subprocess.run(
        [
            "openssl", "cms", "-sign", "-binary",
            "-in", str(tmp_path / "img"),
            "-signer", str(tmp_path / "leaf.pem"),
            "-inkey", str(tmp_path / "key.pem"),
            "-certfile", str(tmp_path / "inter.pem"),
            "-out", str(out),
            *extra,
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return out.read_bytes()


@needs_openssl
def test_openssl_made_signature_verifies(tmp_path):
    root, _, leaf = manufacturer("rsa")
    sig = _openssl_sign(tmp_path, "-outform", "DER")
    result = verify(sig, IMAGE, [root.cert])
    assert result.signer_subject == leaf.cert.subject.rfc4514_string()
    assert result.signing_time is not None
    assert refused(sig, IMAGE + b"\0", [root.cert]).code == "digest_mismatch"


@needs_openssl
def test_openssl_subject_key_identifier_pem_and_ec(tmp_path):
    root, _, _ = manufacturer("rsa")
    sig = _openssl_sign(tmp_path, "-keyid", "-outform", "PEM")
    assert sig.startswith(b"-----BEGIN CMS-----")
    assert verify(sig, IMAGE, [root.cert]).digest_algorithm == "sha256"

    ec_root, ec_inter, ec_leaf = manufacturer("p384")
    sig = _openssl_sign(
        tmp_path, "-md", "sha384", "-outform", "DER", signer=ec_leaf, inter=ec_inter
    )
    assert verify(sig, IMAGE, [ec_root.cert]).digest_algorithm == "sha384"


@needs_openssl
def test_openssl_sha1_and_noattr_are_refused(tmp_path):
    root, _, _ = manufacturer("rsa")
    sig = _openssl_sign(tmp_path, "-md", "sha1", "-outform", "DER")
    assert refused(sig, IMAGE, [root.cert]).code == "unsupported_algorithm"
    sig = _openssl_sign(tmp_path, "-noattr", "-outform", "DER")
    assert refused(sig, IMAGE, [root.cert]).code == "malformed"


@needs_openssl
def test_openssl_accepts_what_the_test_pki_makes(tmp_path):
    # Keeps tests/fus/pki.py honest: its signatures are standard CMS.
    root, inter, leaf = manufacturer("ec")
    (tmp_path / "img").write_bytes(IMAGE)
    (tmp_path / "sig.der").write_bytes(pki.sign_detached(IMAGE, leaf.key, leaf.cert, [inter.cert]))
    (tmp_path / "root.pem").write_bytes(root.cert_pem())
    subprocess.run(
        [
            "openssl", "cms", "-verify", "-binary", "-inform", "DER",
            "-in", str(tmp_path / "sig.der"), "-content", str(tmp_path / "img"),
            "-CAfile", str(tmp_path / "root.pem"), "-purpose", "any", "-out", os.devnull,
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip


# --------------------------------------------------------------------------------------------
# Fuzzing: nothing but SignatureError ever comes out


@functools.cache
def real_signatures() -> tuple[bytes, ...]:
    out = []
    for key_type in ("rsa", "ec"):
        _root, inter, leaf = manufacturer(key_type)
        out.append(pki.sign_detached(IMAGE, leaf.key, leaf.cert, [inter.cert]))
    return tuple(out)


def _anchors():
    return [manufacturer("rsa")[0].cert, manufacturer("ec")[0].cert]


def _must_only_refuse(sig: bytes) -> None:
    try:
        verify(sig, IMAGE, _anchors())
    except SignatureError as exc:
        assert exc.code in signing.CODES
        assert exc.reason


fuzz_settings = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@fuzz_settings
@given(st.binary(max_size=2048))
def test_fuzz_arbitrary_bytes(data):
    _must_only_refuse(data)
    _must_only_refuse(b"-----BEGIN PKCS7-----\n" + data + b"\n-----END PKCS7-----\n")


@fuzz_settings
@given(
    which=st.integers(min_value=0, max_value=1),
    edits=st.lists(
        st.tuples(
            st.sampled_from(["flip", "set", "truncate", "insert", "delete"]),
            st.floats(min_value=0, max_value=1, allow_nan=False),
            st.integers(min_value=0, max_value=255),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_fuzz_mutated_real_signatures(which, edits):
    sig = bytearray(real_signatures()[which])
    for op, where, value in edits:
        if not sig:
            break
        pos = min(int(where * len(sig)), len(sig) - 1)
        if op == "flip":
            sig[pos] ^= 1 << (value % 8)
        elif op == "set":
            sig[pos] = value
        elif op == "truncate":
            del sig[pos:]
        elif op == "insert":
            sig.insert(pos, value)
        else:
            del sig[pos]
    _must_only_refuse(bytes(sig))


def test_every_single_byte_flip_of_a_real_signature_is_handled():
    root_rsa = manufacturer("rsa")[0].cert
    sig = real_signatures()[1]
    codes = set()
    for pos in range(len(sig)):
        mutated = bytearray(sig)
        mutated[pos] ^= 0x80
        try:
            verify(bytes(mutated), IMAGE, [root_rsa, manufacturer("ec")[0].cert])
        except SignatureError as exc:
            codes.add(exc.code)
    # Flips land in the structure, certificates, attributes and signature value alike.
    assert {"malformed", "bad_signature"} <= codes
