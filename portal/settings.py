"""Settings for the RMS-FUS portal, read from environment variables only.

Every variable is documented in `.env.example`. With none set, the portal runs on its embedded
defaults: SQLite and the Celery filesystem broker under the runtime folder `var/`, and the in-process
channel layer. Production sets `DATABASE_URL` (PostgreSQL) and `REDIS_URL` (Celery broker + Channels
layer) and runs several stateless web processes and Celery workers.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Runtime folder -----------------------------------------------------------------------------
VAR_DIR = Path(env.str("PORTAL_VAR_DIR", default=str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else generated once into var/secret_key (mode 0600)."""
    key = env.str("SECRET_KEY", default="")
    if key:
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(50))
    key = path.read_text().strip()
    if not key:
        raise ImproperlyConfigured(f"{path} is empty: delete it to generate a new SECRET_KEY.")
    return key


SECRET_KEY = _secret_key()
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- Applications -------------------------------------------------------------------------------
INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "django_tables2",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_celery_results",
    "channels",
    "portal",
    "fus",
    "acs",
    "acs.ui",
    "cds",
    "acs.homenet",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.middleware.ActorMiddleware",
    "fus.uploads.UploadCleanupMiddleware",
]

ROOT_URLCONF = "portal.urls"
ASGI_APPLICATION = "portal.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.navigation.navigation",
                "acs.context_processors.cwmp_auth",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one SQLite file: wait for locks instead of failing, and use WAL
    # (set on connection in portal.apps) so readers never block the writer.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE"}
    )
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.int(
    "DATABASE_POOL_SIZE", default=0
):
    # Under ASGI every request runs in a fresh thread, so without a pool each request opens a new
    # PostgreSQL connection. DATABASE_POOL_SIZE=N keeps up to N per process (psycopg_pool).
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 2,
        "max_size": env.int("DATABASE_POOL_SIZE"),
        "timeout": 10,
    }
DATABASES["default"].setdefault("TEST", {})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication -----------------------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# --- Internationalisation -----------------------------------------------------------------------
LANGUAGE_CODE = "en"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files and firmware storage ----------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(
    exist_ok=True
)  # filled by collectstatic in production; whitenoise wants it present
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # serve straight from static/ when collectstatic has not run
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media"))).resolve()
MEDIA_URL = "/media/"  # never served publicly: firmware goes out through the FUS download server

# Uploads: every file streams to disk under MEDIA_ROOT/.incoming while its size and SHA-256 are
# computed (fus.uploads.HashingUploadHandler); nothing of a file is held in memory.
FILE_UPLOAD_HANDLERS = ["fus.uploads.HashingUploadHandler"]
FIRMWARE_MAX_FILE_SIZE = env.int("FIRMWARE_MAX_FILE_SIZE", default=8 * 1024**3)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024  # non-file form fields only
FILE_UPLOAD_PERMISSIONS = 0o640
# Each process keeps the approved catalogue's targeting compiled in memory (QRC, RequestDownload,
# carousels); a change made by another process is seen within this many seconds.
TARGETING_CACHE_SECONDS = env.float("TARGETING_CACHE_SECONDS", default=2.0)

# --- REST API -----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: unauthenticated API calls get 401 + WWW-Authenticate, not a bare 403.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["portal.api.permissions.RestrictedObjectPermissions"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "portal.api.exceptions.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "RMS-FUS Portal API",
    "DESCRIPTION": "Firmware catalogue, device management and rollouts of the DVB RMS-FUS portal.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Celery -------------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_DIR = VAR_DIR / "celery-broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
