"""SAP (RFC 2974): header bytes, IPv4/IPv6 origins, deletion, compression, signatures, refusals
and fuzzing."""

from __future__ import annotations

import contextlib
import ipaddress
import zlib

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from fus.multicast import sap
from fus.multicast.errors import DecodeError
from fus.multicast.sap import MessageType, SapPacket

SDP = b"v=0\r\no=dvb-fus 2890844526 2890842807 IN IP4 10.47.16.5\r\ns=dvb-update\r\nt=0 0\r\n"


def test_header_bytes_of_the_clause_9_1_example():
    packet = SapPacket(ipaddress.IPv4Address("10.47.16.5"), 0x1234, SDP)
    data = sap.encode(packet)
    # V=1, A=0 (IPv4), R=0, T=0, E=0, C=0 -> 0x20; no auth; hash; origin; "application/sdp\0".
    assert data[:8] == bytes.fromhex("20001234") + bytes([10, 47, 16, 5])
    assert data[8:24] == b"application/sdp\0"
    assert data[24:] == SDP


def test_ipv6_origin_and_deletion_flags():
    packet = SapPacket(
        ipaddress.IPv6Address("2001:db8::5"), 7, SDP, message_type=MessageType.DELETE
    )
    data = sap.encode(packet)
    assert data[0] == 0x20 | 0x10 | 0x04
    assert data[4:20] == ipaddress.IPv6Address("2001:db8::5").packed
    decoded = sap.decode(data)
    assert decoded == packet and decoded.is_deletion


def test_deletion_of_an_announcement_carries_its_origin_line():
    announcement = SapPacket(ipaddress.IPv4Address("10.47.16.5"), 0x1234, SDP)
    deletion = sap.deletion_of(announcement)
    data = sap.encode(deletion)
    # T=1; same msg id hash and origin; "application/sdp\0" then the o= line alone
    assert data[:8] == bytes.fromhex("24001234") + bytes([10, 47, 16, 5])
    assert data[8:] == b"application/sdp\0o=dvb-fus 2890844526 2890842807 IN IP4 10.47.16.5\r\n"
    decoded = sap.decode(data)
    assert decoded.is_deletion and decoded == deletion
    key = ed25519.Ed25519PrivateKey.generate()
    assert sap.verify(sap.sign(deletion, key), [key.public_key()]).is_deletion
    with pytest.raises(DecodeError, match="already a deletion"):
        sap.deletion_of(deletion)
    with pytest.raises(DecodeError, match="no o= line"):
        sap.deletion_of(SapPacket(announcement.origin, 1, b"v=0\r\ns=x\r\n"))


def test_payload_type_may_be_absent_when_the_payload_is_sdp():
    raw = bytes.fromhex("20000001") + bytes(4) + SDP
    assert sap.decode(raw).payload_type is None and sap.decode(raw).payload == SDP


def test_compressed_payload_is_zlib_of_type_and_payload():
    packet = SapPacket(ipaddress.IPv4Address("10.0.0.1"), 9, SDP * 10, compressed=True)
    data = sap.encode(packet)
    assert data[0] & 0x01
    assert zlib.decompress(data[8:]) == b"application/sdp\0" + SDP * 10
    assert sap.decode(data) == packet


def test_message_id_hash_follows_the_payload_and_is_never_zero():
    assert sap.message_id_hash(SDP) == sap.message_id_hash(SDP) != 0
    assert sap.message_id_hash(SDP) != sap.message_id_hash(SDP + b"a=x\r\n")


@pytest.mark.parametrize(
    "key",
    [
        ed25519.Ed25519PrivateKey.generate(),
        ec.generate_private_key(ec.SECP256R1()),
        rsa.generate_private_key(65537, 2048),
    ],
    ids=["ed25519", "ecdsa-p256", "rsa-2048"],
)
def test_signed_announcements_verify_and_tampering_is_caught(key):
    packet = SapPacket(ipaddress.IPv4Address("10.47.16.5"), 0x4242, SDP)
    data = sap.sign(packet, key)
    assert data[1] > 0  # auth len in words
    auth = sap.decode(data).auth
    assert auth.auth_type == sap.AuthType.SIGNATURE and (data[8] >> 5) == 1
    assert (8 + 4 * data[1]) % 4 == 0
    assert sap.verify(data, [key.public_key()]) == sap.decode(data)
    # any bit of header, origin or payload changed -> refused
    for index in (3, 5, len(data) - 1):
        tampered = bytearray(data)
        tampered[index] ^= 0x01
        with pytest.raises(sap.SignatureError):
            sap.verify(bytes(tampered), [key.public_key()])
    other = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(sap.SignatureError, match="unknown key"):
        sap.verify(data, [other.public_key()])


def test_unsigned_packet_fails_verification():
    data = sap.encode(SapPacket(ipaddress.IPv4Address("10.0.0.1"), 1, SDP))
    with pytest.raises(sap.SignatureError, match="not signed"):
        sap.verify(data, [])


def test_signed_compressed_ipv6_packet():
    key = ed25519.Ed25519PrivateKey.generate()
    packet = SapPacket(ipaddress.IPv6Address("ff0e::1"), 3, SDP, compressed=True)
    assert sap.verify(sap.sign(packet, key), [key.public_key()]).payload == SDP


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b"\x20\x00", "header"),
        (bytes.fromhex("40000001") + bytes(4) + SDP, "V"),
        (bytes.fromhex("22000001") + bytes(4) + SDP, "E"),
        (bytes.fromhex("30000001") + bytes(8), "originating source"),
        (bytes.fromhex("20050001") + bytes(4) + SDP[:8], "auth len"),
        (bytes.fromhex("21000001") + bytes(4) + b"not zlib", "C"),
        (bytes.fromhex("20000001") + bytes(4) + b"garbage without nul", "payload type"),
    ],
)
def test_bad_packets_name_the_field(data, field):
    with pytest.raises(DecodeError) as caught:
        sap.decode(data)
    assert caught.value.field == field and caught.value.protocol == "SAP"


def test_zip_bomb_is_refused():
    bomb = zlib.compress(b"application/sdp\0v=0\r\n" + b"a" * (2 * sap.MAX_PAYLOAD))
    with pytest.raises(DecodeError, match="more than"):
        sap.decode(bytes.fromhex("21000001") + bytes(4) + bomb)


packets = st.builds(
    SapPacket,
    origin=st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)),
    msg_id_hash=st.integers(0, 0xFFFF),
    payload=st.binary(max_size=600).map(lambda b: b"v=0\r\n" + b),
    message_type=st.sampled_from(MessageType),
    payload_type=st.one_of(st.none(), st.just(sap.SDP_PAYLOAD_TYPE)),
    auth=st.one_of(
        st.none(),
        st.builds(sap.AuthData, auth_type=st.integers(0, 15), subheader=st.binary(max_size=40)),
    ),
    compressed=st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(packets)
def test_round_trip(packet):
    assert sap.decode(sap.encode(packet)) == packet


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_fuzzed_bytes_decode_or_raise_decode_error(data):
    with contextlib.suppress(DecodeError):
        sap.decode(data)


@settings(max_examples=200, deadline=None)
@given(packets, st.data())
def test_corrupted_packets_decode_or_raise_decode_error(packet, data):
    raw = bytearray(sap.encode(packet))
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    with contextlib.suppress(DecodeError):
        sap.decode(bytes(raw))
