"""HTTP range requests (RFC 9110 section 14) and entity tags, without any framework.

`parse_range(header, size)` answers what to send for a ``Range`` header on a representation of
`size` bytes: ``None`` (send it all: no header, a header we may ignore — another unit, bad syntax,
too many ranges), a list of satisfiable ranges (inclusive ``(first, last)`` pairs, sorted, with
overlapping and adjacent ones merged), or `Unsatisfiable` (answer 416).
"""

from __future__ import annotations

import re

MAX_RANGES = 16
MAX_HEADER = 1024

_SPEC = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


class Unsatisfiable(ValueError):
    """No range of the header overlaps the representation: 416, ``Content-Range: bytes */size``."""


def parse_range(header: str | None, size: int) -> list[tuple[int, int]] | None:
    if not header:
        return None
    if len(header) > MAX_HEADER:
        return None
    unit, sep, specs = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    parts = specs.split(",")
    if len(parts) > MAX_RANGES:
        return None
    if size == 0:
        raise Unsatisfiable(header)  # an empty representation has no byte to select
    wanted: list[tuple[int, int]] = []
    for part in parts:
        match = _SPEC.match(part)
        if match is None:
            return None  # invalid syntax: RFC 9110 lets us ignore the header
        first_text, last_text = match.groups()
        if not first_text and not last_text:
            return None
        if not first_text:  # suffix range: the last N bytes
            length = int(last_text)
            if length == 0:
                continue
            wanted.append((max(size - length, 0), size - 1))
            continue
        first = int(first_text)
        last = int(last_text) if last_text else size - 1
        if last_text and last < first:
            return None
        if first >= size:
            continue  # not satisfiable on its own
        wanted.append((first, min(last, size - 1)))
    if not wanted:
        raise Unsatisfiable(header)
    wanted.sort()
    merged = [wanted[0]]
    for first, last in wanted[1:]:
        if first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def etag_matches(header: str | None, etag: str, *, weak: bool) -> bool:
    """Whether an ``If-None-Match`` (weak comparison) or ``If-Range`` (strong) header names
    `etag` (quoted). ``*`` matches anything for If-None-Match."""
    if not header:
        return False
    header = header.strip()
    if weak and header == "*":
        return True
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate.startswith("W/"):
            if not weak:
                continue
            candidate = candidate[2:]
        if candidate == etag:
            return True
    return False
