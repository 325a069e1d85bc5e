"""FLUTE (RFC 3926 / RFC 6726): LCT header bits, TSI/TOI lengths, EXT_FDT, EXT_FTI, Compact No-Code
blocking, FDT instances (schema-valid), and a receiver that joins late and survives loss."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from fus.multicast import flute
from fus.multicast.errors import DecodeError
from fus.multicast.flute import FdtFile, FdtInstance, Fti, LctPacket

FDT_XSD = Path("/work/shared/specs/flute/fdt-rfc6726.xsd")


def sender_file(toi: int, data: bytes, name: str = "fw.bin") -> flute.SenderFile:
    return flute.SenderFile(
        toi,
        name,
        len(data),
        hashlib.md5(data, usedforsecurity=False).digest(),
        lambda: io.BytesIO(data),
    )


def test_lct_header_bits():
    packet = LctPacket(
        tsi=142, toi=3, sbn=2, esi=9, payload=b"abc", close_object=True, tsi_length=2, toi_length=6
    )
    data = flute.encode_packet(packet)
    first = int.from_bytes(data[:2], "big")
    assert first >> 12 == 1  # V
    assert (first >> 10) & 3 == 0  # C: 32-bit CCI
    assert (first >> 7) & 1 == 0 and (first >> 5) & 3 == 1 and (first >> 4) & 1 == 1  # S O H
    assert first & 1 == 1  # B
    assert data[2] * 4 == 4 + 4 + 2 + 6  # HDR_LEN
    assert data[3] == 0  # codepoint = FEC Encoding ID 0
    assert data[8:10] == (142).to_bytes(2, "big") and data[10:16] == (3).to_bytes(6, "big")
    assert data[16:20] == bytes.fromhex("00020009") and data[20:] == b"abc"
    assert flute.decode_packet(data) == packet


def test_ext_fdt_and_ext_fti_layout():
    fti = Fti(
        transfer_length=0x010203040506, encoding_symbol_length=1400, max_source_block_length=64
    )
    packet = LctPacket(
        tsi=1, toi=0, sbn=0, esi=0, payload=b"x", fti=fti, fdt_instance_id=0xABCDE, flute_version=2
    )
    data = flute.encode_packet(packet)
    ext = data[16 : 16 + 20]
    assert ext[:4] == bytes.fromhex("c02abcde")  # HET 192, V=2, FDT Instance ID
    assert ext[4:6] == bytes([64, 4])  # HET 64, HEL 4
    assert ext[6:12] == bytes.fromhex("010203040506")
    assert ext[12:14] == b"\0\0" and ext[14:16] == (1400).to_bytes(2, "big")
    assert ext[16:20] == (64).to_bytes(4, "big")
    assert flute.decode_packet(data) == packet


@pytest.mark.parametrize(
    ("tsi_len", "toi_len"), [(0, 0), (4, 4), (4, 8), (4, 12), (2, 2), (6, 6), (2, 10), (6, 14)]
)
def test_every_tsi_toi_length(tsi_len, toi_len):
    tsi = (1 << (8 * tsi_len)) - 1 if tsi_len else 0
    toi = (1 << (8 * toi_len)) - 1 if toi_len else 0
    packet = LctPacket(
        tsi=tsi, toi=toi, sbn=1, esi=1, payload=b"", tsi_length=tsi_len, toi_length=toi_len
    )
    assert flute.decode_packet(flute.encode_packet(packet)) == packet


def test_tsi_toi_lengths_must_share_the_half_word_flag():
    with pytest.raises(DecodeError, match="half-word"):
        flute.encode_packet(LctPacket(1, 1, 0, 0, b"", tsi_length=2, toi_length=4))


def test_blocking_algorithm_of_rfc_3926_section_9_1():
    # L=10 symbols, B=4: N=3 blocks, A_large=4, A_small=3, I=1 -> [4, 3, 3]
    assert flute.blocks(10 * 100, 100, 4) == [4, 3, 3]
    assert flute.blocks(1, 100, 4) == [1]
    assert flute.blocks(0, 100, 4) == []
    assert sum(flute.blocks(123456, 1400, 64)) == -(-123456 // 1400)


def test_fdt_instance_is_valid_against_rfc_6726_schema():
    fdt = FdtInstance(
        expires=3_900_000_000,
        files=(
            FdtFile(
                "fw.bin",
                1,
                10,
                10,
                "application/octet-stream",
                None,
                hashlib.md5(b"0123456789", usedforsecurity=False).digest(),
            ),
            FdtFile("http://fus.example/fw2.bin", 2, 5, 5),
        ),
        complete=True,
        fec_encoding_id=0,
        encoding_symbol_length=1400,
        max_source_block_length=64,
    )
    xml = flute.write_fdt(fdt, version=2)
    schema = etree.XMLSchema(etree.parse(str(FDT_XSD)))
    schema.assertValid(etree.fromstring(xml))
    assert flute.parse_fdt(xml) == fdt
    assert (
        b'Content-MD5="'
        + base64.b64encode(hashlib.md5(b"0123456789", usedforsecurity=False).digest())
        in xml
    )
    v1 = flute.write_fdt(fdt, version=1)
    assert b"urn:IETF:metadata:2005:FLUTE:FDT" in v1 and flute.parse_fdt(v1) == fdt


@pytest.mark.parametrize(
    ("xml", "field"),
    [
        (b"<FDT-Instance Expires='1'/>", "FDT-Instance"),
        (
            b"<FDT-Instance><File TOI='1' Content-Location='a'/></FDT-Instance>",
            "FDT-Instance @Expires",
        ),
        (
            b"<FDT-Instance Expires='1'><File TOI='0' Content-Location='a'/></FDT-Instance>",
            "File @TOI",
        ),
        (b"<FDT-Instance Expires='1'><File TOI='1'/></FDT-Instance>", "File @Content-Location"),
        (
            b"<FDT-Instance Expires='1'><File TOI='1' Content-Location='a' Content-MD5='xx'/></FDT-Instance>",
            "File @Content-MD5",
        ),
        (
            b"<FDT-Instance Expires='1'><File TOI='1' Content-Location='a' Content-Length='-1'/></FDT-Instance>",
            "File @Content-Length",
        ),
        (b"<!DOCTYPE x [<!ENTITY e 'x'>]><FDT-Instance Expires='1'/>", "FDT-Instance"),
        (b"<FDT-Instance Expires='1'>", "FDT-Instance"),
        (b"<Other Expires='1'/>", "FDT-Instance"),
    ],
)
def test_bad_fdt_instances_name_the_attribute(xml, field):
    with pytest.raises(DecodeError) as caught:
        flute.parse_fdt(xml)
    assert caught.value.field == field


@pytest.mark.parametrize("version", [1, 2])
def test_session_cycle_delivers_every_file(version):
    a, b = random.Random(1).randbytes(300_000), b"tiny"
    session = flute.Session(
        tsi=7, files=(sender_file(1, a, "a.bin"), sender_file(2, b, "b.sig")), version=version
    )
    receiver = flute.Receiver(7)
    got = flute.receive_all(receiver, session.cycle())
    assert {(f.content_location, f.data) for f in got} == {("a.bin", a), ("b.sig", b)}
    assert all(f.md5_checked for f in got)
    # every packet fits an Ethernet MTU
    assert max(len(p) for p in session.cycle()) <= 1472


@pytest.mark.parametrize(("tsi_length", "toi_length"), [(4, 4), (4, 8), (2, 2), (6, 6)])
def test_data_packets_are_byte_identical_to_encoding_each_header(tsi_length, toi_length):
    """The sender's precomputed header prefix gives exactly what `encode_packet` gives."""
    data = random.Random(4).randbytes(1400 * 130 + 77)  # three source blocks, a short last symbol
    session = flute.Session(
        tsi=0x1234, files=(), symbol_length=1400, tsi_length=tsi_length, toi_length=toi_length
    )
    f = sender_file(0x0BCD, data)
    expected = []
    for sbn, count in enumerate(flute.blocks(len(data), 1400, 64)):
        for esi in range(count):
            offset = (sum(flute.blocks(len(data), 1400, 64)[:sbn]) + esi) * 1400
            expected.append(
                flute.encode_packet(
                    LctPacket(
                        0x1234,
                        0x0BCD,
                        sbn,
                        esi,
                        data[offset : offset + 1400],
                        tsi_length=tsi_length,
                        toi_length=toi_length,
                    )
                )
            )
    assert list(session.file_packets(f)) == expected


