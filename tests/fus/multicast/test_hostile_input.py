"""Truncated and corrupt packets, and absurd lengths, as a receiver meets them on the wire: each one
is dropped and counted (never an exception, never a huge allocation), and the genuine content still
arrives on the following cycles, intact. Complements the per-codec fuzzing in test_flute.py,
test_dvbstp.py and test_dsmcc.py with damage done to real cycles."""

from __future__ import annotations

import hashlib
import io
import random

from fus.multicast import dsmcc, dvbstp, flute
from fus.multicast.flute import Fti, LctPacket


def _damaged(datagrams: list[bytes], rng: random.Random) -> list[bytes]:
    """Each datagram of a cycle, cut short (inside its header or its payload) or with a byte
    flipped, in turn."""
    out = []
    for i, d in enumerate(datagrams):
        kind = i % 3
        if kind == 0:
            out.append(d[: rng.randrange(1, 12)])  # cut inside the header
        elif kind == 1:
            out.append(d[: rng.randrange(12, len(d))] if len(d) > 13 else d[:1])
        else:
            bad = bytearray(d)
            bad[rng.randrange(len(d))] ^= 1 << rng.randrange(8)
            out.append(bytes(bad))
    return out


def test_flute_drops_damaged_packets_and_delivers_the_file_on_later_cycles():
    data = random.Random(1).randbytes(120_000)
    md5 = hashlib.md5(data, usedforsecurity=False).digest()
    session = flute.Session(
        tsi=3,
        files=(flute.SenderFile(7, "fw.bin", len(data), md5, lambda: io.BytesIO(data)),),
    )
    cycle = list(session.cycle())
    receiver = flute.Receiver(3)
    got = flute.receive_all(receiver, _damaged(cycle, random.Random(2)))
    assert got == [] or [f.data for f in got] == [data]  # never damaged content
    for _ in range(3):
        got += flute.receive_all(receiver, cycle)
        if got:
            break
    assert [f.data for f in got] == [data] and got[0].md5_checked
    assert receiver.stats["malformed"] >= len(cycle) // 3  # every header cut counted


def test_flute_absurd_lengths_are_refused_without_allocating():
    receiver = flute.Receiver(1)
    huge = Fti(2**47, 1428, 64)
    # an FDT instance claiming 128 TiB, and a data object of the same size
    receiver.feed(flute.encode_packet(LctPacket(1, 0, 0, 0, b"x", fti=huge, fdt_instance_id=1)))
    receiver.feed(flute.encode_packet(LctPacket(1, 9, 0, 0, b"y" * 1428, fti=huge)))
    assert receiver.stats["too_large"] == 2 and receiver.stats["files"] == 0
    assert receiver._buffered == 0  # nothing kept of either


def test_dvbstp_drops_damaged_sections_and_absurd_sizes():
    segment = dvbstp.Segment(0xB2, 4, 1, random.Random(3).randbytes(20_000))
    packets = dvbstp.segment_packets(segment, crc=True)
    asm = dvbstp.SegmentAssembler()
    done = [s for s in map(asm.feed, _damaged(packets, random.Random(4))) if s]
    assert done in ([], [segment])
    # one section claiming a 16 MiB segment: inconsistent (its only section is 4 bytes)
    absurd = dvbstp.encode_packet(dvbstp.Packet(0xB2, 5, 1, 0, 0, (1 << 24) - 1, b"tiny"))
    assert asm.feed(absurd) is None and asm.stats["inconsistent"] >= 1
    # a receiver with a smaller limit refuses the claim before storing anything
    small = dvbstp.SegmentAssembler(max_segment=1024 * 1024)
    assert small.feed(absurd) is None and small.stats["too_large"] == 1
    for _ in range(3):
        done += [s for s in map(asm.feed, packets) if s]
        if done:
            break
    assert done[-1] == segment
    assert asm.stats["malformed"] >= len(packets) // 3


def test_dsmcc_drops_damaged_datagrams_and_delivers_the_module_on_later_cycles():
    data = random.Random(5).randbytes(60_000)
    car = dsmcc.Carousel([dsmcc.CarouselFile("fw.bin", data)], pid=0x100)
    cycle = list(car.cycle())
    rx = dsmcc.Receiver(0x100)
    got = []
    for d in _damaged(cycle, random.Random(6)):
        got += rx.feed(d)
    assert got == [] or [m.data for m in got] == [data]
    for _ in range(3):
        for d in car.cycle():
            got += rx.feed(d)
        if got:
            break
    assert [m.data for m in got] == [data] and got[0].crc_checked
    # cut datagrams are not whole TS packets; flipped bits fail a sync byte, a CRC or continuity
    assert rx.stats["datagram_size"] >= 2 * len(cycle) // 3 - 1
