"""DSM-CC data carousel (ISO/IEC 13818-6, EN 301 192, TS 102 006): sections and CRCs, DSI/DII/DDB
layouts, TS packets 7 to a datagram, PAT/PMT, and a receiver that survives loss and corruption."""

from __future__ import annotations

import contextlib
import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fus.multicast import dsmcc
from fus.multicast.crc import crc32_mpeg2
from fus.multicast.dsmcc import (
    CarouselFile,
    CompatibilityDescriptor,
    Ddb,
    Dii,
    Dsi,
    GroupInfo,
    Module,
    ModuleInfo,
    Section,
)
from fus.multicast.errors import DecodeError


def test_section_header_and_crc():
    raw = dsmcc.encode_section(
        Section(0x3C, 0x0001, b"abc", version_number=3, section_number=5, last_section_number=9)
    )
    assert raw[0] == 0x3C
    flags = int.from_bytes(raw[1:3], "big")
    assert flags >> 15 == 1 and (flags >> 14) & 1 == 0 and flags & 0x0FFF == len(raw) - 3
    assert raw[3:5] == b"\x00\x01" and raw[5] == 0xC0 | (3 << 1) | 1 and raw[6:8] == b"\x05\x09"
    assert crc32_mpeg2(raw) == 0
    assert dsmcc.decode_section(raw).payload == b"abc"
    broken = bytearray(raw)
    broken[-1] ^= 1
    with pytest.raises(DecodeError, match="CRC_32"):
        dsmcc.decode_section(bytes(broken))


def test_ddb_message_layout():
    raw = dsmcc.encode_message(
        Ddb(download_id=0x11223344, module_id=2, module_version=7, block_number=3, data=b"xy")
    )
    assert raw[:12] == bytes.fromhex("1103100311223344ff000008")
    assert raw[12:] == bytes.fromhex("000207ff0003") + b"xy"


def test_dii_and_dsi_round_trip_with_compatibility_descriptors():
    compat = CompatibilityDescriptor(
        ((0x01, 0x01, 0x00D09D, 0x0001, 0x0101), (0x02, 0x01, 0x00D09D, 1, 2))
    )
    dii = Dii(
        0x80010002,
        7,
        4066,
        (Module(1, 100, 1, ModuleInfo("fw.bin", 0xDEADBEEF)), Module(2, 0, 1)),
        compat,
    )
    assert dsmcc.decode_message(dsmcc.encode_message(dii)) == dii
    dsi = Dsi(0x80010000, (GroupInfo(0x80010002, 100, compat, ModuleInfo("update")),))
    raw = dsmcc.encode_message(dsi)
    assert struct.unpack_from("!H", raw, 2)[0] == dsmcc.DSI_MESSAGE_ID
    assert raw[12:32] == b"\xff" * 20
    assert dsmcc.decode_message(raw) == dsi


def test_carousel_datagrams_are_seven_ts_packets_with_continuity():
    car = dsmcc.Carousel(
        [CarouselFile("fw.bin", bytes(range(256)) * 100)], pid=0x1F4, ouis=[0x00D09D]
    )
    datagrams = list(car.cycle())
    assert all(len(d) == 7 * 188 for d in datagrams)
    packets = [d[i : i + 188] for d in datagrams for i in range(0, len(d), 188)]
    assert all(p[0] == 0x47 for p in packets)
    ours = [p for p in packets if (int.from_bytes(p[1:3], "big") & 0x1FFF) == 0x1F4]
    ccs = [p[3] & 0x0F for p in ours]
    assert ccs == [i % 16 for i in range(len(ccs))]
    pids = {int.from_bytes(p[1:3], "big") & 0x1FFF for p in packets}
    assert pids == {0x0000, 0x0020, 0x1F4} | ({0x1FFF} if len(packets) % 7 or True else set())


def receive(car: dsmcc.Carousel, pid: int, datagrams=None) -> tuple[list, dsmcc.Receiver]:
    rx = dsmcc.Receiver(pid)
    got = []
    for d in datagrams if datagrams is not None else car.cycle():
        got += rx.feed(d)
    return got, rx


