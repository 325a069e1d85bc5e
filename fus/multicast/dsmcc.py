"""The DSM-CC U-N data carousel (ISO/IEC 13818-6 clause 7, EN 301 192 clause 7, TS 102 006) in an
MPEG-2 transport stream over UDP — interface 5's second delivery protocol (`payload=mp2t`).

Layers, outside in:

- UDP datagrams of 7 TS packets (1316 bytes, TS 102 034's usual MPEG-2 TS over IP payload);
- 188-byte TS packets (ISO/IEC 13818-1 2.4.3): sync 0x47, PID, payload_unit_start_indicator,
  continuity counter; a section starts in a packet whose payload begins with a pointer_field;
- MPEG-2 private sections, DSM-CC form (ISO/IEC 13818-6 9.2.2): table_id 0x3B (DSI, DII) or
  0x3C (DDB), section_syntax_indicator 1, table_id_extension (the low 16 bits of the transactionId,
  or the moduleId), version_number (0, or the moduleVersion mod 32), section_number (0, or the
  blockNumber mod 256) and CRC-32/MPEG-2; at most 4096 bytes;
- the messages: DownloadServerInitiate (DSI, messageId 0x1006) whose privateData is TS 102 006's
  GroupInfoIndication (one group per DII), DownloadInfoIndication (DII, 0x1002) listing the modules
  (moduleId, moduleSize, moduleVersion, moduleInfo with TS 102 006 name_descriptor 0x02 and
  CRC32_descriptor 0x05), and DownloadDataBlock (DDB, 0x1003) carrying blockSize bytes of a module.

The carousel also carries a PAT and a PMT (stream_type 0x0B, DSM-CC U-N messages, with a
data_broadcast_id_descriptor 0x000A, System Software Update, listing the manufacturers' OUIs), so
standard tools find the carousel's PID. One file is one module; the largest module is
65536 blocks.

`Receiver` reassembles modules from datagrams; it checks every CRC, the continuity counters, the
module sizes and CRC32 descriptors, and drops and counts what is wrong.
"""

from __future__ import annotations

import math
import struct
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from fus.multicast.crc import crc32_mpeg2
from fus.multicast.errors import DecodeError

__all__ = [
    "DDB_MESSAGE_ID",
    "DII_MESSAGE_ID",
    "DSI_MESSAGE_ID",
    "MAX_BLOCK_SIZE",
    "TS_PACKETS_PER_DATAGRAM",
    "Carousel",
    "CarouselFile",
    "CompatibilityDescriptor",
    "Ddb",
    "Dii",
    "Dsi",
    "GroupInfo",
    "Module",
    "ModuleInfo",
    "ReceivedModule",
    "Receiver",
    "Section",
    "decode_message",
    "decode_section",
    "encode_message",
    "encode_section",
    "packetize",
]

TS_PACKET = 188
TS_PACKETS_PER_DATAGRAM = 7
SYNC = 0x47
NULL_PID = 0x1FFF
TABLE_UN_MESSAGE = 0x3B
TABLE_DDB = 0x3C
DSI_MESSAGE_ID = 0x1006
DII_MESSAGE_ID = 0x1002
DDB_MESSAGE_ID = 0x1003
PROTOCOL_DISCRIMINATOR = 0x11
DSMCC_TYPE_DOWNLOAD = 0x03
MAX_SECTION = 4096
#: The largest DDB block in a 4096-byte section (4093 - 5 - 12 - 6 - 4).
MAX_BLOCK_SIZE = 4066
DATA_BROADCAST_ID_SSU = 0x000A
TAG_NAME = 0x02
TAG_CRC32 = 0x05
_P = "DSM-CC"


# --- sections --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Section:
    """A long-form private (or PSI) section; `payload` is what lies between header and CRC."""

    table_id: int
    table_id_extension: int
    payload: bytes
    version_number: int = 0
    section_number: int = 0
    last_section_number: int = 0
    current_next: bool = True
    private_indicator: bool = False


def encode_section(s: Section) -> bytes:
    length = 5 + len(s.payload) + 4
    if length > MAX_SECTION - 3:
        raise DecodeError(_P, "section_length", f"at most {MAX_SECTION - 3}", value=length)
    if not 0 <= s.version_number <= 31 or not 0 <= s.table_id_extension <= 0xFFFF:
        raise DecodeError(_P, "section header", "version 0-31, table_id_extension 16 bits", value=s)
    head = struct.pack(
        "!BHHBBB",
        s.table_id,
        0x8000 | (0x4000 if s.private_indicator else 0) | 0x3000 | length,
        s.table_id_extension,
        0xC0 | (s.version_number << 1) | int(s.current_next),
        s.section_number,
        s.last_section_number,
    )
    body = head + s.payload
    return body + struct.pack("!I", crc32_mpeg2(body))


