"""Device identifiers as RangeLists compare them: serial numbers and MAC addresses.

The rules are decided in docs/decisions/0002-rangelist-semantics.md:

* Serial numbers are unconstrained strings. Leading ``0`` characters are not significant; what is
  left is ordered by length first, then by Unicode code point. All-digit strings therefore compare
  numerically (``"9" < "10"``, ``"007" == "7"``), fixed-width hexadecimal serials compare as
  numbers, and ``"SN99" < "SN100"``. The order is a total preorder (a key function), so ranges
  are well defined, and it is a plain ``(length, text)`` comparison a database can index.
* MAC addresses are accepted as ``aa:bb:cc:dd:ee:ff``, ``AA-BB-CC-DD-EE-FF``, ``aabb.ccdd.eeff`` or
  twelve bare hex digits, in any letter case, and compared as 48-bit integers.
"""

from __future__ import annotations

import re

SerialKey = tuple[int, str]

_MAC_PATTERNS = (
    re.compile(r"[0-9A-Fa-f]{2}(?P<sep>[:-])[0-9A-Fa-f]{2}(?:(?P=sep)[0-9A-Fa-f]{2}){4}"),
    re.compile(r"[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}"),
    re.compile(r"[0-9A-Fa-f]{12}"),
)
_NOT_HEX = re.compile(r"[^0-9A-Fa-f]")

#: Width of the length prefix of `serial_index_key`.
_INDEX_LENGTH_DIGITS = 4


def serial_key(serial: str) -> SerialKey:
    """The ordering key of a serial number: (length, text) of the serial without leading zeros."""
    significant = serial.lstrip("0")
    return (len(significant), significant)


def serial_index_key(serial: str) -> str:
    """`serial_key` as one string whose code-point order is the serial order.

    For a database column (``COLLATE "C"``, or any byte-wise collation of UTF-8) on which range
    queries are plain ``BETWEEN`` comparisons. Serials longer than 9999 significant characters are
    refused.
    """
    length, significant = serial_key(serial)
    if length >= 10**_INDEX_LENGTH_DIGITS:
        raise ValueError("serial number too long to index")
    return f"{length:0{_INDEX_LENGTH_DIGITS}d}{significant}"


def serials_equal(a: str, b: str) -> bool:
    """Whether two serial numbers name the same device under the ordering rule."""
    return serial_key(a) == serial_key(b)


def parse_mac(value: str) -> int:
    """A MAC address in one of the accepted notations as a 48-bit integer; ValueError otherwise."""
    if not isinstance(value, str) or not any(p.fullmatch(value) for p in _MAC_PATTERNS):
        raise ValueError(
            f"{value!r} is not a MAC address (expected aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff, "
            "aabb.ccdd.eeff or 12 hex digits)"
        )
    return int(_NOT_HEX.sub("", value), 16)


def try_parse_mac(value: str | None) -> int | None:
    """`parse_mac`, or None for a missing or malformed MAC address."""
    if value is None:
        return None
    try:
        return parse_mac(value)
    except ValueError:
        return None


def format_mac(value: int) -> str:
    """A 48-bit integer as ``aa:bb:cc:dd:ee:ff``."""
    if not 0 <= value < 1 << 48:
        raise ValueError(f"{value} is not a 48-bit MAC address")
    digits = f"{value:012x}"
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))