else:
    # The embedded default: kombu's filesystem transport, which a separate worker and beat really
    # consume (memory:// would not leave the process). Polling gives up to ~1 s of latency.
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        "store_processed": False,
    }
    for _key in ("data_folder_in", "control_folder", "processed_folder"):
        Path(CELERY_BROKER_TRANSPORT_OPTIONS[_key]).mkdir(parents=True, exist_ok=True)
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
# Installed into django-celery-beat's tables by its DatabaseScheduler when beat starts.
CELERY_BEAT_SCHEDULE = {
    "purge-stale-uploads": {"task": "fus.uploads.purge_stale", "schedule": 3600.0},
    "acs-expire-sessions": {"task": "acs.sessions.expire", "schedule": 60.0},
    "acs-purge-nonces": {"task": "acs.nonces.purge", "schedule": 600.0},
    "fus-rollouts-tick": {"task": "fus.rollouts.tick", "schedule": 10.0},
    "cds-configuration-tick": {"task": "cds.configuration.tick", "schedule": 10.0},
    "fus-carousels-watchdog": {"task": "fus.carousels.watchdog", "schedule": 10.0},
    "homenet-schedule": {"task": "homenet.schedule", "schedule": 60.0},
}
# Each running carousel is one long task on its own queue, consumed by its own worker (runportal).
CELERY_TASK_ROUTES = {"acs.*": {"queue": "acs"}, "fus.carousels.run": {"queue": "carousel"}}
# Tests and one-off scripts may run tasks inline; the portal itself never does.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)

# --- Multicast carousels (docs/multicast.md) ------------------------------------------------------
# Threads of the `carousel` worker: one per running carousel (each mostly sleeps between packets).
CAROUSEL_WORKER_CONCURRENCY = env.int("CAROUSEL_WORKER_CONCURRENCY", default=32)
# How often a running carousel writes its state and looks for stop/reload; the watchdog (beat)
# restarts a carousel meant to run whose heartbeat is older than CAROUSEL_STALE_SECONDS.
CAROUSEL_HEARTBEAT_SECONDS = env.float("CAROUSEL_HEARTBEAT_SECONDS", default=2.0)
CAROUSEL_STALE_SECONDS = env.float("CAROUSEL_STALE_SECONDS", default=30.0)
# PEM private key (Ed25519, ECDSA P-256 or RSA) that signs SAP announcements; empty: unsigned.
FUS_SAP_SIGNING_KEY = env.str("FUS_SAP_SIGNING_KEY", default="")

# --- ACS (TR-069 CWMP endpoint /cwmp; docs/acs.md) -----------------------------------------------
# Box authentication: digest (default; RFC 7616), basic (refused over plain HTTP), none (labs only).
CWMP_AUTH = env.str("CWMP_AUTH", default="digest")
CWMP_REALM = env.str("CWMP_REALM", default="rms-fus")
CWMP_DIGEST_ALGORITHMS = tuple(env.list("CWMP_DIGEST_ALGORITHMS", default=["SHA-256", "MD5"]))
CWMP_NONCE_LIFETIME = env.int("CWMP_NONCE_LIFETIME", default=300)
# Boxes the registry does not know: known-ouis (OUI of a catalogue manufacturer), all, refuse.
CWMP_UNKNOWN_DEVICES = env.str("CWMP_UNKNOWN_DEVICES", default="known-ouis")
# First-contact credentials; a box using them is given its own (docs/acs.md, "Credentials").
CWMP_BOOTSTRAP_USERNAME = env.str("CWMP_BOOTSTRAP_USERNAME", default="")
CWMP_BOOTSTRAP_PASSWORD = env.str("CWMP_BOOTSTRAP_PASSWORD", default="")
CWMP_MAX_CONCURRENT_SESSIONS = env.int("CWMP_MAX_CONCURRENT_SESSIONS", default=1000)
CWMP_SESSION_TIMEOUT = env.int("CWMP_SESSION_TIMEOUT", default=60)
CWMP_RETRY_AFTER = env.int("CWMP_RETRY_AFTER", default=30)
CWMP_MAX_BODY = env.int("CWMP_MAX_BODY", default=1024 * 1024)
CWMP_TRANSCRIPTS = env.int("CWMP_TRANSCRIPTS", default=5)
CWMP_TRANSCRIPT_MAX_BYTES = env.int("CWMP_TRANSCRIPT_MAX_BYTES", default=64 * 1024)
CWMP_CONNECTION_REQUEST_TIMEOUT = env.float("CWMP_CONNECTION_REQUEST_TIMEOUT", default=10.0)
# A box whose connection-request credentials are unknown is given some by SetParameterValues
# (off: only credentials imported by the operator are used).
CWMP_PROVISION_CONNECTION_REQUEST_CREDENTIALS = env.bool(
    "CWMP_PROVISION_CONNECTION_REQUEST_CREDENTIALS", default=True
)
# TLS for the uvicorn processes of `make run` (PEM files); CWMP_PORT adds a listener (e.g. 7547).
PORTAL_TLS_CERT = env.str("PORTAL_TLS_CERT", default="")
PORTAL_TLS_KEY = env.str("PORTAL_TLS_KEY", default="")
CWMP_PORT = env.int("CWMP_PORT", default=0)
# Where boxes download firmware from (the download server /firmware/ is issue #5).
FUS_DOWNLOAD_BASE_URL = env.str("FUS_DOWNLOAD_BASE_URL", default="http://127.0.0.1:8000/firmware/")