def decode_section(data: bytes) -> Section:
    data = bytes(data)
    if len(data) < 12:
        raise DecodeError(_P, "section", "truncated (at least 12 bytes)", value=data, offset=0)
    table_id, flags = struct.unpack_from("!BH", data)
    if not flags & 0x8000:
        raise DecodeError(_P, "section_syntax_indicator", "must be 1", value=0, offset=1)
    length = flags & 0x0FFF
    if length + 3 != len(data):
        raise DecodeError(
            _P, "section_length", f"does not match the {len(data)} bytes", value=length, offset=1
        )
    if crc32_mpeg2(data) != 0:
        raise DecodeError(_P, "CRC_32", "wrong", value=data[-4:], offset=len(data) - 4)
    ext, ver, num, last = struct.unpack_from("!HBBB", data, 3)
    return Section(
        table_id=table_id,
        table_id_extension=ext,
        payload=data[8:-4],
        version_number=(ver >> 1) & 0x1F,
        section_number=num,
        last_section_number=last,
        current_next=bool(ver & 1),
        private_indicator=bool(flags & 0x4000),
    )


# --- messages --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompatibilityDescriptor:
    """ISO/IEC 13818-6 compatibilityDescriptor entries: (descriptorType, specifierType, OUI,
    model, version). Type 0x01 is system hardware, 0x02 system software; specifierType 0x01 IEEE OUI."""

    descriptors: tuple[tuple[int, int, int, int, int], ...] = ()


def _compat_bytes(c: CompatibilityDescriptor) -> bytes:
    if not c.descriptors:
        return b"\0\0"
    body = struct.pack("!H", len(c.descriptors))
    for dtype, stype, oui, model, version in c.descriptors:
        body += bytes([dtype, 9, stype]) + oui.to_bytes(3, "big")
        body += struct.pack("!HHB", model, version, 0)  # no subDescriptors
    return struct.pack("!H", len(body)) + body


def _read_compat(data: bytes, offset: int) -> tuple[CompatibilityDescriptor, int]:
    _need(data, offset, 2, "compatibilityDescriptorLength")
    (length,) = struct.unpack_from("!H", data, offset)
    end = offset + 2 + length
    _need(data, offset + 2, length, "compatibilityDescriptor")
    if length == 0:
        return CompatibilityDescriptor(), end
    (count,) = struct.unpack_from("!H", data, offset + 2)
    pos = offset + 4
    out = []
    for _ in range(count):
        _need(data, pos, 2, "compatibility descriptor")
        dtype, dlen = data[pos], data[pos + 1]
        _need(data, pos + 2, dlen, "compatibility descriptor")
        if dlen < 9 or pos + 2 + dlen > end:
            raise DecodeError(
                _P, "descriptorLength", "too short or beyond the descriptor", value=dlen, offset=pos
            )
        stype = data[pos + 2]
        oui = int.from_bytes(data[pos + 3 : pos + 6], "big")
        model, version = struct.unpack_from("!HH", data, pos + 6)
        out.append((dtype, stype, oui, model, version))
        pos += 2 + dlen
    return CompatibilityDescriptor(tuple(out)), end


def _need(data: bytes, offset: int, size: int, field: str) -> None:
    if offset + size > len(data) or size < 0:
        raise DecodeError(_P, field, "runs past the end of the message", value=size, offset=offset)


@dataclass(frozen=True, slots=True)
class ModuleInfo:
    """TS 102 006 moduleInfo descriptors we write and read: the name and the CRC-32."""

    name: str | None = None
    crc32: int | None = None
    other: tuple[tuple[int, bytes], ...] = ()


def _descriptors(info: ModuleInfo) -> bytes:
    out = b""
    if info.name is not None:
        name = info.name.encode("utf-8")
        if len(name) > 255:
            raise DecodeError(_P, "name_descriptor", "names are at most 255 bytes", value=info.name)
        out += bytes([TAG_NAME, len(name)]) + name
    if info.crc32 is not None:
        out += bytes([TAG_CRC32, 4]) + struct.pack("!I", info.crc32)
    for tag, data in info.other:
        out += bytes([tag, len(data)]) + data
    return out


