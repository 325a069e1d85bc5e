"""DVBSTP (TS 102 034 clause 5.4.1): every header field, sections, versions, CRC, provider ids,
GZIP where allowed, reassembly under loss/reordering, and hostile packets."""

from __future__ import annotations

import gzip
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fus.multicast import dvbstp
from fus.multicast.crc import crc32_mpeg2
from fus.multicast.dvbstp import Compression, Packet, Segment, SegmentAssembler
from fus.multicast.errors import DecodeError


def test_crc32_mpeg2_check_value():
    assert crc32_mpeg2(b"123456789") == 0x0376E6E7
    data = b"any section"
    assert crc32_mpeg2(data + crc32_mpeg2(data).to_bytes(4, "big")) == 0


def test_header_fields_bit_by_bit():
    packet = Packet(
        payload_id=0xB2,
        segment_id=0x1234,
        segment_version=0x56,
        section_number=0x789,
        last_section_number=0xABC,
        total_segment_size=0x0DEF01,
        payload=b"xy",
        compression=Compression.NONE,
        provider_id=0x0A000001,
        private_header=b"PRIV",
    )
    data = dvbstp.encode_packet(packet)
    assert data.hex() == (
        "000def01"  # Ver 00, Resrv 000, Enc 00, C 0, Total_Segment_Size
        "b2"
        "1234"
        "56"  # Payload ID, Segment ID, Segment_Version
        "789abc"
        "11"  # Section 0x789, Last 0xABC, Compr 000, P 1, HDR_LEN 1
        "0a000001" + b"PRIV".hex() + b"xy".hex()  # ServiceProviderID
    )
    assert dvbstp.decode_packet(data) == packet


def test_crc_flag_and_trailer_on_the_last_section_only():
    segment = Segment(0xB2, 1, 0, b"<x/>" * 1000)
    packets = dvbstp.segment_packets(segment, max_section_size=600)
    decoded = [dvbstp.decode_packet(p) for p in packets]
    assert [p.section_number for p in decoded] == list(range(len(packets)))
    assert all(
        p.crc is None and not (raw[0] & 1) for p, raw in zip(decoded[:-1], packets, strict=False)
    )
    assert packets[-1][0] & 0x01 and decoded[-1].crc == crc32_mpeg2(segment.data)
    assert all(len(p) <= 600 for p in packets)
    assert {p.total_segment_size for p in decoded} == {4000}
    with pytest.raises(DecodeError, match="last section"):
        dvbstp.encode_packet(Packet(0xB2, 1, 0, 0, 1, 4, b"abcd", crc=1))


def test_stub_provider_id_is_the_oui():
    assert dvbstp.provider_id_for_oui("00D09D") == 0x0000D09D


def test_gzip_only_for_payload_ids_7_and_8_and_never_the_stub():
    data = b"<ServiceDiscovery/>" * 100
    with pytest.raises(DecodeError, match="0x07 and 0x08"):
        dvbstp.segment_packets(Segment(0xB2, 1, 0, data, Compression.GZIP))
    with pytest.raises(DecodeError, match="stub"):
        dvbstp.segment_packets(Segment(0x08, 0, 0, data, Compression.GZIP))
    packets = dvbstp.segment_packets(Segment(0x08, 1, 4, data, Compression.GZIP))
    first = dvbstp.decode_packet(packets[0])
    assert first.compression == Compression.GZIP
    assert first.total_segment_size == len(
        b"".join(dvbstp.decode_packet(p).payload for p in packets)
    )
    asm = SegmentAssembler()
    assert [asm.feed(p) for p in packets][-1] == Segment(0x08, 1, 4, data, Compression.GZIP)