# --- FUS delivery: QRC /qrc, downloads /firmware/, reports /fus/report (docs/qrc.md) ------------
# Download access control: none, signed-url (HMAC, time-limited), digest (per-box credentials).
FUS_DOWNLOAD_AUTH = env.str("FUS_DOWNLOAD_AUTH", default="none")
FUS_DOWNLOAD_URL_TTL = env.int("FUS_DOWNLOAD_URL_TTL", default=7 * 24 * 3600)
FUS_DOWNLOAD_URL_SECRET = env.str("FUS_DOWNLOAD_URL_SECRET", default="")  # else from SECRET_KEY
# nginx internal location serving MEDIA_ROOT (e.g. /protected-firmware/); empty: Django streams.
FUS_DOWNLOAD_ACCEL_REDIRECT = env.str("FUS_DOWNLOAD_ACCEL_REDIRECT", default="")
FUS_QRC_AUTH = env.str("FUS_QRC_AUTH", default="none")  # none or digest
FUS_QRC_MODE = env.str("FUS_QRC_MODE", default="unmanaged")  # packages' Mode: unmanaged/managed/any
FUS_DIGEST_SECRET = env.str("FUS_DIGEST_SECRET", default="")  # per-box passwords; else SECRET_KEY
FUS_DIGEST_REALM = env.str("FUS_DIGEST_REALM", default="rms-fus FUS")
FUS_REPORT_RATE = env.int("FUS_REPORT_RATE", default=60)  # reports per minute per address

# --- Discovery: /dvb-ipi-fus-stub.dvb and /sdns/rms-fus-discovery.xml (docs/discovery.md) -------
# DomainName of the SD&S RMS-FUS record (needs a dot); empty: derived from the request's host.
SDNS_DOMAIN_NAME = env.str("SDNS_DOMAIN_NAME", default="")

# --- Channels -----------------------------------------------------------------------------------
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Demo data ----------------------------------------------------------------------------------
DEMO_PASSWORD = env.str("DEMO_PASSWORD", default="")
# `make run` also starts a fleet of 20 simulated boxes (cpesim) against /cwmp (docs/cpesim.md).
PORTAL_DEMO_FLEET = env.bool("PORTAL_DEMO_FLEET", default=False)
# Where the demo fleet listens for connection requests (HOST:PORT).
PORTAL_DEMO_FLEET_LISTEN = env.str("PORTAL_DEMO_FLEET_LISTEN", default="127.0.0.1:7548")

# --- Logging ------------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "filters": {"digest_challenges": {"()": "portal.logging.DigestChallengeFilter"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # every CWMP session, QRC check or protected download starts with a 401 challenge
        "django.request": {"filters": ["digest_challenges"]},
    },
}
