"""Field validators for identities that come from manufacturers and boxes."""

import re

from django.core.exceptions import ValidationError

_OUI = re.compile(r"[0-9A-F]{6}")


def normalize_oui(value: str) -> str:
    """An IEEE OUI as six upper-case hex digits; separators (-, :, space) are accepted and dropped."""
    return re.sub(r"[\s:.-]", "", str(value or "")).upper()


def validate_oui(value: str) -> None:
    if not _OUI.fullmatch(value or ""):
        raise ValidationError(
            "%(value)r is not an OUI: it must be exactly six hexadecimal digits (e.g. 00D09E).",
            code="invalid_oui",
            params={"value": value},
        )


def validate_version_string(value: str) -> None:
    if not value or value != value.strip() or any(ord(c) < 32 for c in value):
        raise ValidationError(
            "%(value)r is not a usable version: no leading/trailing spaces or control characters.",
            code="invalid_version",
            params={"value": value},
        )
