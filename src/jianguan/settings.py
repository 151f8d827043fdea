"""Django settings for Jianguan. Every setting that varies comes from the environment (see README)."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"环境变量 {name} 必须是整数 ({name} must be an integer), got {value!r}") from exc


PRODUCTION = os.environ.get("JIANGUAN_ENV", "development") == "production"
DEBUG = env_bool("JIANGUAN_DEBUG", not PRODUCTION)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("生产环境必须设置 SECRET_KEY (SECRET_KEY is required when JIANGUAN_ENV=production)")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production-0123456789abcdef"  # noqa: S105 — development only

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
                 if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

VAR_DIR = Path(os.environ.get("JIANGUAN_VAR_DIR", str(REPO_DIR / "var")))
JIANGUAN_RULES_DIR = Path(os.environ.get("JIANGUAN_RULES_DIR", str(REPO_DIR / "rules")))
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "axes",
    "ninja",
    "jianguan.core",
    "jianguan.registry",
    "jianguan.credit",
    "jianguan.inspections",
    "jianguan.complaints",
    "jianguan.enforcement",
    "jianguan.synth",
    "jianguan.portal",
    "jianguan.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "jianguan.core.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "jianguan.urls"
WSGI_APPLICATION = "jianguan.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "jianguan.core.context_processors.backoffice",
                "jianguan.portal.context_processors.portal",
            ],
        },
    },
]

# Database: the embedded SQLite file under var/ unless DATABASE_URL says otherwise.
DEFAULT_DATABASE_URL = f"sqlite:///{VAR_DIR / 'jianguan.sqlite3'}"
DATABASE_URL = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
try:
    _db = dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("JIANGUAN_DB_CONN_MAX_AGE", 60))
except Exception as exc:  # dj_database_url raises bare ValueError / UnknownSchemeError
    raise ImproperlyConfigured(f"DATABASE_URL 无法解析 (cannot parse DATABASE_URL {DATABASE_URL!r}): {exc}") from exc
SQLITE_PAGE_SIZE = 16384
SQLITE_OPTIONS = {
    # WAL + busy timeout: the web process and the job worker share the file. 16 KiB pages instead of SQLite's 4 KiB:
    # a first import of a million entities writes ≈ 1.4 GB, once into the WAL and once more into the file at the
    # checkpoint; writing a quarter as many pages took that import from a median of 50.5 s to 43.1 s
    # (bench/RESULTS.md, seventh round). The page size is fixed when the file is created (so it comes before
    # journal_mode, which writes the header); an existing file keeps its own (docs/operations.md: how to convert one).
    "init_command": f"PRAGMA page_size={SQLITE_PAGE_SIZE}; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    "PRAGMA foreign_keys=ON;",
    "timeout": 30,
    "transaction_mode": "IMMEDIATE",
}
if _db["ENGINE"] == "django.db.backends.sqlite3":
    if _db["NAME"] == str(VAR_DIR / "jianguan.sqlite3"):
        VAR_DIR.mkdir(parents=True, exist_ok=True)
    _db["OPTIONS"] = dict(SQLITE_OPTIONS)
    _db["CONN_MAX_AGE"] = 0
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "core.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "core:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "core:login"

# Lockout after repeated failed logins (django-axes).
AXES_FAILURE_LIMIT = env_int("JIANGUAN_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("JIANGUAN_LOGIN_LOCKOUT_MINUTES", 30) / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "core/locked_out.html"
AXES_VERBOSE = False
# Lock by account, not by address: a bureau's whole office sits behind one NAT address, so locking an address
# would lock out every colleague (docs/decisions/0002-login-lockout-by-account.md).
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

# Sessions expire after a working day of inactivity, and when the browser closes.
SESSION_COOKIE_AGE = env_int("JIANGUAN_SESSION_MINUTES", 480) * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
FORMAT_MODULE_PATH = ["jianguan.formats"]  # intcomma groups by three with a comma in Chinese too (formats/zh_Hans)
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise serves from it after collectstatic
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
WHITENOISE_USE_FINDERS = True

DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# Security headers. CSP forbids inline script: every script is a static file.
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
JIANGUAN_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'; "
    "object-src 'none'"
)
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("JIANGUAN_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("JIANGUAN_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# Audit chain key: entries are HMAC-chained so that someone with database access alone cannot rewrite history.
JIANGUAN_AUDIT_KEY = os.environ.get("JIANGUAN_AUDIT_KEY", "") or SECRET_KEY

# Background jobs: a job whose worker stopped sending heartbeats for this long is marked failed.
JIANGUAN_JOB_STALE_SECONDS = env_int("JIANGUAN_JOB_STALE_SECONDS", 120)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("JIANGUAN_LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}
