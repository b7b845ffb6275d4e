"""FlowSuite settings: one module, driven by environment variables.

Every variable is documented in the README ("Configuration"). The defaults give a working site
with zero set-up: SQLite under var/, the in-memory channel layer, no MQTT broker (demo mode).
"""

import os
import secrets
import sys
from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# Optional; real environment variables win. The test command points ENV_FILE at /dev/null so
# that a developer's .env never leaks into the tests.
environ.Env.read_env(env.str("ENV_FILE", default=str(BASE_DIR / ".env")))

VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key_from_file(path: Path) -> str:
    # A key generated once and kept under var/ keeps sessions valid across restarts without
    # anyone having to invent one; production sets SECRET_KEY (or SECRET_KEY_FILE) instead.
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="") or _secret_key_from_file(
    Path(env.str("SECRET_KEY_FILE", default=str(VAR_DIR / "secret_key")))
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# daphne's app only makes `runserver` serve ASGI (HTTP and websockets), and it imports Twisted:
# some 40 MB that every other process (the MQTT bridge, the workers, the tests) would carry for
# nothing. The daphne command serves the site without it.
RUNSERVER = sys.argv[1:2] == ["runserver"]

INSTALLED_APPS = [
    *(["daphne"] if RUNSERVER else []),  # first, so that it is runserver's runserver
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "flowsuite",
    "accounts",
    "energy",
    "traffic",
    "surveillance",
    "gatepass",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.UserPreferencesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "flowsuite.urls"
ASGI_APPLICATION = "flowsuite.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "flowsuite.context_processors.site",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'flowsuite.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # WAL lets readers (dashboards) run while a writer (ingest) commits; the busy
            # timeout makes a second writer wait instead of failing with "database is locked".
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "timeout": env.int("SQLITE_BUSY_TIMEOUT", default=20),
            "transaction_mode": "IMMEDIATE",
        }
    )
    # Tests on a file of their own, not Django's shared in-memory database: that one locks
    # whole tables, and a live test server's concurrent requests failed on it, which WAL and
    # the busy timeout spare a real site.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
# SQLite: keep the connection (opening one and setting its PRAGMAs was a third of a gate scan's
# cost). Sync code runs in one thread under ASGI, so that is one connection; other databases
# follow Django's advice for ASGI and close it after each request.
_is_sqlite = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
DATABASES["default"]["CONN_MAX_AGE"] = env.int(
    "DATABASE_CONN_MAX_AGE", default=60 if _is_sqlite else 0
)
# PostgreSQL: a pool of connections per process, so a request does not open one of its own
# (that was a third of a short API answer's time).
DATABASE_POOL_SIZE = env.int("DATABASE_POOL_SIZE", default=4)
if (
    DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    and DATABASE_POOL_SIZE
    and not DATABASES["default"]["CONN_MAX_AGE"]  # Django pools only closed connections
):
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DATABASE_POOL_SIZE,
    }
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channel layer and cache ----------------------------------------------------------------
# capacity: events queued per socket before the layer drops them; the default (100) loses
# events to a page whose socket falls behind during a burst.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py 8 defaults to a 5 s socket timeout, the length of the layer's blocking
            # read (an idle websocket would fail) and caps pools at 100 connections (a burst
            # of group sends would fail): see django/channels_redis#422.
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": None, "max_connections": 1000}],
                "capacity": 1000,
            },
        }
    }
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 1000}}
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- MQTT -----------------------------------------------------------------------------------
# Empty: no broker (demo mode). mqtt://user:pass@host:1883 or mqtts://user:pass@host:8883.
MQTT_URL = env.str("MQTT_URL", default="")
MQTT_CA_FILE = env.str("MQTT_CA_FILE", default="")
MQTT_CLIENT_ID_PREFIX = env.str("MQTT_CLIENT_ID_PREFIX", default="flowsuite")

# --- Accounts -------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["accounts.backends.CachedPermissionsBackend"]
ALLOW_SIGNUP = env.bool("ALLOW_SIGNUP", default=True)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
LANGUAGES = [("en", _("English")), ("es", _("Spanish"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static and media files -----------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Serve from the apps' static folders too, so that a site works before `collectstatic`.
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "media/"  # never served publicly: each domain serves its files behind a permission
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- E-mail ---------------------------------------------------------------------------------
# smtp://user:pass@host:587/?tls=True, smtp+ssl://..., consolemail:// (default), dummymail://
_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS"))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="FlowSuite <flowsuite@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Security (production: HTTPS=true) ------------------------------------------------------
HTTPS = env.bool("HTTPS", default=False)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Joining the browsers' HSTS preload list binds the whole domain: the site owner's decision.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
if env.bool("BEHIND_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain HTTP
X_FRAME_OPTIONS = "DENY"

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # A Bearer scheme first: DRF answers 401 (not 403) only when the first class names one.
        "accounts.authentication.ApiTokenAuthentication",
        "accounts.authentication.DeviceKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["flowsuite.permissions.IsPerson"],
    "DEFAULT_PAGINATION_CLASS": "flowsuite.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="60/min"),
        "user": env.str("API_THROTTLE_USER", default="1200/min"),
    },
    "EXCEPTION_HANDLER": "flowsuite.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "FlowSuite API",
    "DESCRIPTION": (
        "Field operations: energy meters, traffic counts, security cameras, gate passes. "
        "People authenticate with a session or a personal API token (`Authorization: Bearer "
        "fsp_...`); edge devices with a device key (`Authorization: Bearer fsd_...`)."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "TrafficCountStatusEnum": "traffic.models.CountStatus",
        "TrafficBatchStatusEnum": "traffic.models.SyncBatch.Status",
        "TrafficDirectionEnum": "traffic.models.Direction",
        "VehicleClassEnum": "traffic.models.VehicleClass",
    },
}

# --- Live updates ---------------------------------------------------------------------------
# Seconds between system status snapshots pushed to the home page while someone watches it.
SYSTEM_STATUS_INTERVAL = env.float("SYSTEM_STATUS_INTERVAL", default=10.0)

# --- Logging --------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own default handlers would print each of these lines a second time.
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "django.server": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "django.channels.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "INFO"},
    },
}

