"""DVBSTP, the SD&S transport protocol (TS 102 034 V1.5.1 clause 5.4.1), for the FUS's XML
announcements (PayloadID 0xB2) and the FUS stub file / SD&S RMS-FUS record (PayloadID 0x08).

Header (Figure 8)::

    |Ver|Resrv|Enc|C|              Total_Segment_Size               |
    | Payload ID    | Segment ID                    |Segment_Version|
    | Section_Number        | Last Section Number   |Compr|P|HDR_LEN|
    |                  (Conditional) ServiceProviderID              |
    :                       (Optional) Private Header Data          :
    :                            payload                            :
    |  (Optional, last section only) CRC-32 of the whole segment    |

Ver, Resrv and Enc must be 0 (other Enc values have no defined meaning: refused). Total_Segment_Size
is the sum of the section payloads (every compression value we support means "transmitted size",
Table 12). C marks a CRC-32/MPEG-2 over the payloads of all sections, allowed only on the last
section. HDR_LEN counts 32-bit words of private header data after the ServiceProviderID (present
when P is 1). GZIP (Compr 010) is allowed with PayloadID 0x07 and 0x08 only (clause 5.4.1.2; the
FUS stub itself "shall" be uncompressed, clause 9.1.1 — `segment_packets` refuses that too).

Sections are sized to fit the recommended 1452-byte maximum (clause 5.4.1.3.2) unless told
otherwise. `SegmentAssembler` reassembles segments from datagrams in any order, copes with a segment
version changing mid-segment (clause 5.4.1.2), filters by PayloadID/ServiceProviderID, and drops and
counts anything malformed.
"""

from __future__ import annotations

import enum
import gzip
import struct
import zlib
from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from fus.multicast.crc import crc32_mpeg2
from fus.multicast.errors import DecodeError

__all__ = [
    "DEFAULT_PORT",
    "MAX_SECTION_SIZE",
    "PAYLOAD_FUS_ANNOUNCEMENT",
    "PAYLOAD_FUS_STUB_SDNS",
    "Compression",
    "Packet",
    "Segment",
    "SegmentAssembler",
    "decode_packet",
    "encode_packet",
    "provider_id_for_oui",
    "segment_packets",
]

#: dvbservdsc, the IANA port of SD&S and the FUS stub (clause 9.1.1).
DEFAULT_PORT = 3937
#: The recommended largest section (whole DVBSTP packet) on Ethernet (clause 5.4.1.3.2).
MAX_SECTION_SIZE = 1452
PAYLOAD_FUS_STUB_SDNS = 0x08
PAYLOAD_FUS_ANNOUNCEMENT = 0xB2
_GZIP_PAYLOADS = frozenset({0x07, 0x08})
_MAX_TOTAL = (1 << 24) - 1
_MAX_SECTIONS = 4096
#: Decompressed segments larger than this are refused.
MAX_DECOMPRESSED = 16 * 1024 * 1024
_P = "DVBSTP"


class Compression(enum.IntEnum):
    NONE = 0
    BIM = 1
    GZIP = 2
    ITU_T = 6
    USER_PRIVATE = 7


def provider_id_for_oui(oui: str) -> int:
    """The FUS stub's ServiceProviderID: the 24-bit ManufacturerOUI, top 8 bits 0 (clause 9.1.1)."""
    return int(oui, 16) & 0xFFFFFF


@dataclass(frozen=True, slots=True)
class Packet:
    """One DVBSTP packet (one section of a segment), every header field."""

    payload_id: int
    segment_id: int
    segment_version: int
    section_number: int
    last_section_number: int
    total_segment_size: int
    payload: bytes
    compression: int = Compression.NONE
    provider_id: int | None = None
    private_header: bytes = b""
    crc: int | None = None
    version: int = 0
    encryption: int = 0