def test_reassembly_in_any_order_with_repeats_and_a_version_change():
    v1 = Segment(0xB2, 9, 1, bytes(range(256)) * 30)
    v2 = Segment(0xB2, 9, 2, b"new" * 2000)
    asm = SegmentAssembler()
    p1 = dvbstp.segment_packets(v1, max_section_size=500)
    shuffled = p1[:]
    random.Random(4).shuffle(shuffled)
    done = [s for s in map(asm.feed, shuffled) if s]
    assert done == [v1]
    assert [asm.feed(p) for p in p1] == [None] * len(p1)  # a repeat of version 1
    assert asm.stats["repeats"] == len(p1)
    p2 = dvbstp.segment_packets(v2, max_section_size=500)
    # the version changes mid-segment: a half-collected version 2 then version 3 starts
    for p in p2[: len(p2) // 2]:
        asm.feed(p)
    v3 = Segment(0xB2, 9, 3, b"newer" * 1000)
    assert [s for s in map(asm.feed, dvbstp.segment_packets(v3, max_section_size=500)) if s] == [v3]
    assert asm.stats["version_changes"] == 1
    assert asm.segments[(None, 0xB2, 9)] == v3


def test_losses_complete_on_a_later_cycle():
    segment = Segment(0xB2, 3, 7, b"metadata" * 3000, provider_id=0x0A000001)
    packets = dvbstp.segment_packets(segment)
    asm = SegmentAssembler()
    rng = random.Random(1)
    got = []
    for _cycle in range(10):
        for p in packets:
            if rng.random() > 0.2 and (s := asm.feed(p)) is not None:
                got.append(s)
        if got:
            break
    assert got == [segment]


def test_filters_by_payload_id_and_provider():
    stub = dvbstp.segment_packets(
        Segment(0x08, 0, 1, b"[_DVB-STUB-HEADER-v1.0]", provider_id=0xD09D)
    )
    other = dvbstp.segment_packets(
        Segment(0x08, 0, 1, b"[_DVB-STUB-HEADER-v1.0]", provider_id=0xD09E)
    )
    asm = SegmentAssembler(payload_ids={0x08}, provider_id=0xD09D, provider_mask=0xFFFFFF)
    assert asm.feed(other[0]) is None and asm.stats["filtered"] == 1
    assert asm.feed(stub[0]).provider_id == 0xD09D
    asm2 = SegmentAssembler(payload_ids={0xB2})
    assert asm2.feed(stub[0]) is None and asm2.stats["filtered"] == 1


def test_bad_crc_is_dropped_and_counted():
    packets = dvbstp.segment_packets(Segment(0xB2, 1, 1, b"a" * 3000))
    last = bytearray(packets[-1])
    last[20] ^= 0xFF
    asm = SegmentAssembler()
    assert [asm.feed(p) for p in [*packets[:-1], bytes(last)]] == [None] * len(packets)
    assert asm.stats["crc"] == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b"\0" * 5, "header"),
        (bytes.fromhex("40000004b2000101000000000000abcd"), "Ver"),
        (bytes.fromhex("08000004b2000101000000000000abcd"), "Resrv"),
        (bytes.fromhex("02000004b2000101000000000000abcd"), "Enc"),
        (bytes.fromhex("00000004b2000101002001000000abcd"), "Section_Number"),
        (bytes.fromhex("01000004b2000101000001000000abcd"), "C"),
        (bytes.fromhex("00000004b2000101000000020000abcd"), "HDR_LEN"),
        (bytes.fromhex("00000001b2000101000000000000abcd"), "Total_Segment_Size"),
        (bytes.fromhex("00000004b200010100000010"), "ServiceProviderID"),
    ],
)
def test_malformed_packets_name_the_field(data, field):
    with pytest.raises(DecodeError) as caught:
        dvbstp.decode_packet(data)
    assert caught.value.field == field


def test_gzip_bomb_is_counted_not_inflated():
    body = gzip.compress(b"\0" * (4 * 1024 * 1024))
    asm = SegmentAssembler(max_segment=1024 * 1024)
    packets = dvbstp.segment_packets(Segment(0x08, 2, 1, b""), crc=False)
    raw = dvbstp.decode_packet(packets[0])
    bomb = dvbstp.encode_packet(
        Packet(
            0x08, 2, 1, 0, 0, len(body), body, compression=Compression.GZIP, crc=crc32_mpeg2(body)
        )
    )
    assert raw.total_segment_size == 0
    assert asm.feed(bomb) is None and asm.stats["too_large"] == 1


segments = st.builds(
    Segment,
    payload_id=st.sampled_from([0x08, 0xB2, 0x01, 0xF0]),
    segment_id=st.integers(1, 0xFFFF),
    version=st.integers(0, 255),
    data=st.binary(max_size=5000),
    compression=st.just(Compression.NONE),
    provider_id=st.none() | st.integers(0, 0xFFFFFFFF),
)


@settings(max_examples=200, deadline=None)
@given(segments, st.integers(100, 1452), st.booleans(), st.randoms(use_true_random=False))
def test_segment_round_trip_in_any_order(segment, size, crc, rng):
    packets = dvbstp.segment_packets(segment, max_section_size=size, crc=crc)
    rng.shuffle(packets)
    asm = SegmentAssembler()
    done = [s for s in map(asm.feed, packets) if s]
    assert done == [segment]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=20))
def test_fuzzed_datagrams_never_raise(datagrams):
    asm = SegmentAssembler()
    for d in datagrams:
        asm.feed(d)
    assert asm.stats["packets"] == len(datagrams)