def test_every_file_arrives_with_its_name_and_crc():
    files = [
        CarouselFile("a.bin", random.Random(1).randbytes(100_000)),
        CarouselFile("b.sig", b"sig"),
        CarouselFile("empty", b""),
    ]
    car = dsmcc.Carousel(files, pid=0x100)
    got, rx = receive(car, 0x100)
    assert sorted((m.name, m.data) for m in got) == sorted((f.name, f.data) for f in files)
    assert all(m.crc_checked for m in got)
    assert rx.stats["section_crc"] == 0


def test_late_join_and_loss_complete_on_later_cycles():
    data = random.Random(5).randbytes(300_000)
    car = dsmcc.Carousel([CarouselFile("fw.bin", data)], pid=0x100)
    cycle = list(car.cycle())
    rng = random.Random(6)
    stream = cycle[len(cycle) // 3 :] + [d for _ in range(6) for d in car.cycle()]
    rx = dsmcc.Receiver(0x100)
    got = []
    for d in stream:
        if rng.random() < 0.05:
            continue
        got += rx.feed(d)
        if got:
            break
    assert [m.data for m in got] == [data]
    assert rx.stats["cc_discontinuity"] > 0  # the losses were seen as such


def test_corruption_is_dropped_and_counted():
    data = b"firmware" * 2000
    car = dsmcc.Carousel([CarouselFile("fw.bin", data)], pid=0x100)
    datagrams = list(car.cycle())
    bad = bytearray(datagrams[5])
    bad[100] ^= 0xFF  # inside a DDB's payload: its section CRC fails
    got, rx = receive(car, 0x100, [*datagrams[:5], bytes(bad), *datagrams[6:]])
    assert got == [] and rx.stats["section_crc"] >= 1
    got, rx = receive(car, 0x100, [b"\x00" * 100, b"\x47" * 188, *datagrams])
    assert [m.data for m in got] == [data]
    assert rx.stats["datagram_size"] == 1


def test_a_new_carousel_version_is_delivered_again():
    rx = dsmcc.Receiver(0x100)
    got = []
    for version, content in ((1, b"one" * 100), (2, b"two" * 100)):
        car = dsmcc.Carousel([CarouselFile("fw.bin", content)], pid=0x100, version=version)
        for d in car.cycle():
            got += rx.feed(d)
        for d in car.cycle():  # a repeat is not delivered twice
            got += rx.feed(d)
    assert [(m.version, m.data) for m in got] == [(1, b"one" * 100), (2, b"two" * 100)]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"\x11\x03\x10", "dsmccMessageHeader"),
        (bytes.fromhex("1203100300000001ff000006") + bytes(6), "protocolDiscriminator"),
        (bytes.fromhex("1104100300000001ff000006") + bytes(6), "dsmccType"),
        (bytes.fromhex("1103100300000001ff000009") + bytes(6), "messageLength"),
        (bytes.fromhex("1103100400000001ff000006") + bytes(6), "messageId"),
        (
            bytes.fromhex("1103100200000001ff000010") + bytes(4) + b"\x00\x00" + bytes(10),
            "blockSize",
        ),
    ],
)
def test_bad_messages_name_the_field(raw, field):
    with pytest.raises(DecodeError) as caught:
        dsmcc.decode_message(raw)
    assert caught.value.field == field


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.binary(max_size=9000), min_size=1, max_size=4),
    st.integers(64, dsmcc.MAX_BLOCK_SIZE),
    st.integers(0x20, 0x1FFE).filter(lambda p: p != 0x20),
)
def test_carousel_round_trip(contents, block_size, pid):
    files = [CarouselFile(f"f{i}", c) for i, c in enumerate(contents)]
    got, _ = receive(dsmcc.Carousel(files, pid=pid, block_size=block_size), pid)
    assert sorted(m.data for m in got) == sorted(contents)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(min_size=188, max_size=188).map(lambda b: b"\x47" + b[1:]), max_size=14))
def test_fuzzed_ts_packets_never_raise(packets):
    rx = dsmcc.Receiver(0x100)
    data = b"".join(packets)
    for i in range(0, len(data), 7 * 188):
        rx.feed(data[i : i + 7 * 188])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzzed_messages_decode_or_raise_decode_error(raw):
    for prefix in (
        b"",
        bytes.fromhex("110310020000000aff00") + len(raw).to_bytes(2, "big"),
        bytes.fromhex("110310060000000aff00") + len(raw).to_bytes(2, "big"),
    ):
        with contextlib.suppress(DecodeError):
            dsmcc.decode_message(prefix + raw)
