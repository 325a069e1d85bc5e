"""The one error type of the multicast codecs."""

from __future__ import annotations

__all__ = ["DecodeError"]

_PREVIEW = 40


def _preview(value: object) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        text = raw[:_PREVIEW].hex()
        return f"0x{text}{'...' if len(raw) > _PREVIEW else ''} ({len(raw)} bytes)"
    text = repr(value)
    return text if len(text) <= 2 * _PREVIEW else text[: 2 * _PREVIEW] + "..."


class DecodeError(ValueError):
    """Outside bytes (or a value to encode) that the protocol does not allow.

    `protocol` (e.g. "SAP"), `field` (the header field or element), `offset` (byte offset in the
    datagram/section, when known), `value` (what was found) and a human `reason`.
    """

    def __init__(
        self,
        protocol: str,
        field: str,
        reason: str,
        *,
        value: object = None,
        offset: int | None = None,
    ) -> None:
        self.protocol = protocol
        self.field = field
        self.reason = reason
        self.value = value
        self.offset = offset
        where = f" at offset {offset}" if offset is not None else ""
        shown = f" = {_preview(value)}" if value is not None else ""
        super().__init__(f"{protocol}: {field}{shown}{where}: {reason}")
