"""Typed settings, read once from the environment.

`get_settings()` builds and validates the settings on first use (not at import) and caches
them for the life of the container. Every problem is collected and reported together, so an
operator fixes a bad deployment in one go. Domain code receives a `Settings` object and never
reads `os.environ` itself.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

# Extension -> MIME type for every type the service can recognise by its magic number.
KNOWN_EXTENSIONS: dict[str, str] = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "heic": "image/heic",
    "heif": "image/heif",
}
DEFAULT_ALLOWED_EXTENSIONS = ("jpg", "jpeg", "png", "gif", "webp", "heic", "heif")
DEFAULT_MAX_FILE_SIZE = 5 * 1024 * 1024
MIN_SECRET_LENGTH = 32
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # R2 (and S3) refuse presigned URLs valid for longer
DEFAULT_SIGNED_URL_TTL = 3600
# GET URLs minted within one window are identical (cacheable); see profile_photos.signing
DEFAULT_SIGNED_URL_WINDOW = 300
DEFAULT_MEMORY_SIZE_MB = 1024  # the imaging functions' MemorySize in template.yaml
# what SSM accepts as a parameter name: a path of letters, digits and `_.-` (1,011 at most)
SSM_PARAMETER_NAME = re.compile(r"/?[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")
MAX_SSM_PARAMETER_NAME = 1011

Provider = Literal["LOCAL", "R2"]


class SettingsError(RuntimeError):
    """The environment does not describe a runnable service. The message lists every problem."""


@dataclass(frozen=True, slots=True)
class Settings:
    object_storage_provider: Provider
    local_storage_base_path: Path
    local_storage_base_url: str | None
    local_storage_secret: str
    allowed_extensions: tuple[str, ...]
    max_file_size: int
    r2_account_id: str | None
    r2_access_key_id: str | None
    r2_secret_access_key: str | None
    r2_user_assets_bucket: str | None
    r2_app_assets_bucket: str | None
    r2_endpoint_url: str | None
    jwt_secret: str | None
    jwt_jwks_url: str | None
    jwt_issuer: str | None
    jwt_audience: str | None
    signed_url_ttl_seconds: int
    signed_url_window_seconds: int
    retention_active_limit: int
    rate_limit_per_minute: int
    rate_limit_per_hour: int
    photos_table: str
    users_table: str
    idempotency_table: str
    rate_limits_table: str
    uploads_table: str
    graphql_introspection: bool
    # the renditions function signed fetch invokes for a rendition not made yet; unset: it
    # renders in-process (the local stack's self-hosted use, tests)
    renditions_function: str | None = None
    # CORS_ALLOWED_ORIGINS: origins (`scheme://host[:port]`, lower case) a browser may call
    # the API from; empty: no CORS headers at all (profile_photos.api.cors)
    cors_allowed_origins: tuple[str, ...] = ()
    # AWS_LAMBDA_FUNCTION_MEMORY_SIZE (MB), which Lambda sets from the function's MemorySize:
    # what a decode may take is derived from it (images.footprint.budget)
    memory_size_mb: int = DEFAULT_MEMORY_SIZE_MB
    # CDN_DISTRIBUTION_PARAMETER: the SSM parameter holding the CloudFront distribution's id
    # (the template's, with EnableCdn; the function's environment cannot name the
    # distribution itself: a cycle). Unset: no CDN to purge (profile_photos.store.cdn)
    cdn_distribution_parameter: str | None = None

    @property
    def allowed_content_types(self) -> frozenset[str]:
        return frozenset(KNOWN_EXTENSIONS[ext] for ext in self.allowed_extensions)

    @property
    def r2_endpoint(self) -> str:
        if self.r2_endpoint_url:
            return self.r2_endpoint_url
        return f"https://{self.r2_account_id}.r2.cloudflarestorage.com"


def load_settings(env: Mapping[str, str]) -> Settings:
    """Build settings from `env`, raising `SettingsError` that names every bad variable."""
    problems: list[str] = []

    def text(name: str, default: str | None = None) -> str | None:
        value = env.get(name, "").strip()
        return value or default

    def integer(name: str, default: int, *, minimum: int = 1, maximum: int | None = None) -> int:
        raw = text(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            problems.append(f"{name} must be an integer, got {raw!r}")
            return default
        if value < minimum or (maximum is not None and value > maximum):
            upper = f" and <= {maximum}" if maximum is not None else ""
            problems.append(f"{name} must be >= {minimum}{upper}, got {value}")
        return value

    def flag(name: str) -> bool:
        raw = (text(name) or "false").lower()
        if raw not in ("true", "false", "1", "0"):
            problems.append(f"{name} must be true or false, got {raw!r}")
        return raw in ("true", "1")

    provider = (text("OBJECT_STORAGE_PROVIDER", "LOCAL") or "LOCAL").upper()
    if provider not in ("LOCAL", "R2"):
        problems.append(f"OBJECT_STORAGE_PROVIDER must be LOCAL or R2, got {provider!r}")
        provider = "LOCAL"

    secret = text("LOCAL_STORAGE_SECRET") or ""
    if len(secret) < MIN_SECRET_LENGTH:
        problems.append(
            f"LOCAL_STORAGE_SECRET must be at least {MIN_SECRET_LENGTH} characters "
            f"(it signs every photo URL), got {len(secret)}"
        )

    extensions = (
        tuple(
            dict.fromkeys(
                part.strip().lower().lstrip(".")
                for part in (text("LOCAL_STORAGE_ALLOWED_EXTENSIONS") or "").split(",")
                if part.strip()
            )
        )
        or DEFAULT_ALLOWED_EXTENSIONS
    )
    unknown = [ext for ext in extensions if ext not in KNOWN_EXTENSIONS]
    if unknown:
        problems.append(
            "LOCAL_STORAGE_ALLOWED_EXTENSIONS has types the service cannot verify: "
            f"{', '.join(unknown)} (supported: {', '.join(KNOWN_EXTENSIONS)})"
        )

    jwt_secret = text("JWT_SECRET")
    jwt_jwks_url = text("JWT_JWKS_URL")
    if not jwt_secret and not jwt_jwks_url:
        problems.append("set JWT_SECRET (HS256) or JWT_JWKS_URL (RS256/ES256) to verify tokens")
    if jwt_secret and len(jwt_secret) < MIN_SECRET_LENGTH:
        problems.append(
            f"JWT_SECRET must be at least {MIN_SECRET_LENGTH} characters, got {len(jwt_secret)}"
        )
    if jwt_jwks_url and not jwt_jwks_url.startswith(("https://", "http://")):
        problems.append(f"JWT_JWKS_URL must be an http(s) URL, got {jwt_jwks_url!r}")
    jwt_issuer, jwt_audience = text("JWT_ISSUER"), text("JWT_AUDIENCE")
    if jwt_jwks_url:
        # An issuer's key set signs tokens for every app and tenant it serves: without both
        # checks, any of their tokens would be accepted here.
        missing = [
            name
            for name, value in (("JWT_ISSUER", jwt_issuer), ("JWT_AUDIENCE", jwt_audience))
            if not value
        ]
        if missing:
            problems.append(
                f"JWT_JWKS_URL needs {' and '.join(missing)}: the issuer's keys also sign "
                "tokens for its other apps, which must not be accepted here"
            )

    base_url = text("LOCAL_STORAGE_BASE_URL")
    if base_url and not base_url.startswith(("https://", "http://")):
        problems.append(f"LOCAL_STORAGE_BASE_URL must be an http(s) URL, got {base_url!r}")

    r2 = {
        name: text(name)
        for name in (
            "R2_ACCOUNT_ID",
            "R2_ACCESS_KEY_ID",
            "R2_SECRET_ACCESS_KEY",
            "R2_USER_ASSETS_BUCKET",
            "R2_APP_ASSETS_BUCKET",
            "R2_ENDPOINT_URL",
        )
    }
    if provider == "R2":
        required = ["R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY", "R2_USER_ASSETS_BUCKET"]
        if not r2["R2_ENDPOINT_URL"]:
            required.insert(0, "R2_ACCOUNT_ID")
        missing = [name for name in required if not r2[name]]
        if missing:
            problems.append(f"OBJECT_STORAGE_PROVIDER=R2 needs {', '.join(missing)}")

    ttl = integer("SIGNED_URL_TTL_SECONDS", DEFAULT_SIGNED_URL_TTL, maximum=MAX_PRESIGN_SECONDS)
    ttl_valid = 1 <= ttl <= MAX_PRESIGN_SECONDS
    # A window longer than the TTL would let a URL outlive twice its TTL. Unset, the window
    # is the default, shortened to the TTL when that is shorter (a 60 s TTL still starts).
    window = integer(
        "SIGNED_URL_WINDOW_SECONDS",
        min(DEFAULT_SIGNED_URL_WINDOW, ttl) if ttl_valid else DEFAULT_SIGNED_URL_WINDOW,
    )
    if window > (ttl if ttl_valid else MAX_PRESIGN_SECONDS):
        limit = f"SIGNED_URL_TTL_SECONDS ({ttl})" if ttl_valid else str(MAX_PRESIGN_SECONDS)
        problems.append(f"SIGNED_URL_WINDOW_SECONDS must be <= {limit}, got {window}")

    cors_origins = parse_origins(text("CORS_ALLOWED_ORIGINS") or "")
    bad_origins = [origin for origin in cors_origins if not _is_origin(origin)]
    if bad_origins:
        problems.append(
            "CORS_ALLOWED_ORIGINS must list origins such as https://app.example.com "
            f"(scheme, host, optional port; no path), or *: got {', '.join(bad_origins)}"
        )

    cdn_parameter = text("CDN_DISTRIBUTION_PARAMETER")
    if cdn_parameter is not None and not (
        len(cdn_parameter) <= MAX_SSM_PARAMETER_NAME and SSM_PARAMETER_NAME.fullmatch(cdn_parameter)
    ):
        problems.append(
            "CDN_DISTRIBUTION_PARAMETER must be an SSM parameter name such as "
            f"/profile-photos-prod/cdn-distribution-id, got {cdn_parameter!r}"
        )

    dev_data_dir = Path(text("DEV_DATA_DIR", "./data") or "./data")
    settings = Settings(
        object_storage_provider=provider,  # type: ignore[arg-type]
        local_storage_base_path=Path(
            text("LOCAL_STORAGE_BASE_PATH") or dev_data_dir / "object-storage"
        ).absolute(),
        local_storage_base_url=base_url.rstrip("/") if base_url else None,
        local_storage_secret=secret,
        allowed_extensions=extensions,
        max_file_size=integer("LOCAL_STORAGE_MAX_FILE_SIZE", DEFAULT_MAX_FILE_SIZE),
        r2_account_id=r2["R2_ACCOUNT_ID"],
        r2_access_key_id=r2["R2_ACCESS_KEY_ID"],
        r2_secret_access_key=r2["R2_SECRET_ACCESS_KEY"],
        r2_user_assets_bucket=r2["R2_USER_ASSETS_BUCKET"],
        r2_app_assets_bucket=r2["R2_APP_ASSETS_BUCKET"],
        r2_endpoint_url=r2["R2_ENDPOINT_URL"],
        jwt_secret=jwt_secret,
        jwt_jwks_url=jwt_jwks_url,
        jwt_issuer=jwt_issuer,
        jwt_audience=jwt_audience,
        signed_url_ttl_seconds=ttl,
        signed_url_window_seconds=window,
        retention_active_limit=integer("RETENTION_ACTIVE_LIMIT", 5),
        rate_limit_per_minute=integer("RATE_LIMIT_PER_MINUTE", 100),
        rate_limit_per_hour=integer("RATE_LIMIT_PER_HOUR", 1000),
        photos_table=text("PHOTOS_TABLE", "profile-photos-photos") or "",
        users_table=text("USERS_TABLE", "profile-photos-users") or "",
        idempotency_table=text("IDEMPOTENCY_TABLE", "profile-photos-idempotency") or "",
        rate_limits_table=text("RATE_LIMITS_TABLE", "profile-photos-rate-limits") or "",
        uploads_table=text("UPLOADS_TABLE", "profile-photos-uploads") or "",
        graphql_introspection=flag("GRAPHQL_INTROSPECTION"),
        renditions_function=text("RENDITIONS_FUNCTION"),
        cors_allowed_origins=cors_origins,
        memory_size_mb=integer("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", DEFAULT_MEMORY_SIZE_MB),
        cdn_distribution_parameter=cdn_parameter,
    )
    if problems:
        raise SettingsError("invalid configuration: " + "; ".join(problems))
    return settings


def parse_origins(raw: str) -> tuple[str, ...]:
    """`CORS_ALLOWED_ORIGINS` as a tuple: split on commas, without a trailing slash, lower
    case (how a browser serialises `Origin`), duplicates dropped."""
    return tuple(
        dict.fromkeys(part.strip().rstrip("/").lower() for part in raw.split(",") if part.strip())
    )


def _is_origin(value: str) -> bool:
    """`*`, or what a browser sends as `Origin`: `scheme://host[:port]`, nothing more."""
    if value == "*":
        return True
    scheme, sep, rest = value.partition("://")
    host, _, port = rest.partition(":")
    return (
        bool(sep)
        and scheme in ("http", "https")
        and bool(host)
        and all(ch.isalnum() or ch in ".-" for ch in host)
        and (port == "" or (port.isdigit() and 0 < int(port) < 65536))
        and rest.count(":") <= 1
    )


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, validated on first use."""
    return load_settings(os.environ)