def test_receiver_joining_mid_cycle_with_5_percent_loss_completes_on_later_cycles():
    data = random.Random(2).randbytes(500_000)
    session = flute.Session(tsi=9, files=(sender_file(5, data),), fdt_every=50)
    packets = list(session.cycle())
    rng = random.Random(3)
    receiver = flute.Receiver(9)
    got = []
    stream = packets[len(packets) // 2 :] + packets * 5  # joins half-way through a cycle
    for p in stream:
        if rng.random() < 0.05:
            continue
        got += receiver.feed(p)
        if got:
            break
    assert [f.data for f in got] == [data]
    assert receiver.stats["files"] == 1


def test_a_new_fdt_instance_replaces_the_file():
    old, new = b"old" * 1000, b"new" * 1200
    receiver = flute.Receiver(1)
    got = flute.receive_all(receiver, flute.Session(tsi=1, files=(sender_file(1, old),)).cycle())
    assert [f.data for f in got] == [old]
    again = flute.receive_all(receiver, flute.Session(tsi=1, files=(sender_file(1, old),)).cycle())
    assert again == []  # the same content is not delivered twice
    session = flute.Session(tsi=1, files=(sender_file(1, new),), fdt_instance_id=1)
    assert [f.data for f in flute.receive_all(receiver, session.cycle())] == [new]


def test_corrupt_content_fails_md5_and_is_counted():
    data = b"firmware" * 500
    bad = flute.SenderFile(
        1,
        "fw.bin",
        len(data),
        hashlib.md5(b"other", usedforsecurity=False).digest(),
        lambda: io.BytesIO(data),
    )
    receiver = flute.Receiver(1)
    assert flute.receive_all(receiver, flute.Session(tsi=1, files=(bad,)).cycle()) == []
    assert receiver.stats["md5"] == 1


def test_other_sessions_and_garbage_are_counted():
    receiver = flute.Receiver(1)
    receiver.feed(flute.encode_packet(LctPacket(2, 1, 0, 0, b"x")))
    receiver.feed(b"\x10")
    receiver.feed(flute.encode_packet(LctPacket(1, 1, 0, 0, b"x", codepoint=0))[:5])
    assert receiver.stats["other_tsi"] == 1 and receiver.stats["malformed"] == 2


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b"\x20\x00\x04\x00" + bytes(12), "V"),
        (b"\x10\x00\x01\x00" + bytes(12), "HDR_LEN"),
        (b"\x10\x00\x09\x00" + bytes(12), "HDR_LEN"),
        (b"\x10\xa0\x05\x05" + bytes(20), "Codepoint"),
        (b"\x10\xa0\x05\x00" + bytes(12) + bytes([64, 0, 0, 0]) + bytes(4), "HEL"),
    ],
)
def test_bad_lct_headers_name_the_field(data, field):
    with pytest.raises(DecodeError) as caught:
        flute.decode_packet(data)
    assert caught.value.field == field