def encode_packet(p: Packet) -> bytes:
    checks = (
        ("Ver", p.version, 0, 0),
        ("Enc", p.encryption, 0, 0),
        ("Total_Segment_Size", p.total_segment_size, 0, _MAX_TOTAL),
        ("Payload ID", p.payload_id, 0, 0xFF),
        ("Segment ID", p.segment_id, 0, 0xFFFF),
        ("Segment_Version", p.segment_version, 0, 0xFF),
        ("Section_Number", p.section_number, 0, 0xFFF),
        ("Last Section Number", p.last_section_number, p.section_number, 0xFFF),
        ("Compr", p.compression, 0, 7),
    )
    for name, value, lo, hi in checks:
        if not lo <= value <= hi:
            raise DecodeError(_P, name, f"must be {lo}..{hi}", value=value)
    if len(p.private_header) % 4 or len(p.private_header) > 60:
        raise DecodeError(
            _P, "Private Header Data", "a multiple of 4 bytes, at most 60", value=p.private_header
        )
    if p.crc is not None and p.section_number != p.last_section_number:
        raise DecodeError(
            _P, "C", "a CRC is allowed on the last section only", value=p.section_number
        )
    first = (p.version << 30) | (p.encryption << 25) | ((1 if p.crc is not None else 0) << 24)
    third = (
        (p.section_number << 20)
        | (p.last_section_number << 8)
        | (p.compression << 5)
        | ((1 if p.provider_id is not None else 0) << 4)
        | (len(p.private_header) // 4)
    )
    out = [
        struct.pack(
            "!IBHBI",
            first | p.total_segment_size,
            p.payload_id,
            p.segment_id,
            p.segment_version,
            third,
        )
    ]
    if p.provider_id is not None:
        if not 0 <= p.provider_id <= 0xFFFFFFFF:
            raise DecodeError(_P, "ServiceProviderID", "32 bits", value=p.provider_id)
        out.append(struct.pack("!I", p.provider_id))
    out += [p.private_header, p.payload]
    if p.crc is not None:
        out.append(struct.pack("!I", p.crc))
    return b"".join(out)


def decode_packet(data: bytes) -> Packet:
    """Parse one DVBSTP datagram; `DecodeError` names the field for anything malformed."""
    data = bytes(data)
    if len(data) < 12:
        raise DecodeError(_P, "header", "truncated (at least 12 bytes)", value=data, offset=0)
    first, payload_id, segment_id, segment_version, third = struct.unpack_from("!IBHBI", data)
    version, reserved, encryption = first >> 30, (first >> 27) & 7, (first >> 25) & 3
    if version != 0:
        raise DecodeError(_P, "Ver", "must be 00", value=version, offset=0)
    if reserved != 0:
        raise DecodeError(_P, "Resrv", "must be 000", value=reserved, offset=0)
    if encryption != 0:
        raise DecodeError(
            _P, "Enc", "encrypted payloads have no defined meaning", value=encryption, offset=0
        )
    has_crc = bool(first & (1 << 24))
    section, last = third >> 20, (third >> 8) & 0xFFF
    if section > last:
        raise DecodeError(
            _P,
            "Section_Number",
            f"greater than Last Section Number {last}",
            value=section,
            offset=8,
        )
    if has_crc and section != last:
        raise DecodeError(_P, "C", "set on a section that is not the last", value=section, offset=0)
    offset = 12
    provider_id = None
    if third & 0x10:
        if len(data) < offset + 4:
            raise DecodeError(_P, "ServiceProviderID", "truncated", offset=offset)
        (provider_id,) = struct.unpack_from("!I", data, offset)
        offset += 4
    hdr_len = 4 * (third & 0x0F)
    if len(data) < offset + hdr_len + (4 if has_crc else 0):
        raise DecodeError(_P, "HDR_LEN", "longer than the packet", value=hdr_len // 4, offset=11)
    private = data[offset : offset + hdr_len]
    offset += hdr_len
    end = len(data) - (4 if has_crc else 0)
    crc = struct.unpack_from("!I", data, end)[0] if has_crc else None
    total = first & _MAX_TOTAL
    payload = data[offset:end]
    if len(payload) > total:
        raise DecodeError(
            _P,
            "Total_Segment_Size",
            f"smaller than this section's payload ({len(payload)} bytes)",
            value=total,
            offset=1,
        )
    return Packet(
        payload_id=payload_id,
        segment_id=segment_id,
        segment_version=segment_version,
        section_number=section,
        last_section_number=last,
        total_segment_size=total,
        payload=payload,
        compression=(third >> 5) & 7,
        provider_id=provider_id,
        private_header=private,
        crc=crc,
    )


@dataclass(frozen=True, slots=True)
class Segment:
    """A segment as used: `data` is decompressed when the compression means "decompress"."""

    payload_id: int
    segment_id: int
    version: int
    data: bytes
    compression: int = Compression.NONE
    provider_id: int | None = None


def segment_packets(
    segment: Segment,
    *,
    max_section_size: int = MAX_SECTION_SIZE,
    crc: bool = True,
    private_header: bytes = b"",
) -> list[bytes]:
    """The datagrams of `segment`, sections numbered from 0, the CRC (if asked) on the last."""
    if segment.compression == Compression.GZIP:
        if segment.payload_id not in _GZIP_PAYLOADS:
            raise DecodeError(
                _P,
                "Compr",
                "GZIP is allowed with PayloadID 0x07 and 0x08 only",
                value=segment.payload_id,
            )
        if segment.payload_id == PAYLOAD_FUS_STUB_SDNS and segment.segment_id == 0:
            raise DecodeError(
                _P, "Compr", "the FUS stub (segment 0) shall not be compressed", value=2
            )
        body = gzip.compress(segment.data, mtime=0)
    elif segment.compression == Compression.NONE:
        body = segment.data
    else:
        raise DecodeError(_P, "Compr", "this sender writes NONE or GZIP", value=segment.compression)
    if len(body) > _MAX_TOTAL:
        raise DecodeError(_P, "Total_Segment_Size", "the segment exceeds 24 bits", value=len(body))
    overhead = 12 + (4 if segment.provider_id is not None else 0) + len(private_header)
    room = max_section_size - overhead - (4 if crc else 0)
    if room < 16:
        raise DecodeError(
            _P, "max_section_size", "too small for a header and payload", value=max_section_size
        )
    chunks = [body[i : i + room] for i in range(0, len(body), room)] or [b""]
    if len(chunks) > _MAX_SECTIONS:
        raise DecodeError(
            _P,
            "Last Section Number",
            "the segment needs more than 4096 sections",
            value=len(chunks),
        )
    checksum = crc32_mpeg2(body) if crc else None
    last = len(chunks) - 1
    return [
        encode_packet(
            Packet(
                payload_id=segment.payload_id,
                segment_id=segment.segment_id,
                segment_version=segment.version & 0xFF,
                section_number=i,
                last_section_number=last,
                total_segment_size=len(body),
                payload=chunk,
                compression=segment.compression,
                provider_id=segment.provider_id,
                private_header=private_header,
                crc=checksum if i == last else None,
            )
        )
        for i, chunk in enumerate(chunks)
    ]


class _Pending:
    __slots__ = ("compression", "crc", "last", "parts", "size", "total", "version")

    def __init__(self, p: Packet) -> None:
        self.version = p.segment_version
        self.last = p.last_section_number
        self.total = p.total_segment_size
        self.compression = p.compression
        self.parts: dict[int, bytes] = {}
        self.size = 0
        self.crc: int | None = None


class SegmentAssembler:
    """Reassembles segments from datagrams. `feed` returns a `Segment` each time a new segment
    version completes (a repeat of a version already delivered returns None). Never raises on
    outside bytes: what it cannot use is counted in `stats` (`malformed`, `crc`, `inconsistent`,
    `filtered`, `too_large`, `version_changes`, ...)."""

    def __init__(
        self,
        *,
        payload_ids: Iterable[int] | None = None,
        provider_id: int | None = None,
        provider_mask: int = 0xFFFFFFFF,
        max_segment: int = MAX_DECOMPRESSED,
        max_pending: int = 256,
    ) -> None:
        self.payload_ids = frozenset(payload_ids) if payload_ids is not None else None
        self.provider_id = provider_id
        self.provider_mask = provider_mask
        self.max_segment = max_segment
        self.max_pending = max_pending
        self.stats: Counter[str] = Counter()
        self.segments: dict[tuple[int | None, int, int], Segment] = {}
        self._pending: OrderedDict[tuple[int | None, int, int], _Pending] = OrderedDict()

    def feed(self, datagram: bytes) -> Segment | None:
        self.stats["packets"] += 1
        try:
            p = decode_packet(datagram)
        except DecodeError:
            self.stats["malformed"] += 1
            return None
        if self.payload_ids is not None and p.payload_id not in self.payload_ids:
            self.stats["filtered"] += 1
            return None
        if self.provider_id is not None and (
            p.provider_id is not None
            and (p.provider_id & self.provider_mask) != (self.provider_id & self.provider_mask)
        ):
            self.stats["filtered"] += 1
            return None
        if p.total_segment_size > self.max_segment:
            self.stats["too_large"] += 1
            return None
        key = (p.provider_id, p.payload_id, p.segment_id)
        done = self.segments.get(key)
        if done is not None and done.version == p.segment_version:
            self.stats["repeats"] += 1
            return None
        pending = self._pending.get(key)
        if pending is not None and pending.version != p.segment_version:
            self.stats["version_changes"] += 1
            pending = None
        if pending is None:
            pending = _Pending(p)
            self._pending[key] = pending
            while len(self._pending) > self.max_pending:
                self._pending.popitem(last=False)
                self.stats["evicted"] += 1
        self._pending.move_to_end(key)
        if (p.last_section_number, p.total_segment_size, p.compression) != (
            pending.last,
            pending.total,
            pending.compression,
        ):
            self.stats["inconsistent"] += 1
            del self._pending[key]
            return None
        if p.section_number not in pending.parts:
            pending.parts[p.section_number] = p.payload
            pending.size += len(p.payload)
        if p.crc is not None:
            pending.crc = p.crc
        if pending.size > pending.total:
            self.stats["inconsistent"] += 1
            del self._pending[key]
            return None
        if len(pending.parts) < pending.last + 1:
            return None
        del self._pending[key]
        body = b"".join(pending.parts[i] for i in range(pending.last + 1))
        if len(body) != pending.total:
            self.stats["inconsistent"] += 1
            return None
        if pending.crc is not None and crc32_mpeg2(body) != pending.crc:
            self.stats["crc"] += 1
            return None
        if pending.compression == Compression.GZIP:
            data = self._gunzip(body)
            if data is None:
                return None
        elif pending.compression in (Compression.NONE, Compression.BIM):
            data = body
        else:
            self.stats["unsupported_compression"] += 1
            return None
        segment = Segment(
            p.payload_id, p.segment_id, p.segment_version, data, pending.compression, p.provider_id
        )
        self.segments[key] = segment
        self.stats["segments"] += 1
        return segment

    def _gunzip(self, body: bytes) -> bytes | None:
        inflater = zlib.decompressobj(wbits=31)
        try:
            data = inflater.decompress(body, self.max_segment + 1)
        except zlib.error:
            self.stats["malformed"] += 1
            return None
        if len(data) > self.max_segment or inflater.unconsumed_tail:
            self.stats["too_large"] += 1
            return None
        if not inflater.eof:
            self.stats["malformed"] += 1
            return None
        return data
