"""The FUS delivery settings (download server, QRC, reports), read at call time with defaults and
checked: a wrong value is an `ImproperlyConfigured` naming the setting and the value."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.crypto import salted_hmac

DOWNLOAD_AUTH_MODES = ("none", "signed-url", "digest")
QRC_AUTH_MODES = ("none", "digest")
QRC_MODES = ("unmanaged", "managed", "any")


@dataclass(frozen=True)
class FusDeliverySettings:
    download_base_url: str
    download_auth: str
    download_url_ttl: int
    download_accel_redirect: str
    download_chunk_size: int
    url_secret: bytes
    digest_secret: bytes
    digest_realm: str
    digest_algorithms: tuple[str, ...]
    nonce_lifetime: int
    qrc_auth: str
    qrc_mode: str
    qrc_max_body: int
    report_max_body: int
    report_rate: int


def _choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = str(getattr(settings, name, default) or default).lower()
    if value not in allowed:
        raise ImproperlyConfigured(f"{name}={value!r}: expected one of {', '.join(allowed)}")
    return value


def _positive(name: str, default: int) -> int:
    raw = getattr(settings, name, default)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"{name}={raw!r}: expected a whole number") from None
    if value <= 0:
        raise ImproperlyConfigured(f"{name}={raw!r}: expected a positive number")
    return value


def _secret(name: str, salt: str) -> bytes:
    value = getattr(settings, name, "")
    if value:
        return str(value).encode()
    # Derived from SECRET_KEY: stable across processes, distinct per purpose.
    return salted_hmac(salt, "fus-delivery", algorithm="sha256").digest()


@functools.cache
def delivery_settings() -> FusDeliverySettings:
    """The checked settings; computed once per process (the QRC and the download server ask on
    every request), recomputed when a test overrides a setting."""
    accel = str(getattr(settings, "FUS_DOWNLOAD_ACCEL_REDIRECT", "") or "")
    if accel and not (accel.startswith("/") and accel.endswith("/")):
        raise ImproperlyConfigured(
            f"FUS_DOWNLOAD_ACCEL_REDIRECT={accel!r}: expected an nginx internal location such as "
            "'/protected-firmware/' (leading and trailing slash)"
        )
    algorithms = tuple(
        str(a).strip().upper()
        for a in getattr(settings, "FUS_DIGEST_ALGORITHMS", ("SHA-256", "MD5"))
    )
    for algorithm in algorithms:
        if algorithm not in ("MD5", "SHA-256"):
            raise ImproperlyConfigured(
                f"FUS_DIGEST_ALGORITHMS: {algorithm!r} is not MD5 or SHA-256"
            )
    base = str(getattr(settings, "FUS_DOWNLOAD_BASE_URL", "") or "")
    if base and not base.startswith(("http://", "https://")):
        raise ImproperlyConfigured(f"FUS_DOWNLOAD_BASE_URL={base!r}: expected an http(s) URL")
    return FusDeliverySettings(
        download_base_url=base.rstrip("/"),
        download_auth=_choice("FUS_DOWNLOAD_AUTH", "none", DOWNLOAD_AUTH_MODES),
        download_url_ttl=_positive("FUS_DOWNLOAD_URL_TTL", 7 * 24 * 3600),
        download_accel_redirect=accel,
        download_chunk_size=_positive("FUS_DOWNLOAD_CHUNK_SIZE", 1024 * 1024),
        url_secret=_secret("FUS_DOWNLOAD_URL_SECRET", "fus.delivery.signed-url"),
        digest_secret=_secret("FUS_DIGEST_SECRET", "fus.delivery.digest"),
        digest_realm=str(getattr(settings, "FUS_DIGEST_REALM", "rms-fus FUS")),
        digest_algorithms=algorithms or ("SHA-256", "MD5"),
        nonce_lifetime=_positive("FUS_DIGEST_NONCE_LIFETIME", 300),
        qrc_auth=_choice("FUS_QRC_AUTH", "none", QRC_AUTH_MODES),
        qrc_mode=_choice("FUS_QRC_MODE", "unmanaged", QRC_MODES),
        qrc_max_body=_positive("FUS_QRC_MAX_BODY", 64 * 1024),
        report_max_body=_positive("FUS_REPORT_MAX_BODY", 16 * 1024),
        report_rate=_positive("FUS_REPORT_RATE", 60),
    )


@receiver(setting_changed)
def _forget(setting: str, **kwargs) -> None:
    if setting.startswith("FUS_") or setting == "SECRET_KEY":
        delivery_settings.cache_clear()