def _read_descriptors(data: bytes) -> ModuleInfo:
    name = crc = None
    other = []
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise DecodeError(_P, "descriptor", "truncated", value=data[pos:], offset=pos)
        tag, length = data[pos], data[pos + 1]
        body = data[pos + 2 : pos + 2 + length]
        if len(body) != length:
            raise DecodeError(
                _P, "descriptor_length", "runs past moduleInfo", value=length, offset=pos
            )
        if tag == TAG_NAME:
            try:
                name = body.decode("utf-8")
            except UnicodeDecodeError:
                raise DecodeError(_P, "name_descriptor", "not UTF-8", value=body) from None
        elif tag == TAG_CRC32 and length == 4:
            (crc,) = struct.unpack("!I", body)
        else:
            other.append((tag, body))
        pos += 2 + length
    return ModuleInfo(name, crc, tuple(other))


@dataclass(frozen=True, slots=True)
class Module:
    module_id: int
    size: int
    version: int
    info: ModuleInfo = ModuleInfo()


@dataclass(frozen=True, slots=True)
class GroupInfo:
    group_id: int  # the DII's transactionId
    size: int
    compatibility: CompatibilityDescriptor = CompatibilityDescriptor()
    info: ModuleInfo = ModuleInfo()


@dataclass(frozen=True, slots=True)
class Dsi:
    transaction_id: int
    groups: tuple[GroupInfo, ...]
    server_id: bytes = b"\xff" * 20
    private_data: bytes = b""


@dataclass(frozen=True, slots=True)
class Dii:
    transaction_id: int
    download_id: int
    block_size: int
    modules: tuple[Module, ...]
    compatibility: CompatibilityDescriptor = CompatibilityDescriptor()
    tc_download_scenario: int = 0
    private_data: bytes = b""


@dataclass(frozen=True, slots=True)
class Ddb:
    download_id: int
    module_id: int
    module_version: int
    block_number: int
    data: bytes


Message = Dsi | Dii | Ddb


def _header(message_id: int, transaction_id: int, body: bytes) -> bytes:
    return (
        struct.pack(
            "!BBHIBBH",
            PROTOCOL_DISCRIMINATOR,
            DSMCC_TYPE_DOWNLOAD,
            message_id,
            transaction_id,
            0xFF,
            0,
            len(body),
        )
        + body
    )


def encode_message(msg: Message) -> bytes:
    if isinstance(msg, Ddb):
        body = (
            struct.pack("!HBBH", msg.module_id, msg.module_version, 0xFF, msg.block_number)
            + msg.data
        )
        return _header(DDB_MESSAGE_ID, msg.download_id, body)
    if isinstance(msg, Dii):
        if not 0 < msg.block_size <= MAX_BLOCK_SIZE:
            raise DecodeError(_P, "blockSize", f"1..{MAX_BLOCK_SIZE}", value=msg.block_size)
        body = struct.pack(
            "!IHBBII", msg.download_id, msg.block_size, 0, 0, 0, msg.tc_download_scenario
        )
        body += _compat_bytes(msg.compatibility) + struct.pack("!H", len(msg.modules))
        for mod in msg.modules:
            info = _descriptors(mod.info)
            if len(info) > 255:
                raise DecodeError(_P, "moduleInfoLength", "at most 255 bytes", value=len(info))
            body += struct.pack("!HIBB", mod.module_id, mod.size, mod.version, len(info)) + info
        body += struct.pack("!H", len(msg.private_data)) + msg.private_data
        return _header(DII_MESSAGE_ID, msg.transaction_id, body)
    if len(msg.server_id) != 20:
        raise DecodeError(_P, "serverId", "20 bytes", value=msg.server_id)
    groups = struct.pack("!H", len(msg.groups))
    for g in msg.groups:
        info = _descriptors(g.info)
        groups += struct.pack("!II", g.group_id, g.size) + _compat_bytes(g.compatibility)
        groups += struct.pack("!H", len(info)) + info
    groups += struct.pack("!H", len(msg.private_data)) + msg.private_data
    body = msg.server_id + b"\0\0" + struct.pack("!H", len(groups)) + groups
    return _header(DSI_MESSAGE_ID, msg.transaction_id, body)


