"""Test helpers: a pcap writer for datagrams (Ethernet/IPv4/UDP framing we build ourselves) and
tshark, to check our bytes against an independent decoder. tshark is optional: tests using it are
skipped with a reason when it is absent."""

from __future__ import annotations

import ipaddress
import json
import shutil
import struct
import subprocess
from collections.abc import Iterable
from pathlib import Path

import pytest

TSHARK = shutil.which("tshark")
needs_tshark = pytest.mark.skipif(
    TSHARK is None,
    reason="tshark is not installed (apt-get install tshark) - golden decode skipped",
)


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def frame(payload: bytes, *, src: str, dst: str, sport: int, dport: int) -> bytes:
    s, d = ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0x4000, 1, 17, 0, s, d)
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    mac = bytes.fromhex("01005e000001") + bytes.fromhex("020000000001")
    return mac + b"\x08\x00" + ip + udp


def write_pcap(path: Path, datagrams: Iterable[bytes], **addressing) -> Path:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for i, payload in enumerate(datagrams):
        data = frame(payload, **addressing)
        out.append(struct.pack("<IIII", 1_700_000_000 + i, 0, len(data), len(data)) + data)
    path.write_bytes(b"".join(out))
    return path


def tshark_json(path: Path, *args: str) -> list[dict]:
    result = subprocess.run(
        [TSHARK, "-n", "-r", str(path), "-T", "json", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


def layer(packet: dict, name: str) -> dict:
    return packet["_source"]["layers"][name]


def tshark_fields(path: Path, fields: list[str], *args: str) -> list[list[str]]:
    """One row per packet, one column per field; repeated fields joined with '/'."""
    command = [
        TSHARK,
        "-n",
        "-r",
        str(path),
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=/",
    ]
    for name in fields:
        command += ["-e", name]
    result = subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=60, check=True
    )
    return [line.split("\t") for line in result.stdout.splitlines()]


def tshark_text(path: Path, *args: str) -> str:
    result = subprocess.run(
        [TSHARK, "-n", "-r", str(path), "-V", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout
