"""The ACS settings, read on first use (never at import) with their defaults, checked once.

`acs_settings()` is on the /cwmp hot path (a dozen calls per POST), so the checked result is kept
until a setting changes (`setting_changed`: tests' `settings` fixture, `override_settings`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

AUTH_MODES = ("digest", "basic", "none")
UNKNOWN_POLICIES = ("known-ouis", "all", "refuse")


@dataclass(frozen=True)
class AcsSettings:
    auth: str
    realm: str
    digest_algorithms: tuple[str, ...]
    nonce_lifetime: int
    unknown_devices: str
    bootstrap_username: str
    bootstrap_password: str
    max_concurrent_sessions: int
    session_count_ttl: float
    session_timeout: timedelta
    retry_after: int
    max_body: int
    transcripts: int
    transcript_max_bytes: int
    online_grace: timedelta
    assumed_inform_interval: int
    task_retry_base: int
    connection_request_timeout: float
    download_base_url: str
    prepared_statements: bool
    provision_connection_request_credentials: bool


@functools.cache
def acs_settings() -> AcsSettings:
    auth = str(getattr(settings, "CWMP_AUTH", "digest")).lower()
    if auth not in AUTH_MODES:
        raise ImproperlyConfigured(f"CWMP_AUTH={auth!r}: expected one of {', '.join(AUTH_MODES)}")
    unknown = str(getattr(settings, "CWMP_UNKNOWN_DEVICES", "known-ouis")).lower()
    if unknown not in UNKNOWN_POLICIES:
        raise ImproperlyConfigured(
            f"CWMP_UNKNOWN_DEVICES={unknown!r}: expected one of {', '.join(UNKNOWN_POLICIES)}"
        )
    algorithms = tuple(
        a.strip().upper() for a in getattr(settings, "CWMP_DIGEST_ALGORITHMS", ("SHA-256", "MD5"))
    )
    for algorithm in algorithms:
        if algorithm not in ("MD5", "SHA-256"):
            raise ImproperlyConfigured(
                f"CWMP_DIGEST_ALGORITHMS: {algorithm!r} is not MD5 or SHA-256"
            )
    return AcsSettings(
        auth=auth,
        realm=getattr(settings, "CWMP_REALM", "rms-fus"),
        digest_algorithms=algorithms or ("SHA-256", "MD5"),
        nonce_lifetime=int(getattr(settings, "CWMP_NONCE_LIFETIME", 300)),
        unknown_devices=unknown,
        bootstrap_username=getattr(settings, "CWMP_BOOTSTRAP_USERNAME", ""),
        bootstrap_password=getattr(settings, "CWMP_BOOTSTRAP_PASSWORD", ""),
        max_concurrent_sessions=int(getattr(settings, "CWMP_MAX_CONCURRENT_SESSIONS", 1000)),
        session_count_ttl=float(getattr(settings, "CWMP_SESSION_COUNT_TTL", 1.0)),
        session_timeout=timedelta(seconds=int(getattr(settings, "CWMP_SESSION_TIMEOUT", 60))),
        retry_after=int(getattr(settings, "CWMP_RETRY_AFTER", 30)),
        max_body=int(getattr(settings, "CWMP_MAX_BODY", 1024 * 1024)),
        transcripts=int(getattr(settings, "CWMP_TRANSCRIPTS", 5)),
        transcript_max_bytes=int(getattr(settings, "CWMP_TRANSCRIPT_MAX_BYTES", 64 * 1024)),
        online_grace=timedelta(seconds=int(getattr(settings, "CWMP_ONLINE_GRACE", 120))),
        assumed_inform_interval=int(getattr(settings, "CWMP_ASSUMED_INFORM_INTERVAL", 3600)),
        task_retry_base=int(getattr(settings, "CWMP_TASK_RETRY_BASE", 60)),
        connection_request_timeout=float(getattr(settings, "CWMP_CONNECTION_REQUEST_TIMEOUT", 10)),
        download_base_url=getattr(settings, "FUS_DOWNLOAD_BASE_URL", ""),
        prepared_statements=bool(getattr(settings, "CWMP_PREPARED_STATEMENTS", True)),
        provision_connection_request_credentials=bool(
            getattr(settings, "CWMP_PROVISION_CONNECTION_REQUEST_CREDENTIALS", True)
        ),
    )


@receiver(setting_changed)
def _forget(setting: str, **kwargs) -> None:
    if setting.startswith(("CWMP_", "FUS_DOWNLOAD_")):
        acs_settings.cache_clear()