def decode_message(data: bytes) -> Message:
    """Parse a DSI, DII or DDB (a section's payload)."""
    data = bytes(data)
    _need(data, 0, 12, "dsmccMessageHeader")
    disc, dtype, message_id, tid, _, adaptation, length = struct.unpack_from("!BBHIBBH", data)
    if disc != PROTOCOL_DISCRIMINATOR:
        raise DecodeError(_P, "protocolDiscriminator", "must be 0x11", value=disc, offset=0)
    if dtype != DSMCC_TYPE_DOWNLOAD:
        raise DecodeError(_P, "dsmccType", "must be 0x03 (U-N download)", value=dtype, offset=1)
    if 12 + length != len(data) or adaptation > length:
        raise DecodeError(
            _P,
            "messageLength",
            f"does not match the {len(data) - 12} bytes",
            value=length,
            offset=10,
        )
    body = data[12 + adaptation :]
    if message_id == DDB_MESSAGE_ID:
        _need(body, 0, 6, "DownloadDataBlock")
        module_id, version, _, block = struct.unpack_from("!HBBH", body)
        return Ddb(tid, module_id, version, block, body[6:])
    if message_id == DII_MESSAGE_ID:
        _need(body, 0, 16, "DownloadInfoIndication")
        download_id, block_size, _, _, _, scenario = struct.unpack_from("!IHBBII", body)
        if not 0 < block_size <= MAX_BLOCK_SIZE:
            raise DecodeError(_P, "blockSize", f"1..{MAX_BLOCK_SIZE}", value=block_size, offset=16)
        compat, pos = _read_compat(body, 16)
        _need(body, pos, 2, "numberOfModules")
        (count,) = struct.unpack_from("!H", body, pos)
        pos += 2
        modules = []
        for _ in range(count):
            _need(body, pos, 8, "module")
            module_id, size, version, info_len = struct.unpack_from("!HIBB", body, pos)
            _need(body, pos + 8, info_len, "moduleInfo")
            modules.append(
                Module(
                    module_id, size, version, _read_descriptors(body[pos + 8 : pos + 8 + info_len])
                )
            )
            pos += 8 + info_len
        _need(body, pos, 2, "privateDataLength")
        (plen,) = struct.unpack_from("!H", body, pos)
        _need(body, pos + 2, plen, "privateData")
        return Dii(
            tid,
            download_id,
            block_size,
            tuple(modules),
            compat,
            scenario,
            body[pos + 2 : pos + 2 + plen],
        )
    if message_id == DSI_MESSAGE_ID:
        _need(body, 0, 24, "DownloadServerInitiate")
        server_id = body[:20]
        _, pos = _read_compat(body, 20)
        _need(body, pos, 2, "privateDataLength")
        (plen,) = struct.unpack_from("!H", body, pos)
        private = body[pos + 2 : pos + 2 + plen]
        _need(body, pos + 2, plen, "privateData")
        _need(private, 0, 2, "NumberOfGroups")
        (count,) = struct.unpack_from("!H", private)
        p = 2
        groups = []
        for _ in range(count):
            _need(private, p, 8, "GroupInfo")
            gid, gsize = struct.unpack_from("!II", private, p)
            compat, p = _read_compat(private, p + 8)
            _need(private, p, 2, "GroupInfoLength")
            (glen,) = struct.unpack_from("!H", private, p)
            _need(private, p + 2, glen, "GroupInfo")
            groups.append(
                GroupInfo(gid, gsize, compat, _read_descriptors(private[p + 2 : p + 2 + glen]))
            )
            p += 2 + glen
        _need(private, p, 2, "PrivateDataLength")
        (rest,) = struct.unpack_from("!H", private, p)
        _need(private, p + 2, rest, "PrivateData")
        return Dsi(tid, tuple(groups), server_id, private[p + 2 : p + 2 + rest])
    raise DecodeError(_P, "messageId", "not DSI, DII or DDB", value=message_id, offset=2)


def message_section(msg: Message, *, block_count: int = 1) -> bytes:
    """The section carrying `msg` (DDB: table 0x3C keyed by module; DSI/DII: 0x3B)."""
    payload = encode_message(msg)
    if isinstance(msg, Ddb):
        return encode_section(
            Section(
                TABLE_DDB,
                msg.module_id,
                payload,
                version_number=msg.module_version & 0x1F,
                section_number=msg.block_number & 0xFF,
                last_section_number=(block_count - 1) & 0xFF,
            )
        )
    return encode_section(Section(TABLE_UN_MESSAGE, msg.transaction_id & 0xFFFF, payload))


