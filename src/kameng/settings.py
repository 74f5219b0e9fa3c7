"""One settings module, driven by the environment (see ../shared/contract.md)."""

import os
import secrets
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

from kameng.core import config

config.restrict_umask()  # before anything below creates a file (the generated secret key, the database)

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = config.data_dir()

SECRET_KEY = os.environ.get("KAMENG_SECRET_KEY") or config._generated("django_secret_key", lambda: secrets.token_urlsafe(50))
DEBUG = config.flag("KAMENG_DEBUG")
ALLOWED_HOSTS = [h for h in os.environ.get("KAMENG_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver").split(",") if h]

KAMENG_SANDBOX = config.flag("KAMENG_SANDBOX")
KAMENG_ORDER_TTL_MINUTES = int(os.environ.get("KAMENG_ORDER_TTL_MINUTES", "15"))
KAMENG_COMMISSION_RATE = os.environ.get("KAMENG_COMMISSION_RATE", "0.05")
KAMENG_MAX_QUANTITY = int(os.environ.get("KAMENG_MAX_QUANTITY", "100"))
KAMENG_TOKEN_DAYS = int(os.environ.get("KAMENG_TOKEN_DAYS", "30"))
KAMENG_MAX_UNPAID_ORDERS = int(os.environ.get("KAMENG_MAX_UNPAID_ORDERS", "5"))
KAMENG_MAX_KEYS_PER_REQUEST = int(os.environ.get("KAMENG_MAX_KEYS_PER_REQUEST", "10000"))
# Batch quarantine (inventory/quarantine.py): both must be reached by approved key defects of one import batch.
KAMENG_QUARANTINE_MIN_DEFECTS = int(os.environ.get("KAMENG_QUARANTINE_MIN_DEFECTS", "2"))
KAMENG_QUARANTINE_DEFECT_SHARE = Decimal(os.environ.get("KAMENG_QUARANTINE_DEFECT_SHARE", "0.05"))
# A top-up (or on-demand card order) with no result from its source this long past its promise is refunded.
KAMENG_TOPUP_TIMEOUT_HOURS = float(os.environ.get("KAMENG_TOPUP_TIMEOUT_HOURS", "48"))
# A worker that has not beaten its heartbeat for this long is dead: its claimed jobs return to the queue.
KAMENG_JOB_LEASE_SECONDS = int(os.environ.get("KAMENG_JOB_LEASE_SECONDS", "60"))
# Each configured real gateway's statement for yesterday is reconciled once a day, from this hour (Beijing
# time: Alipay and WeChat Pay publish the day's bill in the morning after it).
KAMENG_RECONCILE_DAILY = config.flag("KAMENG_RECONCILE_DAILY", default=True)
KAMENG_RECONCILE_HOUR = int(os.environ.get("KAMENG_RECONCILE_HOUR", "10"))

# Covering indexes (INCLUDE) serve PostgreSQL; SQLite builds the same index without the extra columns.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks_db",
    "axes",
    "kameng.core",
    "kameng.accounts",
    "kameng.catalog",
    "kameng.inventory",
    "kameng.orders",
    "kameng.payments",
    "kameng.ledger",
    "kameng.aftersales",
    "kameng.notifications",
    "kameng.records",
    "kameng.web",
]

MIDDLEWARE = [
    "kameng.core.body_limits.BodyLimitMiddleware",  # first: refuses an oversized body before anyone reads it
    "django.middleware.security.SecurityMiddleware",
    "kameng.core.middleware.TextGate",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "kameng.core.middleware.SandboxGate",
    "kameng.core.clock.PinClockMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "kameng.web.busy.BusyPageMiddleware",  # a page that met a lock/statement timeout: 503 "try again", not 500
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a lockout flagged during authentication into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "kameng.urls"
WSGI_APPLICATION = "kameng.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "kameng.web.context.site",
            ],
        },
    }
]