lct_packets = st.builds(
    LctPacket,
    tsi=st.integers(0, 0xFFFFFFFF),
    toi=st.integers(0, 0xFFFFFFFF),
    sbn=st.integers(0, 0xFFFF),
    esi=st.integers(0, 0xFFFF),
    payload=st.binary(max_size=100),
    close_session=st.booleans(),
    close_object=st.booleans(),
    sct=st.none() | st.integers(0, 0xFFFFFFFF),
    ert=st.none() | st.integers(0, 0xFFFFFFFF),
    fti=st.none()
    | st.builds(Fti, st.integers(0, 2**48 - 1), st.integers(1, 0xFFFF), st.integers(1, 0xFFFFFFFF)),
    fdt_instance_id=st.none() | st.integers(0, 2**20 - 1),
    flute_version=st.sampled_from([1, 2]),
    other_extensions=st.lists(
        st.tuples(st.integers(2, 63), st.binary(min_size=2, max_size=2)), max_size=2
    ).map(tuple),
).map(
    lambda p: (
        p
        if p.fdt_instance_id is not None
        else LctPacket(**{**{s: getattr(p, s) for s in LctPacket.__slots__}, "flute_version": None})
    )
)


@settings(max_examples=300, deadline=None)
@given(lct_packets)
def test_lct_round_trip(packet):
    assert flute.decode_packet(flute.encode_packet(packet)) == packet


@settings(max_examples=500, deadline=None)
@given(st.lists(st.binary(max_size=60), max_size=20))
def test_fuzzed_datagrams_never_raise(datagrams):
    receiver = flute.Receiver()
    for d in datagrams:
        receiver.feed(d)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_fuzzed_fdt_parses_or_raises_decode_error(data):
    with contextlib.suppress(DecodeError):
        flute.parse_fdt(b"<FDT-Instance Expires='1'>" + data)