# --- Demo -----------------------------------------------------------------------------------
DEMO_PASSWORD = env.str("DEMO_PASSWORD", default="flowsuite-demo")

# --- Gate pass ------------------------------------------------------------------------------
# Days a newly issued badge is valid (0: until revoked).
GATEPASS_BADGE_VALID_DAYS = env.int("GATEPASS_BADGE_VALID_DAYS", default=365)
# Seconds within which a second scan of the same driver at the same station is the same scan.
GATEPASS_DOUBLE_SCAN_SECONDS = env.int("GATEPASS_DOUBLE_SCAN_SECONDS", default=30)
# Hours inside after which a driver is highlighted as overstaying.
GATEPASS_OVERSTAY_HOURS = env.float("GATEPASS_OVERSTAY_HOURS", default=12)

# The site's public address, for links in e-mails and webhooks sent without a request.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# --- Energy ---------------------------------------------------------------------------------
# The node (device id) that the older seed's topic `energy/consumption` (a bare kW) feeds.
ENERGY_LEGACY_DEVICE_ID = env.str("ENERGY_LEGACY_DEVICE_ID", default="")
# Days of raw readings kept by `manage.py energy_prune`; minute rollups are kept longer,
# hour and day rollups for ever.
ENERGY_RAW_RETENTION_DAYS = env.int("ENERGY_RAW_RETENTION_DAYS", default=90)
ENERGY_MINUTE_RETENTION_DAYS = env.int("ENERGY_MINUTE_RETENTION_DAYS", default=400)
# Readings older than this (a meter backfilling after an outage) are refused as not sane.
ENERGY_MAX_BACKFILL_DAYS = env.int("ENERGY_MAX_BACKFILL_DAYS", default=400)
# Least seconds between two live events of one node: a fast meter cannot flood browsers.
ENERGY_LIVE_INTERVAL = env.float("ENERGY_LIVE_INTERVAL", default=1.0)
# MQTT bridge: subscribe with an MQTT v5 shared subscription ($share/<group>/...) when set,
# so that several bridges split the load.
ENERGY_MQTT_SHARE_GROUP = env.str("ENERGY_MQTT_SHARE_GROUP", default="")
# Seconds between readings of the demo meters that the site itself feeds while it serves
# (`make run` sets 2; 0: off). The meters are the nodes sim-* that seed_demo creates.
DEMO_FEED_INTERVAL = env.float("DEMO_FEED_INTERVAL", default=0)

# --- Surveillance ---------------------------------------------------------------------------
# A camera's uploads: bytes per snapshot file, pixels per picture (width x height, checked
# before decoding: no decompression bomb), snapshots per event, events per minute per camera.
SURVEILLANCE_MAX_UPLOAD_BYTES = env.int("SURVEILLANCE_MAX_UPLOAD_BYTES", default=5 * 1024 * 1024)
SURVEILLANCE_MAX_PIXELS = env.int("SURVEILLANCE_MAX_PIXELS", default=4096 * 4096)
SURVEILLANCE_MAX_SNAPSHOTS = env.int("SURVEILLANCE_MAX_SNAPSHOTS", default=5)
SURVEILLANCE_UPLOADS_PER_MINUTE = env.int("SURVEILLANCE_UPLOADS_PER_MINUTE", default=60)
# `manage.py surveillance_cleanup`: days of events kept (0: for ever) and the most megabytes
# of snapshots kept (0: no cap; the oldest events go first).
SURVEILLANCE_RETENTION_DAYS = env.int("SURVEILLANCE_RETENTION_DAYS", default=30)
SURVEILLANCE_MAX_DISK_MB = env.int("SURVEILLANCE_MAX_DISK_MB", default=0)

# --- Traffic --------------------------------------------------------------------------------
# FlowTrack, the central system validated counts go to (manage.py flowtrack_sync and the
# energy worker deliver them): its REST endpoint and the token sent as `Bearer`, and/or an
# MQTT topic on MQTT_URL's broker. Neither set: batches wait, everything else works locally.
FLOWTRACK_URL = env.str("FLOWTRACK_URL", default="")
FLOWTRACK_TOKEN = env.str("FLOWTRACK_TOKEN", default="")
FLOWTRACK_MQTT_TOPIC = env.str("FLOWTRACK_MQTT_TOPIC", default="")