# --- transport stream ------------------------------------------------------------------------


class Packetizer:
    """Sections into 188-byte TS packets on one PID, continuity counter kept across calls. Each
    section starts a packet (pointer_field 0); the rest of its last packet is stuffed with 0xFF."""

    def __init__(self, pid: int) -> None:
        if not 0x0000 <= pid < NULL_PID:
            raise DecodeError(_P, "PID", "0x0000-0x1FFE", value=pid)
        self.pid = pid
        self.cc = 0

    def packets(self, section: bytes) -> Iterator[bytes]:
        data = b"\0" + section  # pointer_field
        first = True
        for i in range(0, len(data), TS_PACKET - 4):
            chunk = data[i : i + TS_PACKET - 4]
            header = struct.pack("!BHB", SYNC, (0x4000 if first else 0) | self.pid, 0x10 | self.cc)
            self.cc = (self.cc + 1) & 0x0F
            first = False
            yield header + chunk + b"\xff" * (TS_PACKET - 4 - len(chunk))


def null_packet() -> bytes:
    return struct.pack("!BHB", SYNC, NULL_PID, 0x10) + b"\xff" * (TS_PACKET - 4)


def packetize(ts_packets: Iterable[bytes]) -> Iterator[bytes]:
    """Group TS packets 7 to a datagram, the last datagram completed with null packets."""
    batch: list[bytes] = []
    for packet in ts_packets:
        batch.append(packet)
        if len(batch) == TS_PACKETS_PER_DATAGRAM:
            yield b"".join(batch)
            batch = []
    if batch:
        yield b"".join(batch + [null_packet()] * (TS_PACKETS_PER_DATAGRAM - len(batch)))


def _pat(transport_stream_id: int, program: int, pmt_pid: int) -> bytes:
    payload = struct.pack("!HH", program, 0xE000 | pmt_pid)
    return encode_section(Section(0x00, transport_stream_id, payload))


def _pmt(program: int, pid: int, ouis: tuple[int, ...]) -> bytes:
    # data_broadcast_id_descriptor (EN 300 468 6.2.12) with TS 102 006's SSU selector: OUI loop.
    loop = b"".join(
        oui.to_bytes(3, "big") + bytes([0xF1, 0xC0, 0]) for oui in ouis
    )  # update_type 1 (standard update carousel via broadcast), no versioning, no selector bytes
    selector = bytes([len(loop)]) + loop
    descriptor = (
        bytes([0x66, 2 + len(selector)]) + struct.pack("!H", DATA_BROADCAST_ID_SSU) + selector
    )
    stream = struct.pack("!BHH", 0x0B, 0xE000 | pid, 0xF000 | len(descriptor)) + descriptor
    payload = struct.pack("!HH", 0xE000 | NULL_PID, 0xF000) + stream
    return encode_section(Section(0x02, program, payload))


@dataclass(frozen=True, slots=True)
class CarouselFile:
    name: str
    data: bytes