_default_sqlite = f"sqlite:///{DATA_DIR / 'kameng.sqlite3'}"
KAMENG_DB_LOCK_TIMEOUT = float(os.environ.get("KAMENG_DB_LOCK_TIMEOUT", "5"))
KAMENG_DB_STATEMENT_TIMEOUT = float(os.environ.get("KAMENG_DB_STATEMENT_TIMEOUT", "30"))
DATABASES = {"default": dj_database_url.parse(os.environ.get("DATABASE_URL") or _default_sqlite, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # Every transaction takes the write lock at BEGIN: no upgrade deadlocks between writers.
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    }
else:
    # No wait is unbounded: a held row lock or a runaway query ends in a clean 503 (LOCK_TIMEOUT,
    # STATEMENT_TIMEOUT; see kameng.core.locks) instead of piling requests up behind it. Seconds; 0 = off.
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    # Values travel apart from the SQL (server-side binding), so a statement the connection has run 5 times
    # is prepared and PostgreSQL stops parsing and planning it again: the purchase path repeats a dozen
    # statements, and this cut PostgreSQL's CPU per purchase by a fifth (bench/RESULTS.md, issue 11).
    # KAMENG_DB_PREPARED=0 turns preparing off, for a transaction-pooling pgbouncer in front.
    _options["server_side_binding"] = True
    _options["prepare_threshold"] = 5 if os.environ.get("KAMENG_DB_PREPARED", "1") != "0" else None
    _options["options"] = " ".join(filter(None, [
        _options.get("options", ""),
        f"-c lock_timeout={int(KAMENG_DB_LOCK_TIMEOUT * 1000)}",
        f"-c statement_timeout={int(KAMENG_DB_STATEMENT_TIMEOUT * 1000)}",
    ]))
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("KAMENG_TEST_DB_NAME", "test_kameng")}

# `shared`: a cache every process sees (Redis, `KAMENG_CACHE_URL=redis://127.0.0.1:6379/0`), used for
# token → user on the hot path (kameng.accounts.token_cache). Without one it is a dummy cache and every
# lookup asks the database: a per-process memory cache would miss another process's logout.
_cache_url = os.environ.get("KAMENG_CACHE_URL", "")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "shared": {"BACKEND": "kameng.core.cache.RedisCache", "LOCATION": _cache_url,
               "KEY_PREFIX": os.environ.get("KAMENG_CACHE_PREFIX", "kameng")}
    if _cache_url else {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
}

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:products"
LOGOUT_REDIRECT_URL = "web:products"

# Login throttling (django-axes) on every path that logs in: the token endpoint, /login/, /admin/login/.
# Counted per username and client address, so an attacker cannot lock a user out from elsewhere;
# `kameng manage axes_reset` (or the admin's "access attempts") unlocks at once.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("KAMENG_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("KAMENG_LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # failures are what matter; a success log would open a session per API login
AXES_LOCKOUT_CALLABLE = "kameng.accounts.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "kameng.core.client_ip.client_ip"
# Proxies of our own in front (each appends to X-Forwarded-For); 0: the connection's address is the client's.
KAMENG_PROXY_COUNT = int(os.environ.get("KAMENG_PROXY_COUNT", "0"))

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 6}},
]

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_ROOT = DATA_DIR / "media"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

DATA_UPLOAD_MAX_MEMORY_SIZE = 8 * 1024 * 1024
# `kameng serve`: seconds a client has to send a request's headers (kameng.serve_worker) and, between two
# pieces of a body, to send the next one (kameng.asgi); slower clients get 408 and are cut off.
KAMENG_SERVE_HEADER_TIMEOUT = float(os.environ.get("KAMENG_SERVE_HEADER_TIMEOUT", "10"))
KAMENG_SERVE_BODY_IDLE_TIMEOUT = float(os.environ.get("KAMENG_SERVE_BODY_IDLE_TIMEOUT", "60"))
FILE_UPLOAD_MAX_MEMORY_SIZE = 8 * 1024 * 1024
# Evidence is measured while it streams in and dropped at its type's limit (aftersales/evidence.py).
FILE_UPLOAD_HANDLERS = [
    "kameng.aftersales.evidence.EvidenceUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# Uploads written by Django's storage are private like everything else in the data directory.
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
# Uploads past the memory limit spool here, not in the shared /tmp: a killed upload leaves no plaintext there.
FILE_UPLOAD_TEMP_DIR = str(config.private_dir("uploads"))

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
# HTTPS deployments (README §Configuration): Secure cookies, HSTS, and whether a proxy in front says
# the request came over HTTPS. All off by default, since `kameng serve` itself speaks plain HTTP.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = config.flag("KAMENG_SECURE_COOKIES")
SECURE_HSTS_SECONDS = int(os.environ.get("KAMENG_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = config.flag("KAMENG_HSTS_INCLUDE_SUBDOMAINS")
SECURE_HSTS_PRELOAD = config.flag("KAMENG_HSTS_PRELOAD")
if config.flag("KAMENG_TRUST_X_FORWARDED_PROTO"):
    # Only behind a proxy that sets (and overwrites) this header: a client could otherwise claim HTTPS.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = config.flag("KAMENG_SSL_REDIRECT")
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health$"]  # a load balancer's plain-HTTP health check
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

from django.utils.csp import CSP  # noqa: E402

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("KAMENG_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # WeasyPrint's font subsetting lists every glyph at INFO: some 600 KB of log per dossier.
        "fontTools": {"level": "WARNING"},
    },
}
