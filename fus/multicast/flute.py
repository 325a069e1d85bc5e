"""FLUTE file delivery: ALC/LCT packets, FDT instances, Compact No-Code FEC, sender and receiver.

LCT header (RFC 3451 / RFC 5651 section 5.1)::

    |   V   | C |PSI|S| O |H|T|R|A|B|   HDR_LEN     | Codepoint (CP)|
    | Congestion Control Information (CCI, 32*(C+1) bits)           |
    | Transport Session Identifier (TSI, 32*S + 16*H bits)          |
    | Transport Object Identifier (TOI, 32*O + 16*H bits)           |
    | SCT (if T, RFC 3451 only) | ERT (if R, RFC 3451 only)          |
    | Header extensions                                             |

then (ALC, RFC 3450 / RFC 5775) the FEC Payload ID and the encoding symbol. For FEC Encoding ID 0,
Compact No-Code (RFC 3695 / RFC 5445), the Codepoint is 0 and the FEC Payload ID is a 16-bit Source
Block Number and a 16-bit Encoding Symbol ID. Header extensions used by FLUTE:

- EXT_FTI (HET 64, HEL 4): Transfer Length (48 bits), FEC Instance ID (16 bits, 0 for ID 0),
  Encoding Symbol Length (16 bits), Maximum Source Block Length (32 bits);
- EXT_FDT (HET 192): FLUTE version V (4 bits: 1 = RFC 3926, 2 = RFC 6726) and the FDT Instance
  ID (20 bits); it marks the packets of TOI 0, the FDT;
- EXT_CENC (HET 193): the FDT instance's content encoding (read and kept; we send none).

Source blocks follow the blocking algorithm of RFC 3926 section 9.1 / RFC 5052 section 9.1: with
T = ceil(L/E) symbols and N = ceil(T/B) blocks, the first T - floor(T/N)*N blocks have
ceil(T/N) symbols and the rest floor(T/N).

The FDT instance (RFC 3926 section 3.4.2, RFC 6726 section 3.4.2) lists each file with
Content-Location, TOI, Content-Length, Transfer-Length, Content-MD5 and the FEC OTI; Expires is
NTP seconds (the 32 most significant bits of the 64-bit NTP time). Version 1 writes the namespace
3GPP/DVB use for RFC 3926 (`urn:IETF:metadata:2005:FLUTE:FDT`), version 2 RFC 6726's
(`urn:ietf:params:xml:ns:fdt`); the reader accepts both, RFC 3926's example namespace and none.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from lxml import etree

from fus.metadata.xmlsafe import hardened_parser
from fus.multicast.errors import DecodeError

__all__ = [
    "COMPACT_NO_CODE",
    "FDT_NAMESPACES",
    "FDT_TOI",
    "FdtFile",
    "FdtInstance",
    "Fti",
    "LctPacket",
    "ReceivedFile",
    "Receiver",
    "SenderFile",
    "blocks",
    "decode_packet",
    "encode_packet",
    "parse_fdt",
    "write_fdt",
]

COMPACT_NO_CODE = 0
FDT_TOI = 0
HET_EXT_FTI = 64
HET_EXT_FDT = 192
HET_EXT_CENC = 193
FDT_NAMESPACES = {
    1: "urn:IETF:metadata:2005:FLUTE:FDT",
    2: "urn:ietf:params:xml:ns:fdt",
}
_READ_NAMESPACES = {*FDT_NAMESPACES.values(), "http://www.example.com/flute", None}
NTP_OFFSET = 2208988800
#: A single FDT instance larger than this is refused.
MAX_FDT_BYTES = 1024 * 1024
_P = "FLUTE"


@dataclass(frozen=True, slots=True)
class Fti:
    """FEC Object Transmission Information for Compact No-Code (EXT_FTI or the FDT attributes)."""

    transfer_length: int
    encoding_symbol_length: int
    max_source_block_length: int
    fec_instance_id: int = 0


@dataclass(frozen=True, slots=True)
class LctPacket:
    """One ALC/LCT packet with the Compact No-Code FEC Payload ID (SBN, ESI)."""

    tsi: int
    toi: int
    sbn: int
    esi: int
    payload: bytes
    codepoint: int = COMPACT_NO_CODE
    version: int = 1
    psi: int = 0
    cci: bytes = b"\0\0\0\0"
    tsi_length: int = 4  # bytes: 0, 2, 4 or 6
    toi_length: int = 4  # bytes: 0, 2, 4, 6, 8, 10, 12 or 14 (same half-word flag as the TSI)
    close_session: bool = False
    close_object: bool = False
    sct: int | None = None
    ert: int | None = None
    fti: Fti | None = None
    fdt_instance_id: int | None = None
    flute_version: int | None = None
    content_encoding: int | None = None
    other_extensions: tuple[tuple[int, bytes], ...] = ()


def _field_flags(tsi_length: int, toi_length: int) -> tuple[int, int, int]:
    half = tsi_length % 4 // 2
    if tsi_length not in (0, 2, 4, 6) or toi_length % 2 or toi_length > 14:
        raise DecodeError(
            _P, "TSI/TOI length", "TSI 0/2/4/6, TOI 0..14 bytes", value=(tsi_length, toi_length)
        )
    if toi_length % 4 // 2 != half:
        raise DecodeError(
            _P,
            "H",
            "the TSI and TOI lengths must share the half-word flag",
            value=(tsi_length, toi_length),
        )
    s = (tsi_length - 2 * half) // 4
    o = (toi_length - 2 * half) // 4
    if s > 1 or o > 3:
        raise DecodeError(
            _P, "S/O", "TSI at most 48 bits, TOI at most 112 bits", value=(tsi_length, toi_length)
        )
    return s, o, half


def _extensions(p: LctPacket) -> bytes:
    out = []
    if p.fdt_instance_id is not None:
        version = p.flute_version if p.flute_version is not None else 1
        if not 0 <= p.fdt_instance_id < (1 << 20) or not 0 <= version <= 15:
            raise DecodeError(_P, "EXT_FDT", "FDT Instance ID is 20 bits", value=p.fdt_instance_id)
        out.append(struct.pack("!I", (HET_EXT_FDT << 24) | (version << 20) | p.fdt_instance_id))
    if p.content_encoding is not None:
        if not 0 <= p.content_encoding <= 255:
            raise DecodeError(_P, "EXT_CENC", "CENC is 8 bits", value=p.content_encoding)
        out.append(bytes([HET_EXT_CENC, p.content_encoding, 0, 0]))
    if p.fti is not None:
        f = p.fti
        if not 0 <= f.transfer_length < (1 << 48):
            raise DecodeError(_P, "EXT_FTI", "Transfer Length is 48 bits", value=f.transfer_length)
        if (
            not 0 < f.encoding_symbol_length <= 0xFFFF
            or not 0 < f.max_source_block_length <= 0xFFFFFFFF
        ):
            raise DecodeError(
                _P, "EXT_FTI", "symbol length 1-65535, block length 1-2^32-1", value=f
            )
        out.append(
            struct.pack(
                "!BBHIHHI",
                HET_EXT_FTI,
                4,
                f.transfer_length >> 32,
                f.transfer_length & 0xFFFFFFFF,
                f.fec_instance_id,
                f.encoding_symbol_length,
                f.max_source_block_length,
            )
        )
    for het, data in p.other_extensions:
        if het < 128:
            if (len(data) + 2) % 4 or len(data) + 2 > 255 * 4:
                raise DecodeError(
                    _P, "HEL", "an extension is a whole number of 32-bit words", value=het
                )
            out.append(bytes([het, (len(data) + 2) // 4]) + data)
        else:
            if len(data) != 3:
                raise DecodeError(_P, "HET", "fixed-length extensions carry 3 bytes", value=het)
            out.append(bytes([het]) + data)
    return b"".join(out)


_FEC_PAYLOAD_ID = struct.Struct("!HH")


def encode_header(p: LctPacket) -> bytes:
    """The LCT header and FEC Payload ID of `p` (everything before the symbol)."""
    s, o, h = _field_flags(p.tsi_length, p.toi_length)
    if len(p.cci) not in (4, 8, 12, 16):
        raise DecodeError(_P, "CCI", "4, 8, 12 or 16 bytes", value=p.cci)
    if p.tsi >= 1 << (8 * p.tsi_length) or p.toi >= 1 << (8 * p.toi_length):
        raise DecodeError(_P, "TSI/TOI", "does not fit its field", value=(p.tsi, p.toi))
    if not 0 <= p.sbn <= 0xFFFF or not 0 <= p.esi <= 0xFFFF:
        raise DecodeError(_P, "FEC Payload ID", "SBN and ESI are 16 bits", value=(p.sbn, p.esi))
    times = b""
    if p.sct is not None:
        times += struct.pack("!I", p.sct)
    if p.ert is not None:
        times += struct.pack("!I", p.ert)
    ext = _extensions(p)
    length = 4 + len(p.cci) + p.tsi_length + p.toi_length + len(times) + len(ext)
    if length // 4 > 255:
        raise DecodeError(_P, "HDR_LEN", "the header exceeds 255 words", value=length)
    first = (
        (p.version << 12)
        | ((len(p.cci) // 4 - 1) << 10)
        | (p.psi << 8)
        | (s << 7)
        | (o << 5)
        | (h << 4)
        | ((p.sct is not None) << 3)
        | ((p.ert is not None) << 2)
        | (p.close_session << 1)
        | int(p.close_object)
    )
    return b"".join(
        (
            struct.pack("!HBB", first, length // 4, p.codepoint),
            p.cci,
            p.tsi.to_bytes(p.tsi_length, "big"),
            p.toi.to_bytes(p.toi_length, "big"),
            times,
            ext,
            struct.pack("!HH", p.sbn, p.esi),
        )
    )


def encode_packet(p: LctPacket) -> bytes:
    return encode_header(p) + p.payload


def decode_packet(data: bytes) -> LctPacket:
    """Parse one ALC/LCT datagram (Compact No-Code FEC Payload ID)."""
    data = bytes(data)
    if len(data) < 8:
        raise DecodeError(_P, "LCT header", "truncated", value=data, offset=0)
    first, hdr_words, codepoint = struct.unpack_from("!HBB", data)
    version = first >> 12
    if version != 1:
        raise DecodeError(_P, "V", "LCT version 1 only", value=version, offset=0)
    cci_len = 4 * (((first >> 10) & 3) + 1)
    half = (first >> 4) & 1
    tsi_len = 4 * ((first >> 7) & 1) + 2 * half
    toi_len = 4 * ((first >> 5) & 3) + 2 * half
    hdr_len = 4 * hdr_words
    fixed = 4 + cci_len + tsi_len + toi_len + 4 * ((first >> 3) & 1) + 4 * ((first >> 2) & 1)
    if hdr_len < fixed:
        raise DecodeError(
            _P,
            "HDR_LEN",
            f"shorter than the fixed fields ({fixed} bytes)",
            value=hdr_words,
            offset=2,
        )
    if len(data) < hdr_len + 4:
        raise DecodeError(_P, "HDR_LEN", "longer than the packet", value=hdr_words, offset=2)
    if codepoint != COMPACT_NO_CODE:
        raise DecodeError(
            _P, "Codepoint", "only FEC Encoding ID 0 (Compact No-Code)", value=codepoint, offset=3
        )
    offset = 4
    cci = data[offset : offset + cci_len]
    offset += cci_len
    tsi = int.from_bytes(data[offset : offset + tsi_len], "big")
    offset += tsi_len
    toi = int.from_bytes(data[offset : offset + toi_len], "big")
    offset += toi_len
    sct = ert = None
    if first & 0x08:
        (sct,) = struct.unpack_from("!I", data, offset)
        offset += 4
    if first & 0x04:
        (ert,) = struct.unpack_from("!I", data, offset)
        offset += 4
    fti = fdt_id = flute_version = cenc = None
    others = []
    while offset < hdr_len:
        het = data[offset]
        if het < 128:
            if offset + 2 > hdr_len:
                raise DecodeError(_P, "HEL", "truncated extension", offset=offset)
            length = 4 * data[offset + 1]
            if length == 0 or offset + length > hdr_len:
                raise DecodeError(
                    _P,
                    "HEL",
                    "extension length outside the header",
                    value=length // 4,
                    offset=offset + 1,
                )
        else:
            length = 4
        ext = data[offset : offset + length]
        if het == HET_EXT_FTI:
            if length != 16:
                raise DecodeError(
                    _P,
                    "EXT_FTI",
                    "HEL must be 4 for Compact No-Code",
                    value=length // 4,
                    offset=offset,
                )
            _, _, hi, lo, instance, esl, msbl = struct.unpack("!BBHIHHI", ext)
            if esl == 0 or msbl == 0:
                raise DecodeError(
                    _P, "EXT_FTI", "zero symbol or block length", value=(esl, msbl), offset=offset
                )
            fti = Fti((hi << 32) | lo, esl, msbl, instance)
        elif het == HET_EXT_FDT:
            (word,) = struct.unpack("!I", ext)
            flute_version, fdt_id = (word >> 20) & 0xF, word & 0xFFFFF
        elif het == HET_EXT_CENC:
            cenc = ext[1]
        else:
            others.append((het, ext[2:] if het < 128 else ext[1:]))
        offset += length
    sbn, esi = struct.unpack_from("!HH", data, hdr_len)
    return LctPacket(
        tsi=tsi,
        toi=toi,
        sbn=sbn,
        esi=esi,
        payload=data[hdr_len + 4 :],
        codepoint=codepoint,
        version=version,
        psi=(first >> 8) & 3,
        cci=cci,
        tsi_length=tsi_len,
        toi_length=toi_len,
        close_session=bool(first & 2),
        close_object=bool(first & 1),
        sct=sct,
        ert=ert,
        fti=fti,
        fdt_instance_id=fdt_id,
        flute_version=flute_version,
        content_encoding=cenc,
        other_extensions=tuple(others),
    )


def blocks(transfer_length: int, symbol_length: int, max_block: int) -> list[int]:
    """Symbols per source block (RFC 3926 section 9.1 / RFC 5052 section 9.1)."""
    total = math.ceil(transfer_length / symbol_length)
    if total == 0:
        return []
    count = math.ceil(total / max_block)
    if count > 0x10000:
        raise DecodeError(_P, "SBN", "more than 65536 source blocks", value=count)
    large, small = math.ceil(total / count), total // count
    n_large = total - small * count
    return [large] * n_large + [small] * (count - n_large)


# --- FDT instances ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FdtFile:
    content_location: str
    toi: int
    content_length: int | None = None
    transfer_length: int | None = None
    content_type: str | None = None
    content_encoding: str | None = None
    content_md5: bytes | None = None
    fec_encoding_id: int | None = None
    encoding_symbol_length: int | None = None
    max_source_block_length: int | None = None

    def fti(self, default: Fti | None = None) -> Fti | None:
        length = self.transfer_length if self.transfer_length is not None else self.content_length
        esl = self.encoding_symbol_length or (default.encoding_symbol_length if default else None)
        msbl = self.max_source_block_length or (
            default.max_source_block_length if default else None
        )
        if length is None or not esl or not msbl:
            return None
        return Fti(length, esl, msbl)


@dataclass(frozen=True, slots=True)
class FdtInstance:
    expires: int  # NTP seconds
    files: tuple[FdtFile, ...]
    complete: bool | None = None
    fec_encoding_id: int | None = None
    encoding_symbol_length: int | None = None
    max_source_block_length: int | None = None

    def default_fti(self) -> Fti | None:
        if self.encoding_symbol_length and self.max_source_block_length:
            return Fti(0, self.encoding_symbol_length, self.max_source_block_length)
        return None


_FILE_INTS = (
    ("Content-Length", "content_length"),
    ("Transfer-Length", "transfer_length"),
    ("FEC-OTI-FEC-Encoding-ID", "fec_encoding_id"),
    ("FEC-OTI-Encoding-Symbol-Length", "encoding_symbol_length"),
    ("FEC-OTI-Maximum-Source-Block-Length", "max_source_block_length"),
)


def write_fdt(fdt: FdtInstance, *, version: int = 1) -> bytes:
    ns = FDT_NAMESPACES[version]
    root = etree.Element(f"{{{ns}}}FDT-Instance", nsmap={None: ns})
    root.set("Expires", str(fdt.expires))
    if fdt.complete is not None:
        root.set("Complete", "true" if fdt.complete else "false")
    for attr, name in _FILE_INTS[2:]:
        if (value := getattr(fdt, name)) is not None:
            root.set(attr, str(value))
    if not fdt.files:
        raise DecodeError(_P, "FDT-Instance", "lists at least one File")
    for f in fdt.files:
        el = etree.SubElement(root, f"{{{ns}}}File")
        el.set("Content-Location", f.content_location)
        el.set("TOI", str(f.toi))
        for attr, name in _FILE_INTS:
            if (value := getattr(f, name)) is not None:
                el.set(attr, str(value))
        if f.content_type is not None:
            el.set("Content-Type", f.content_type)
        if f.content_encoding is not None:
            el.set("Content-Encoding", f.content_encoding)
        if f.content_md5 is not None:
            el.set("Content-MD5", base64.b64encode(f.content_md5).decode("ascii"))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _uint(el, attr: str, *, positive: bool = False) -> int | None:
    raw = el.get(attr)
    if raw is None:
        return None
    text = raw.strip()
    if (
        not text.isascii()
        or not text.isdigit()
        or int(text) >= 1 << 64
        or (positive and int(text) == 0)
    ):
        raise DecodeError(
            _P,
            f"{etree.QName(el).localname} @{attr}",
            f"line {el.sourceline}: not an unsigned integer",
            value=raw,
        )
    return int(text)


def parse_fdt(data: bytes) -> FdtInstance:
    """Parse an FDT instance (hardened: no DTD, no entities, no network, size limit)."""
    if len(data) > MAX_FDT_BYTES:
        raise DecodeError(_P, "FDT-Instance", f"larger than {MAX_FDT_BYTES} bytes", value=len(data))
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise DecodeError(_P, "FDT-Instance", "DTDs and entities are not allowed")
    try:
        root = etree.fromstring(data, hardened_parser())
    except etree.XMLSyntaxError as exc:
        raise DecodeError(_P, "FDT-Instance", f"not well-formed XML ({exc})") from None
    qname = etree.QName(root)
    if qname.localname != "FDT-Instance" or qname.namespace not in _READ_NAMESPACES:
        raise DecodeError(_P, "FDT-Instance", "unexpected root element", value=root.tag)
    expires = _uint(root, "Expires")
    if expires is None:
        raise DecodeError(_P, "FDT-Instance @Expires", "missing (required)")
    complete = root.get("Complete")
    if complete not in (None, "true", "false", "1", "0"):
        raise DecodeError(_P, "FDT-Instance @Complete", "not a boolean", value=complete)
    files = []
    for el in root:
        if not isinstance(el.tag, str) or etree.QName(el).localname != "File":
            continue
        if etree.QName(el).namespace != qname.namespace:
            continue
        location = el.get("Content-Location")
        if not location:
            raise DecodeError(_P, "File @Content-Location", f"line {el.sourceline}: missing")
        toi = _uint(el, "TOI", positive=True)
        if toi is None:
            raise DecodeError(
                _P, "File @TOI", f"line {el.sourceline}: missing or 0", value=location
            )
        md5 = None
        if (raw := el.get("Content-MD5")) is not None:
            try:
                md5 = base64.b64decode(raw, validate=True)
            except ValueError:
                raise DecodeError(
                    _P, "File @Content-MD5", f"line {el.sourceline}: not base64", value=raw
                ) from None
            if len(md5) != 16:
                raise DecodeError(
                    _P, "File @Content-MD5", f"line {el.sourceline}: not 16 bytes", value=raw
                )
        files.append(
            FdtFile(
                content_location=location,
                toi=toi,
                content_type=el.get("Content-Type"),
                content_encoding=el.get("Content-Encoding"),
                content_md5=md5,
                **{name: _uint(el, attr) for attr, name in _FILE_INTS},
            )
        )
    if not files:
        raise DecodeError(_P, "FDT-Instance", "lists no File")
    return FdtInstance(
        expires=expires,
        files=tuple(files),
        complete=None if complete is None else complete in ("true", "1"),
        fec_encoding_id=_uint(root, "FEC-OTI-FEC-Encoding-ID"),
        encoding_symbol_length=_uint(root, "FEC-OTI-Encoding-Symbol-Length"),
        max_source_block_length=_uint(root, "FEC-OTI-Maximum-Source-Block-Length"),
    )


def ntp_now(offset_seconds: int = 0) -> int:
    return (int(time.time()) + NTP_OFFSET + offset_seconds) & 0xFFFFFFFF


# --- sender ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SenderFile:
    """A file of a FLUTE session. `open` returns a fresh binary stream of its bytes each cycle
    (a path's `open`, or `io.BytesIO` for data in memory); `md5` is its digest."""

    toi: int
    content_location: str
    length: int
    md5: bytes
    open: Callable[[], BinaryIO]
    content_type: str | None = None


@dataclass
class Session:
    """One FLUTE session (one channel): its TSI, files, FDT instance id and parameters."""

    tsi: int
    files: tuple[SenderFile, ...]
    fdt_instance_id: int = 0
    version: int = 1
    symbol_length: int = 1400
    max_source_block_length: int = 64
    expires_in: int = 3600
    tsi_length: int = 4
    toi_length: int = 4
    #: Resend the FDT before each file and after every this many data packets.
    fdt_every: int = 1000
    _fdt_cache: tuple[int, list[bytes]] | None = field(default=None, repr=False)

    def fdt(self) -> FdtInstance:
        return FdtInstance(
            expires=ntp_now(self.expires_in),
            files=tuple(
                FdtFile(
                    content_location=f.content_location,
                    toi=f.toi,
                    content_length=f.length,
                    transfer_length=f.length,
                    content_type=f.content_type,
                    content_md5=f.md5,
                )
                for f in self.files
            ),
            complete=True,
            fec_encoding_id=COMPACT_NO_CODE,
            encoding_symbol_length=self.symbol_length,
            max_source_block_length=self.max_source_block_length,
        )

    def fdt_packets(self) -> list[bytes]:
        """The FDT instance's packets (rebuilt at most once a minute, for a fresh Expires)."""
        now = int(time.monotonic())
        if self._fdt_cache is not None and now - self._fdt_cache[0] < 60:
            return self._fdt_cache[1]
        xml = write_fdt(self.fdt(), version=self.version)
        fti = Fti(len(xml), self.symbol_length, self.max_source_block_length)
        packets = []
        offset = 0
        for sbn, count in enumerate(
            blocks(len(xml), self.symbol_length, self.max_source_block_length)
        ):
            for esi in range(count):
                chunk = xml[offset : offset + self.symbol_length]
                offset += len(chunk)
                packets.append(
                    encode_packet(
                        LctPacket(
                            tsi=self.tsi,
                            toi=FDT_TOI,
                            sbn=sbn,
                            esi=esi,
                            payload=chunk,
                            tsi_length=self.tsi_length,
                            toi_length=self.toi_length,
                            fti=fti,
                            fdt_instance_id=self.fdt_instance_id,
                            flute_version=self.version,
                        )
                    )
                )
        self._fdt_cache = (now, packets)
        return packets

    def file_packets(self, f: SenderFile) -> Iterator[bytes]:
        """The packets of one file, read from its stream block by block.

        The sender's hot path (one call per datagram at up to ~100k datagrams/s): the LCT header
        of a file's data packets differs only in the trailing FEC Payload ID (SBN, ESI), so it is
        encoded once and the 4 bytes packed per packet (byte-identical to `encode_header`)."""
        layout = blocks(f.length, self.symbol_length, self.max_source_block_length)
        if len(layout) > 0x10000 or max(layout, default=0) > 0x10000:
            raise DecodeError(_P, "FEC Payload ID", "SBN and ESI are 16 bits", value=len(layout))
        prefix = encode_header(
            LctPacket(
                tsi=self.tsi,
                toi=f.toi,
                sbn=0,
                esi=0,
                payload=b"",
                tsi_length=self.tsi_length,
                toi_length=self.toi_length,
            )
        )[:-4]
        pack = _FEC_PAYLOAD_ID.pack
        step = self.symbol_length
        with f.open() as stream:
            for sbn, count in enumerate(layout):
                data = stream.read(count * step)
                view = memoryview(data)
                for esi in range(count):
                    chunk = view[esi * step : (esi + 1) * step]
                    if not chunk:
                        raise OSError(f"{f.content_location}: shorter than its {f.length} bytes")
                    yield b"".join((prefix, pack(sbn, esi), chunk))

    def cycle(self) -> Iterator[bytes]:
        """One carousel cycle: the FDT, then each file, the FDT repeated before each file and
        every `fdt_every` data packets (so a receiver joining mid-cycle learns it soon)."""
        yield from self.fdt_packets()
        for f in self.files:
            yield from self.fdt_packets()
            for n, packet in enumerate(self.file_packets(f), 1):
                yield packet
                if n % self.fdt_every == 0:
                    yield from self.fdt_packets()


def md5_of(stream: BinaryIO) -> bytes:
    digest = hashlib.md5(usedforsecurity=False)
    while chunk := stream.read(1 << 20):
        digest.update(chunk)
    return digest.digest()


# --- receiver --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReceivedFile:
    content_location: str
    toi: int
    data: bytes
    md5_checked: bool


class _Object:
    __slots__ = ("size", "symbols")

    def __init__(self) -> None:
        self.symbols: dict[tuple[int, int], bytes] = {}
        self.size = 0


class Receiver:
    """Reassembles the files of one FLUTE session (or any TSI when `tsi` is None) from datagrams.

    `feed(datagram)` returns the files this datagram completed (length and Content-MD5 checked
    against the FDT; a mismatch is dropped, counted in `stats["md5"]`, and the file is collected
    again on a later cycle). A file is delivered once per content (its TOI, length and MD5). Symbols
    that arrive before their FDT entry are kept (bounded by `max_buffered` bytes). Outside bytes
    never raise: malformed packets are counted in `stats`.
    """

    def __init__(
        self,
        tsi: int | None = None,
        *,
        max_object_size: int = 4 * 1024**3,
        max_buffered: int = 512 * 1024**2,
        max_objects: int = 1024,
    ) -> None:
        self.tsi = tsi
        self.max_object_size = max_object_size
        self.max_buffered = max_buffered
        self.max_objects = max_objects
        self.stats: Counter[str] = Counter()
        self.files: dict[int, FdtFile] = {}  # TOI -> entry of the newest FDT instance naming it
        self.fdt_defaults: Fti | None = None
        self.fdt_instance_ids: set[int] = set()
        self.delivered: dict[int, tuple[int | None, bytes | None]] = {}
        self._objects: OrderedDict[tuple[int, int], _Object] = OrderedDict()
        self._fdt_fti: dict[int, Fti] = {}
        self._buffered = 0

    def feed(self, datagram: bytes) -> list[ReceivedFile]:
        self.stats["packets"] += 1
        try:
            p = decode_packet(datagram)
        except DecodeError:
            self.stats["malformed"] += 1
            return []
        if self.tsi is not None and p.tsi != self.tsi:
            self.stats["other_tsi"] += 1
            return []
        if p.toi == FDT_TOI:
            return self._fdt_packet(p)
        return self._file_packet(p)

    def _store(self, key: tuple[int, int], p: LctPacket) -> _Object | None:
        obj = self._objects.get(key)
        if obj is None:
            obj = self._objects[key] = _Object()
            while len(self._objects) > self.max_objects:
                _, dropped = self._objects.popitem(last=False)
                self._buffered -= dropped.size
                self.stats["evicted"] += 1
        if (p.sbn, p.esi) in obj.symbols:
            self.stats["duplicates"] += 1
            return obj
        if self._buffered + len(p.payload) > self.max_buffered:
            self.stats["buffer_full"] += 1
            return None
        obj.symbols[(p.sbn, p.esi)] = p.payload
        obj.size += len(p.payload)
        self._buffered += len(p.payload)
        return obj

    def _assemble(self, key: tuple[int, int], obj: _Object, fti: Fti) -> bytes | None:
        try:
            layout = blocks(
                fti.transfer_length, fti.encoding_symbol_length, fti.max_source_block_length
            )
        except DecodeError:
            self.stats["bad_fti"] += 1
            return None
        if len(obj.symbols) < sum(layout):
            return None
        parts = []
        for sbn, count in enumerate(layout):
            for esi in range(count):
                chunk = obj.symbols.get((sbn, esi))
                if chunk is None:
                    return None
                parts.append(chunk)
        data = b"".join(parts)
        self._forget(key)
        if len(data) < fti.transfer_length:
            self.stats["inconsistent"] += 1
            return None
        return data[: fti.transfer_length]

    def _forget(self, key: tuple[int, int]) -> None:
        obj = self._objects.pop(key, None)
        if obj is not None:
            self._buffered -= obj.size

    def _fdt_packet(self, p: LctPacket) -> list[ReceivedFile]:
        if p.fdt_instance_id is None:
            self.stats["fdt_without_ext_fdt"] += 1
            return []
        if p.fdt_instance_id in self.fdt_instance_ids:
            self.stats["fdt_repeats"] += 1
            return []
        if p.fti is not None:
            self._fdt_fti[p.fdt_instance_id] = p.fti
        fti = self._fdt_fti.get(p.fdt_instance_id)
        if fti is not None and fti.transfer_length > MAX_FDT_BYTES:
            self.stats["too_large"] += 1
            return []
        key = (FDT_TOI, p.fdt_instance_id)
        obj = self._store(key, p)
        if obj is None or fti is None:
            return []
        data = self._assemble(key, obj, fti)
        if data is None:
            return []
        try:
            fdt = parse_fdt(data)
        except DecodeError:
            self.stats["bad_fdt"] += 1
            return []
        self.fdt_instance_ids.add(p.fdt_instance_id)
        self.stats["fdt_instances"] += 1
        if fdt.default_fti() is not None:
            self.fdt_defaults = fdt.default_fti()
        completed: list[ReceivedFile] = []
        for f in fdt.files:
            if f.fec_encoding_id not in (None, COMPACT_NO_CODE):
                self.stats["unsupported_fec"] += 1
                continue
            old = self.files.get(f.toi)
            if old is not None and (old.transfer_length, old.content_md5) != (
                f.transfer_length,
                f.content_md5,
            ):
                self._forget((f.toi, 0))  # new content under an old TOI: start again
            self.files[f.toi] = f
            obj = self._objects.get((f.toi, 0))
            if obj is not None:
                completed += self._try_file(f.toi, obj)
        return completed

    def _file_packet(self, p: LctPacket) -> list[ReceivedFile]:
        entry = self.files.get(p.toi)
        if entry is not None and self.delivered.get(p.toi) == (
            entry.transfer_length,
            entry.content_md5,
        ):
            self.stats["already_delivered"] += 1
            return []
        fti = entry.fti(self.fdt_defaults) if entry else p.fti
        if fti is not None and fti.transfer_length > self.max_object_size:
            self.stats["too_large"] += 1
            return []
        obj = self._store((p.toi, 0), p)
        if obj is None or entry is None:
            return []
        return self._try_file(p.toi, obj)

    def _try_file(self, toi: int, obj: _Object) -> list[ReceivedFile]:
        entry = self.files[toi]
        fti = entry.fti(self.fdt_defaults)
        if fti is None:
            self.stats["no_fti"] += 1
            return []
        data = self._assemble((toi, 0), obj, fti)
        if data is None:
            return []
        if entry.content_length is not None and len(data) != entry.content_length:
            self.stats["length"] += 1
            return []
        if (
            entry.content_md5 is not None
            and hashlib.md5(data, usedforsecurity=False).digest() != entry.content_md5
        ):
            self.stats["md5"] += 1
            return []
        self.delivered[toi] = (entry.transfer_length, entry.content_md5)
        self.stats["files"] += 1
        return [ReceivedFile(entry.content_location, toi, data, entry.content_md5 is not None)]


def receive_all(receiver: Receiver, datagrams: Iterable[bytes]) -> list[ReceivedFile]:
    out: list[ReceivedFile] = []
    for d in datagrams:
        out += receiver.feed(d)
    return out