class Carousel:
    """A one-group data carousel: a DSI naming one group (the DII), the DII listing one module per
    file, and the DDBs. `version` (0-255) goes into the moduleVersions and transactionIds: bump it
    when the contents change. `cycle()` yields the datagrams of one repetition: PAT, PMT, DSI, DII,
    then each module's blocks, with DSI/DII repeated between modules."""

    def __init__(
        self,
        files: Iterable[CarouselFile],
        *,
        pid: int = 0x0100,
        carousel_id: int = 1,
        service_id: int = 1,
        pmt_pid: int = 0x0020,
        transport_stream_id: int = 1,
        version: int = 1,
        block_size: int = MAX_BLOCK_SIZE,
        ouis: Iterable[int] = (),
        compatibility: CompatibilityDescriptor = CompatibilityDescriptor(),
    ) -> None:
        self.files = tuple(files)
        if not self.files:
            raise DecodeError(_P, "modules", "a carousel carries at least one file")
        if len(self.files) > 0xFFFF:
            raise DecodeError(_P, "numberOfModules", "at most 65535 modules", value=len(self.files))
        if not 0 < block_size <= MAX_BLOCK_SIZE:
            raise DecodeError(_P, "blockSize", f"1..{MAX_BLOCK_SIZE}", value=block_size)
        self.version = version & 0xFF
        self.block_size = block_size
        self.carousel_id = carousel_id
        self.packetizer = Packetizer(pid)
        self.psi = Packetizer(pmt_pid)
        self.pat_packetizer = Packetizer(0)
        modules = []
        for i, f in enumerate(self.files, 1):
            blocks = math.ceil(len(f.data) / block_size)
            if blocks > 0x10000:
                raise DecodeError(
                    _P, "blockNumber", f"{f.name} needs more than 65536 blocks", value=len(f.data)
                )
            modules.append(
                Module(i, len(f.data), self.version, ModuleInfo(f.name, crc32_mpeg2(f.data)))
            )
        self.modules = tuple(modules)
        group_id = 0x80000000 | ((self.version & 0x3FFF) << 16) | 0x0002
        self.dii = Dii(group_id, carousel_id, block_size, self.modules, compatibility)
        self.dsi = Dsi(
            0x80000000 | ((self.version & 0x3FFF) << 16),
            (
                GroupInfo(
                    group_id, sum(m.size for m in self.modules), compatibility, ModuleInfo("update")
                ),
            ),
        )
        self._pat = _pat(transport_stream_id, service_id, pmt_pid)
        self._pmt = _pmt(service_id, pid, tuple(ouis))
        self._control = (message_section(self.dsi), message_section(self.dii))

    def _ts(self) -> Iterator[bytes]:
        yield from self.pat_packetizer.packets(self._pat)
        yield from self.psi.packets(self._pmt)
        for module, f in zip(self.modules, self.files, strict=True):
            for section in self._control:
                yield from self.packetizer.packets(section)
            count = math.ceil(module.size / self.block_size)
            for block in range(count):
                data = f.data[block * self.block_size : (block + 1) * self.block_size]
                ddb = Ddb(self.carousel_id, module.module_id, module.version, block, data)
                yield from self.packetizer.packets(message_section(ddb, block_count=count))

    def cycle(self) -> Iterator[bytes]:
        yield from packetize(self._ts())


# --- receiver --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReceivedModule:
    module_id: int
    version: int
    name: str | None
    data: bytes
    crc_checked: bool


class _SectionBuffer:
    __slots__ = ("cc", "data", "need")

    def __init__(self) -> None:
        self.cc: int | None = None
        self.data = bytearray()
        self.need: int | None = None


