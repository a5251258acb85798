"""Django settings for Tisser, read from the environment only (every variable is in
docs/operations/configuration.md)."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import urllib.parse
import zoneinfo
from datetime import time, timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from core.env import (
    env_bool,
    env_choice,
    env_dir,
    env_float,
    env_int,
    env_networks,
    env_str,
    env_url,
    env_weights,
    private_file,
    secret_key,
)

BASE_DIR = Path(__file__).resolve().parent.parent

TISSER_ENV = env_choice("TISSER_ENV", "development", ("development", "production"))
PRODUCTION = TISSER_ENV == "production"
DATA_DIR = env_dir("TISSER_DATA_DIR", BASE_DIR / "var")
# Prometheus: each process writes its measurements here; /metrics adds them up.
TISSER_METRICS_DIR = env_dir("TISSER_METRICS_DIR", DATA_DIR / "metrics")
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(TISSER_METRICS_DIR))
# /metrics answers only `Authorization: Bearer <token>`. Production must set one: the
# scrape shows the whole pipeline's state and reads the database.
TISSER_METRICS_TOKEN = env_str("TISSER_METRICS_TOKEN")
# Each process reads the database's gauges at most once per this many seconds (0: at
# every scrape), however many scrapers ask.
TISSER_METRICS_CACHE_SECONDS = env_float("TISSER_METRICS_CACHE_SECONDS", 5.0)

SECRET_KEY = secret_key(production=PRODUCTION, data_dir=DATA_DIR)
DEBUG = env_bool("TISSER_DEBUG", default=False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("TISSER_DEBUG must be off when TISSER_ENV=production.")

_hosts = [h.strip() for h in env_str("TISSER_ALLOWED_HOSTS").split(",") if h.strip()]
if PRODUCTION and not _hosts:
    raise ImproperlyConfigured("TISSER_ALLOWED_HOSTS is required when TISSER_ENV=production.")
ALLOWED_HOSTS = _hosts or ["localhost", "127.0.0.1", "[::1]", "testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "axes",
    # For its static files: the API docs load Swagger UI from here, not from a CDN.
    "ninja",
    # Tisser's apps, bottom layer first (an app imports only from those above it here;
    # see the import-linter contract in pyproject.toml). core is a plain package.
    "accounts",
    "events",
    "community_catalog",
    "harvest",
    "matching",
    "referrals",
    "outreach",
    "slips",
    "reports",
    "workers",
]
# bench/ (benchmarks, load client, fault report) is a development app: present in a
# checkout, absent from the Docker image, never installed in production.
if not PRODUCTION and importlib.util.find_spec("bench") is not None:
    INSTALLED_APPS.append("bench")

MIDDLEWARE = [
    "core.logs.RequestIdMiddleware",
    "core.metrics.HttpMetrics",
    # /healthz and /readyz answer whatever the Host: before the host check and redirect.
    "config.health.ProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.SessionLifetime",
    "accounts.middleware.FirstPasswordChange",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.privacy.NoStoreMiddleware",
    "accounts.audit.AuditMiddleware",
    # Turns a sign-in the throttle refused into its page (django-axes wants it last).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
# People sign in to the web pages (`tisser create-user`): passwords of 12 characters or
# more, not common, not all digits, not like the username.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "web-home"
LOGOUT_REDIRECT_URL = "login"

# --- Sign-in ---------------------------------------------------------------------------
# django-axes checks each sign-in before Django's own backend does: after
# TISSER_SIGNIN_FAILURE_LIMIT failures for one username, or from one address, within
# TISSER_SIGNIN_LOCKOUT_MINUTES, sign-in is refused for that long, even with the right
# password (the people's pages and the administration alike). A success clears the
# count of that username and that address. Each failure is logged with the username and
# the address, never the password. An operator lifts a lockout early with
# `tisser axes-reset-username NAME` or `tisser axes-reset-ip ADDRESS`.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
TISSER_SIGNIN_FAILURE_LIMIT = env_int("TISSER_SIGNIN_FAILURE_LIMIT", 10, minimum=1)
TISSER_SIGNIN_LOCKOUT_MINUTES = env_int("TISSER_SIGNIN_LOCKOUT_MINUTES", 15, minimum=1)
AXES_FAILURE_LIMIT = TISSER_SIGNIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=TISSER_SIGNIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# Tries during a lockout do not prolong it: it ends when the page said it would.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# A success clears that username's failures only (accounts.apps): axes' own reset also
# clears the address's, so anyone with an account of their own could clear the count of
# guesses at someone else's from the same address.
AXES_RESET_ON_SUCCESS = False
# No banner on every command; failures are still logged (with username and address).
AXES_VERBOSE = False
AXES_LOCKOUT_CALLABLE = "accounts.views.signin_locked_out"
# The address behind TISSER_TRUSTED_PROXIES (accounts.client_ip).
AXES_CLIENT_IP_CALLABLE = "accounts.client_ip.client_ip"
# axes always masks the password; the username and the address are what a log reader
# needs. The CSRF token is nobody's business.
AXES_SENSITIVE_PARAMETERS = ["csrfmiddlewaretoken"]
# axes records each sign-in (username, address, browser): kept this many days, then
# pruned by the periodic purge (accounts.services.sign_in_logs_prune).
TISSER_SIGNIN_LOG_DAYS = env_int("TISSER_SIGNIN_LOG_DAYS", 90, minimum=1)
# A session ends after this many minutes without a request, and this many hours after
# its sign-in however busy (accounts.middleware).
TISSER_SESSION_IDLE_MINUTES = env_int("TISSER_SESSION_IDLE_MINUTES", 60, minimum=1)
TISSER_SESSION_MAX_HOURS = env_int("TISSER_SESSION_MAX_HOURS", 12, minimum=1)
SESSION_COOKIE_AGE = TISSER_SESSION_IDLE_MINUTES * 60
SESSION_SAVE_EVERY_REQUEST = True
WSGI_APPLICATION = "config.wsgi.application"

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
            ],
        },
    },
]

# --- Database ------------------------------------------------------------------------
# The embedded default is an SQLite file in the data directory. Request threads and the
# in-process worker threads write to it at once, so it needs WAL journaling (readers do
# not block the writer), a busy timeout (a writer waits instead of failing), and
# IMMEDIATE transactions (the write lock is taken at BEGIN, so two transactions never
# both read and then fail to upgrade to a write: "database is locked").
_SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 30,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
}
DATABASE_URL = env_url("DATABASE_URL", ("sqlite", "postgres", "postgresql"))
_db: dict[str, Any]
if DATABASE_URL:
    _db = dict(dj_database_url.parse(DATABASE_URL))
else:
    _db = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(DATA_DIR / "tisser.sqlite3")}
if _db["ENGINE"] == "django.db.backends.sqlite3":
    if _db["NAME"] and _db["NAME"] != ":memory:":
        private_file(Path(_db["NAME"]))  # people's data: for the service's user only
    _db["OPTIONS"] = {**_SQLITE_OPTIONS, **_db.get("OPTIONS", {})}
    # Tests use a file too: an in-memory database is not shared with worker threads.
    _db["TEST"] = {"NAME": str(DATA_DIR / "test_tisser.sqlite3")}
else:
    _db["CONN_MAX_AGE"] = env_int("TISSER_DB_CONN_MAX_AGE", 60)
    _db["CONN_HEALTH_CHECKS"] = True
    _db.setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The matching index's position index covers search's columns with INCLUDE on
# PostgreSQL; on SQLite, which has no INCLUDE, its migration makes them key columns.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

# --- Broker --------------------------------------------------------------------------
# REDIS_URL set: dramatiq's Redis broker, separate `tisser worker` processes.
# REDIS_URL unset: the embedded broker, the same actors on threads inside `tisser serve`.
REDIS_URL = env_url("REDIS_URL", ("redis", "rediss", "unix"))
TESTING = "pytest" in sys.modules
# Tests get their own namespace, so a `tisser worker` left running never takes their jobs.
_namespace = "tisser-test" if TESTING else "tisser"
TISSER_BROKER_NAMESPACE = env_str("TISSER_BROKER_NAMESPACE", _namespace) or _namespace
TISSER_WORKER_THREADS = env_int("TISSER_WORKER_THREADS", 4, maximum=64)
# Slip workers render in a child process of their own (slips.render_process).
# `tisser worker` turns it on; embedded mode renders on its worker threads.
TISSER_SLIP_RENDER_PROCESS = env_bool("TISSER_SLIP_RENDER_PROCESS", False)

# --- Outbox --------------------------------------------------------------------------
TISSER_OUTBOX_SWEEP_SECONDS = env_int("TISSER_OUTBOX_SWEEP_SECONDS", 5, minimum=1)
TISSER_OUTBOX_RETRY_SECONDS = env_int("TISSER_OUTBOX_RETRY_SECONDS", 120, minimum=1)
TISSER_OUTBOX_MAX_PUBLISHES = env_int("TISSER_OUTBOX_MAX_PUBLISHES", 10, minimum=1)

# --- Referral lifecycle --------------------------------------------------------------
# A placement still waiting for the organisation's answer raises a reminder after this
# many days, and expires (the next best activity is offered instead) after that many.
TISSER_PLACEMENT_REMINDER_DAYS = env_int("TISSER_PLACEMENT_REMINDER_DAYS", 10, minimum=1)
TISSER_PLACEMENT_EXPIRY_DAYS = env_int("TISSER_PLACEMENT_EXPIRY_DAYS", 14, minimum=2)
if TISSER_PLACEMENT_EXPIRY_DAYS <= TISSER_PLACEMENT_REMINDER_DAYS:
    raise ImproperlyConfigured(
        "TISSER_PLACEMENT_EXPIRY_DAYS must be greater than TISSER_PLACEMENT_REMINDER_DAYS."
    )
# How often the relay looks for placements due a reminder or expiry.
TISSER_LIFECYCLE_CHECK_SECONDS = env_int("TISSER_LIFECYCLE_CHECK_SECONDS", 60, minimum=1)
# A place that opens again is offered to unmatched referrals filed this recently.
TISSER_REMATCH_WINDOW_DAYS = env_int("TISSER_REMATCH_WINDOW_DAYS", 30, minimum=1)

# Personal data of a referral closed (cancelled or completed) this many days ago is
# erased; counts and outcomes stay. The relay sends the purge this often.
TISSER_RETENTION_DAYS = env_int("TISSER_RETENTION_DAYS", 365, minimum=1)
TISSER_RETENTION_CHECK_SECONDS = env_int("TISSER_RETENTION_CHECK_SECONDS", 3600, minimum=1)

# /readyz answers 503 when the oldest event whose work is not done is older than this.
TISSER_READY_MAX_OUTBOX_LAG_SECONDS = env_int("TISSER_READY_MAX_OUTBOX_LAG_SECONDS", 300, minimum=1)

# Requests per API key per minute (0: no limit). Past it: 429 with Retry-After.
TISSER_RATE_LIMIT_PER_MINUTE = env_int("TISSER_RATE_LIMIT_PER_MINUTE", 600)
# The public HSDS API (/hsds/), per client address (0: no limit).
TISSER_HSDS_RATE_LIMIT_PER_MINUTE = env_int("TISSER_HSDS_RATE_LIMIT_PER_MINUTE", 300)

# `tisser bench intake` mounts its floor endpoint (bench/floor.py) in the server
# it starts; never in production.
TISSER_BENCH_FLOOR = env_bool("TISSER_BENCH_FLOOR", False)
if PRODUCTION and TISSER_BENCH_FLOOR:
    raise ImproperlyConfigured("TISSER_BENCH_FLOOR is for benchmarks, not production.")

# The event feed shows events this many seconds after they were written, so that one
# written by a transaction that commits late is never skipped by a client's cursor.
TISSER_EVENT_FEED_LAG_SECONDS = env_float("TISSER_EVENT_FEED_LAG_SECONDS", 5.0)

# --- Webhooks ------------------------------------------------------------------------
# Deliveries are tried this many times, waiting BACKOFF seconds after the first failure
# and twice as long after each next one (capped at 6 hours): 12 tries span about 6 hours.
TISSER_WEBHOOK_MAX_ATTEMPTS = env_int("TISSER_WEBHOOK_MAX_ATTEMPTS", 12, minimum=1, maximum=30)
TISSER_WEBHOOK_BACKOFF_SECONDS = env_float("TISSER_WEBHOOK_BACKOFF_SECONDS", 10.0, minimum=0.01)
# The whole of one delivery (connecting, TLS, sending, the receiver's answer) must fit in
# this; past it, the attempt has failed. Well under the actor's 60 s time limit.
TISSER_WEBHOOK_TIMEOUT_SECONDS = env_float("TISSER_WEBHOOK_TIMEOUT_SECONDS", 10.0, minimum=0.1)
if TISSER_WEBHOOK_TIMEOUT_SECONDS > 50:
    raise ImproperlyConfigured("TISSER_WEBHOOK_TIMEOUT_SECONDS must be at most 50.")
# Webhook subscriptions one health centre or organisation may have.
TISSER_WEBHOOK_MAX_SUBSCRIPTIONS = env_int("TISSER_WEBHOOK_MAX_SUBSCRIPTIONS", 10, minimum=1)
# Deliveries run on threads of their own in each worker process (and in embedded mode),
# so that receivers slow to answer never hold a thread that matches or renders.
TISSER_WEBHOOK_THREADS = env_int("TISSER_WEBHOOK_THREADS", 4, minimum=1, maximum=64)
# Deliveries of one centre or organisation in flight at once, across every worker process
# (counted in Redis): the next waits its turn, so one party's slow receivers never hold
# all the webhook threads.
TISSER_WEBHOOK_OWNER_CONCURRENCY = env_int("TISSER_WEBHOOK_OWNER_CONCURRENCY", 2, minimum=1)
# After this many attempts in a row that got no answer (timeout, connection failed), a
# subscription's deliveries wait BREAKER seconds after the last one, untried, until one
# is answered.
TISSER_WEBHOOK_BREAKER_FAILURES = env_int("TISSER_WEBHOOK_BREAKER_FAILURES", 5, minimum=1)
TISSER_WEBHOOK_BREAKER_SECONDS = env_float("TISSER_WEBHOOK_BREAKER_SECONDS", 600.0, minimum=1)
# Webhook URLs on private, loopback or link-local addresses reach into the server's own
# network; they are refused in production unless this says otherwise.
TISSER_WEBHOOK_ALLOW_PRIVATE = env_bool("TISSER_WEBHOOK_ALLOW_PRIVATE", default=not PRODUCTION)

# --- Web server ----------------------------------------------------------------------
TISSER_HOST = env_str("TISSER_HOST", "127.0.0.1") or "127.0.0.1"
TISSER_PORT = env_int("TISSER_PORT", 8000, minimum=1, maximum=65535)
TISSER_WEB_WORKERS = env_int("TISSER_WEB_WORKERS", 2, minimum=1, maximum=64)
TISSER_WEB_THREADS = env_int("TISSER_WEB_THREADS", 8, minimum=1, maximum=256)
# The reverse proxies in front (addresses or networks): only a request from one of them
# is believed about the client's address (X-Forwarded-For, read by the sign-in throttle)
# and its scheme (gunicorn). Set it to the proxy's network, e.g. compose's.
TISSER_TRUSTED_PROXIES = env_networks("TISSER_TRUSTED_PROXIES", "127.0.0.1,::1")
# Where people reach Tisser from outside: the slips' QR codes open its public activity
# pages. Printed on paper, so production must say it; locally, the server itself.
TISSER_PUBLIC_URL = (
    env_url("TISSER_PUBLIC_URL", ("http", "https"))
    or ("" if PRODUCTION else f"http://{TISSER_HOST}:{TISSER_PORT}")
).rstrip("/")
if PRODUCTION and not TISSER_PUBLIC_URL:
    raise ImproperlyConfigured(
        "TISSER_PUBLIC_URL is required when TISSER_ENV=production: the slips' QR codes "
        "point there (e.g. https://tisser.example.org)."
    )
if PRODUCTION and len(TISSER_METRICS_TOKEN) < 16:
    raise ImproperlyConfigured(
        "TISSER_METRICS_TOKEN (16 characters or more) is required when TISSER_ENV=production."
    )

# --- Messages to the person (outreach) -----------------------------------------------
# E-mail through Django's SMTP backend: smtp://user:password@host:port (STARTTLS when the
# server offers it: smtp+starttls://…; implicit TLS: smtps://…). Unset: no e-mail is sent
# (a message due by e-mail fails with `no_transport`, visible in the reports).
TISSER_SMTP_URL = env_url("TISSER_SMTP_URL", ("smtp", "smtps", "smtp+starttls"))
TISSER_MAIL_FROM = env_str("TISSER_MAIL_FROM", "")
if TISSER_SMTP_URL:
    _smtp = urllib.parse.urlsplit(TISSER_SMTP_URL)
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _smtp.hostname or ""
    EMAIL_PORT = _smtp.port or (465 if _smtp.scheme == "smtps" else 25)
    EMAIL_HOST_USER = urllib.parse.unquote(_smtp.username or "")
    EMAIL_HOST_PASSWORD = urllib.parse.unquote(_smtp.password or "")
    EMAIL_USE_SSL = _smtp.scheme == "smtps"
    EMAIL_USE_TLS = _smtp.scheme == "smtp+starttls"
    EMAIL_TIMEOUT = 10
    if not TISSER_MAIL_FROM:
        raise ImproperlyConfigured(
            "TISSER_MAIL_FROM (e.g. Tisser <no-reply@tisser.example.org>) is required "
            "with TISSER_SMTP_URL."
        )
    DEFAULT_FROM_EMAIL = TISSER_MAIL_FROM
else:
    # Nothing leaves by accident: Django's default would try localhost:25.
    EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
# SMS through a provider's HTTP API: "brevo" (Brevo's transactional SMS), or empty.
TISSER_SMS_PROVIDER = env_choice("TISSER_SMS_PROVIDER", "", ("", "brevo"))
TISSER_SMS_API_KEY = env_str("TISSER_SMS_API_KEY", "")
TISSER_SMS_SENDER = env_str("TISSER_SMS_SENDER", "Tisser")
TISSER_SMS_API_URL = (
    env_url("TISSER_SMS_API_URL", ("http", "https"))
    or "https://api.brevo.com/v3/transactionalSMS/send"
)
if TISSER_SMS_PROVIDER and not TISSER_SMS_API_KEY:
    raise ImproperlyConfigured("TISSER_SMS_API_KEY is required with TISSER_SMS_PROVIDER.")
if not re.fullmatch(r"[A-Za-z0-9]{3,11}|[0-9]{3,15}", TISSER_SMS_SENDER):
    raise ImproperlyConfigured(
        "TISSER_SMS_SENDER must be 3 to 11 letters and digits, or up to 15 digits."
    )
# No message is sent between these hours (local time, TISSER_TIME_ZONE): one due then
# waits for the morning.
TISSER_MESSAGES_QUIET_HOURS = env_str("TISSER_MESSAGES_QUIET_HOURS", "20:00-09:00")
_quiet = re.fullmatch(
    r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)", TISSER_MESSAGES_QUIET_HOURS
)
if _quiet is None:
    raise ImproperlyConfigured("TISSER_MESSAGES_QUIET_HOURS must look like 20:00-09:00.")
TISSER_MESSAGES_QUIET = (
    time(int(_quiet[1]), int(_quiet[2])),
    time(int(_quiet[3]), int(_quiet[4])),
)
# Attempts at one message before it is marked failed (transient errors only).
TISSER_MESSAGES_MAX_ATTEMPTS = env_int("TISSER_MESSAGES_MAX_ATTEMPTS", 5, minimum=1)
# How often the relay looks for messages that are due.
TISSER_MESSAGES_CHECK_SECONDS = env_float("TISSER_MESSAGES_CHECK_SECONDS", 60.0, minimum=0.05)
# The personal page stays open this many days after the referral closes.
TISSER_PERSONAL_PAGE_DAYS = env_int("TISSER_PERSONAL_PAGE_DAYS", 30, minimum=1)

# --- Matching ------------------------------------------------------------------------
TISSER_MATCHES_PER_REFERRAL = env_int("TISSER_MATCHES_PER_REFERRAL", 3, minimum=1, maximum=5)
# The weight of each part of a match's score (each part is between 0 and 1; the total is
# their weighted mean). Override with TISSER_MATCH_WEIGHTS="distance=4,cost=0.5".
TISSER_MATCH_WEIGHTS: dict[str, float] = {
    # Distance: how far people must go is what most often stops them from going at all.
    "distance": 3.0,
    # Schedule: an activity at a time the person is never free is one they cannot attend;
    # a first session soon keeps the momentum of the consultation.
    "schedule": 2.0,
    # Accessibility: a place without step-free access can be impossible, not just harder.
    "accessibility": 2.0,
    # Language: their own language over interpretation (both pass the hard filter).
    "language": 1.5,
    # Cost: free over paid, for everyone (free_only is a hard filter on top).
    "cost": 1.0,
    # Capacity: a waiting list or an assessment delays the first session.
    "capacity": 1.0,
    # Freshness: unconfirmed data may be wrong (moved, ended); ranked lower, not hidden.
    "freshness": 0.5,
}
TISSER_MATCH_WEIGHTS.update(env_weights("TISSER_MATCH_WEIGHTS", set(TISSER_MATCH_WEIGHTS)))
# An activity is offered only when one of its sessions falls within this many days (an
# ended or seasonal one waits for its next season). Six weeks: a person referred today
# can still be expected to go. The matching index is built with it: run
# `tisser rebuild-match-index` after changing it.
TISSER_OFFER_HORIZON_DAYS = env_int("TISSER_OFFER_HORIZON_DAYS", 42, minimum=7, maximum=365)
# How often a process checks whether the taxonomy or the crosswalks changed elsewhere
# (the process that changes them forgets its own copy at once).
TISSER_TAXONOMY_CHECK_SECONDS = env_float("TISSER_TAXONOMY_CHECK_SECONDS", 2.0, minimum=0.0)
# A service its organisation has not confirmed for this many days is flagged stale.
TISSER_STALE_AFTER_DAYS = env_int("TISSER_STALE_AFTER_DAYS", 180, minimum=1)
# The language of the catalogue: a service that names no language is taken to be run
# in it (ISO 639-1).
TISSER_CATALOG_LANGUAGE = env_str("TISSER_CATALOG_LANGUAGE", "fr").lower() or "fr"
# Phone numbers written without a country code are read as numbers of this region.
TISSER_PHONE_REGION = env_str("TISSER_PHONE_REGION", "FR").upper() or "FR"
# HSDS files sent to the API or the web import (`tisser import-hsds` has no limit): the
# largest accepted, in bytes, the most services in one, and the seconds their checking
# may take. An import is checked and written within its request, one at a time per key
# or person (checking a rich service takes 3 to 8 ms, adding it as long, replacing one
# that exists 100 to 200 ms): past these, split the file, or have the operator run
# `tisser import-hsds`.
TISSER_IMPORT_MAX_BYTES = env_int("TISSER_IMPORT_MAX_BYTES", 20_000_000, minimum=1024)
TISSER_IMPORT_MAX_RECORDS = env_int("TISSER_IMPORT_MAX_RECORDS", 500, minimum=1)
TISSER_IMPORT_CHECK_SECONDS = env_float("TISSER_IMPORT_CHECK_SECONDS", 3.0, minimum=0.1)

# --- Harvest (directory feeds) ---------------------------------------------------------
# The largest answer one request to a source may bring (a page, or a whole export file),
# and the seconds the whole request may take.
TISSER_HARVEST_MAX_BYTES = env_int("TISSER_HARVEST_MAX_BYTES", 200_000_000, minimum=1024)
TISSER_HARVEST_TIMEOUT_SECONDS = env_float("TISSER_HARVEST_TIMEOUT_SECONDS", 60.0, minimum=0.1)
# Sources on private, loopback or link-local addresses, as for webhooks: refused in
# production, unless their host name is listed here (an intranet's directory).
TISSER_HARVEST_ALLOW_PRIVATE = env_bool("TISSER_HARVEST_ALLOW_PRIVATE", default=not PRODUCTION)
TISSER_HARVEST_PRIVATE_HOSTS = frozenset(
    h.strip().lower() for h in env_str("TISSER_HARVEST_PRIVATE_HOSTS", "").split(",") if h.strip()
)
# After a failed run, a source waits this long before the next attempt, twice as long
# after each further failure, never more than its own interval (or a day).
TISSER_HARVEST_RETRY_SECONDS = env_float("TISSER_HARVEST_RETRY_SECONDS", 300.0, minimum=1)
# The relay looks for sources due this often.
TISSER_HARVEST_CHECK_SECONDS = env_float("TISSER_HARVEST_CHECK_SECONDS", 60.0, minimum=0.1)

# --- Internationalisation ------------------------------------------------------------
LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", "Français"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = env_str("TISSER_TIME_ZONE", "Europe/Paris") or "Europe/Paris"
try:
    zoneinfo.ZoneInfo(TIME_ZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(
        f"TISSER_TIME_ZONE={TIME_ZONE!r} is not a known time zone."
    ) from None

# --- Files ---------------------------------------------------------------------------
MEDIA_ROOT = DATA_DIR / "files"
MEDIA_URL = "/media/"
# Slips name people: readable by the service's user and its group (a backup), no one else.
FILE_UPLOAD_PERMISSIONS = 0o640
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o750
# Every erasure appends a line here (ids and times only), where a restore does not reach:
# `tisser erasures-reapply` erases again, after a restore, whoever it names. Never under
# MEDIA_ROOT, which backups archive and a restore unpacks over.
TISSER_ERASURE_LEDGER = (
    Path(env_str("TISSER_ERASURE_LEDGER") or DATA_DIR / "erasures" / "ledger.csv")
    .expanduser()
    .resolve()
)
if TISSER_ERASURE_LEDGER.is_relative_to(MEDIA_ROOT):
    raise ImproperlyConfigured(
        f"TISSER_ERASURE_LEDGER={str(TISSER_ERASURE_LEDGER)!r} is inside the slips' folder "
        f"({MEDIA_ROOT}), which a restore overwrites: put it elsewhere."
    )
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# The admin's assets are served from the installed packages, with no collectstatic step.
WHITENOISE_USE_FINDERS = True

# --- Security ------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("TISSER_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("TISSER_HSTS_PRELOAD", True)
    # Behind a TLS proxy that says so in X-Forwarded-Proto. gunicorn believes it only from
    # TISSER_TRUSTED_PROXIES and sets the request's scheme, which Django reads: no
    # SECURE_PROXY_SSL_HEADER, which would believe anyone who reaches the port. Plain
    # HTTP is redirected, but for the probes of the machine's own orchestrator.
    SECURE_SSL_REDIRECT = env_bool("TISSER_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]

DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("TISSER_MAX_BODY_BYTES", 1_000_000, minimum=1024)
# Uploaded files: past FILE_UPLOAD_MAX_MEMORY_SIZE on disk, and never past
# TISSER_IMPORT_MAX_BYTES.
FILE_UPLOAD_HANDLERS = [
    "community_catalog.hsds_files.ImportUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# --- Logging -------------------------------------------------------------------------
LOG_LEVEL = env_choice("TISSER_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"))
# json: one JSON object per line (for a log collector); plain: for a person at a terminal.
TISSER_LOG_FORMAT = env_choice(
    "TISSER_LOG_FORMAT", "json" if PRODUCTION else "plain", ("json", "plain")
)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "core.logs.RequestIdFilter"},
        "secret_paths": {"()": "core.logs.SecretPathFilter"},
    },
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s %(process)d [%(request_id)s]: %(message)s"
        },
        "json": {"()": "core.logs.TisserJsonFormatter"},
    },
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": TISSER_LOG_FORMAT,
            "filters": ["request_id", "secret_paths"],
        }
    },
    "root": {"handlers": ["stderr"], "level": LOG_LEVEL},
    "loggers": {
        # WeasyPrint reports every CSS property it ignores; only real problems matter here.
        "weasyprint": {"level": "ERROR"},
        "fontTools": {"level": "WARNING"},
        # pikepdf says at INFO that its logger bridge started, in every process.
        "pikepdf": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        # Django's own console handler (TISSER_DEBUG) would print "Not Found: /p/…"
        # unfiltered: its lines go through Tisser's handler only.
        "django": {"handlers": [], "propagate": True},
    },
}