class Receiver:
    """Modules of the data carousel on `pid`, from datagrams of TS packets. `feed` returns the
    modules a datagram completed (each module version once). Never raises on outside bytes; drops
    are counted in `stats` (`ts_sync`, `ts_error`, `cc_discontinuity`, `section_crc`,
    `bad_message`, `module_crc`, `module_size`, ...)."""

    def __init__(
        self, pid: int, *, max_module: int = 512 * 1024**2, max_buffered: int = 1024**3
    ) -> None:
        self.pid = pid
        self.max_module = max_module
        self.max_buffered = max_buffered
        self.stats: Counter[str] = Counter()
        self.dsi: Dsi | None = None
        self.dii: Dii | None = None
        self.delivered: set[tuple[int, int]] = set()
        self._buf = _SectionBuffer()
        self._blocks: OrderedDict[tuple[int, int], dict[int, bytes]] = OrderedDict()
        self._buffered = 0

    def feed(self, datagram: bytes) -> list[ReceivedModule]:
        self.stats["datagrams"] += 1
        if len(datagram) % TS_PACKET or not datagram:
            self.stats["datagram_size"] += 1
            return []
        out: list[ReceivedModule] = []
        for i in range(0, len(datagram), TS_PACKET):
            for section in self._ts_packet(datagram[i : i + TS_PACKET]):
                out += self._section(section)
        return out

    def _ts_packet(self, packet: bytes) -> list[bytes]:
        if packet[0] != SYNC:
            self.stats["ts_sync"] += 1
            return []
        flags, afc_cc = struct.unpack_from("!HB", packet, 1)
        pid = flags & 0x1FFF
        if pid != self.pid:
            return []
        self.stats["ts_packets"] += 1
        if flags & 0x8000:
            self.stats["ts_error"] += 1
            self._buf = _SectionBuffer()
            return []
        afc, cc = (afc_cc >> 4) & 3, afc_cc & 0x0F
        if afc in (0, 2):  # no payload
            return []
        pos = 4
        if afc == 3:
            pos += 1 + packet[4]
            if pos > TS_PACKET:
                self.stats["ts_adaptation"] += 1
                return []
        buf = self._buf
        if buf.cc is not None and cc == buf.cc:
            self.stats["ts_duplicate"] += 1
            return []
        if buf.cc is not None and cc != (buf.cc + 1) & 0x0F and buf.data:
            self.stats["cc_discontinuity"] += 1
            buf.data.clear()
            buf.need = None
        buf.cc = cc
        payload = packet[pos:]
        sections: list[bytes] = []
        if flags & 0x4000:
            pointer = payload[0] if payload else 0
            if 1 + pointer > len(payload):
                self.stats["ts_pointer"] += 1
                buf.data.clear()
                return []
            if buf.data:
                buf.data += payload[1 : 1 + pointer]
                sections += self._drain(buf, start=False)
            buf.data = bytearray(payload[1 + pointer :])
            buf.need = None
            sections += self._drain(buf, start=True)
        elif buf.data:
            buf.data += payload
            sections += self._drain(buf, start=False)
        return sections

    def _drain(self, buf: _SectionBuffer, *, start: bool) -> list[bytes]:
        out = []
        while len(buf.data) >= 3:
            if buf.data[0] == 0xFF:  # stuffing: the rest of the packet is padding
                buf.data.clear()
                break
            need = 3 + (((buf.data[1] << 8) | buf.data[2]) & 0x0FFF)
            if len(buf.data) < need:
                break
            out.append(bytes(buf.data[:need]))
            del buf.data[:need]
        return out

    def _section(self, raw: bytes) -> list[ReceivedModule]:
        try:
            section = decode_section(raw)
        except DecodeError:
            self.stats["section_crc" if len(raw) >= 12 else "section_malformed"] += 1
            return []
        if section.table_id not in (TABLE_UN_MESSAGE, TABLE_DDB):
            self.stats["other_tables"] += 1
            return []
        try:
            msg = decode_message(section.payload)
        except DecodeError:
            self.stats["bad_message"] += 1
            return []
        self.stats["sections"] += 1
        if isinstance(msg, Dsi):
            self.dsi = msg
            return []
        if isinstance(msg, Dii):
            if self.dii != msg:
                self.dii = msg
                out = []
                for module in msg.modules:
                    out += self._try(module.module_id, module.version)
                return out
            return []
        return self._block(msg)

    def _module(self, module_id: int) -> Module | None:
        if self.dii is None:
            return None
        return next((m for m in self.dii.modules if m.module_id == module_id), None)

    def _block(self, ddb: Ddb) -> list[ReceivedModule]:
        key = (ddb.module_id, ddb.module_version)
        if key in self.delivered:
            self.stats["already_delivered"] += 1
            return []
        if self.dii is not None and ddb.download_id != self.dii.download_id:
            self.stats["other_download"] += 1
            return []
        blocks = self._blocks.get(key)
        if blocks is None:
            blocks = self._blocks[key] = {}
        if ddb.block_number not in blocks:
            if self._buffered + len(ddb.data) > self.max_buffered:
                self.stats["buffer_full"] += 1
                return []
            blocks[ddb.block_number] = ddb.data
            self._buffered += len(ddb.data)
        return self._try(*key)

    def _try(self, module_id: int, version: int) -> list[ReceivedModule]:
        module = self._module(module_id)
        blocks = self._blocks.get((module_id, version), {})
        if module is None or module.version != version or self.dii is None:
            return []
        if (module_id, version) in self.delivered:
            return []
        if module.size > self.max_module:
            self.stats["module_too_large"] += 1
            return []
        count = math.ceil(module.size / self.dii.block_size)
        if len(blocks) < count:
            return []
        self._blocks.pop((module_id, version), None)
        self._buffered -= sum(len(b) for b in blocks.values())
        try:
            data = b"".join(blocks[i] for i in range(count))
        except KeyError:
            self.stats["module_blocks"] += 1
            return []
        if len(data) != module.size:
            self.stats["module_size"] += 1
            return []
        if module.info.crc32 is not None and crc32_mpeg2(data) != module.info.crc32:
            self.stats["module_crc"] += 1
            return []
        self.delivered.add((module_id, version))
        self.stats["modules"] += 1
        return [
            ReceivedModule(
                module_id, version, module.info.name, data, module.info.crc32 is not None
            )
        ]
