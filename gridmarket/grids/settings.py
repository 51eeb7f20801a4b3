"""Settings, one class per concern, read from ``GRIDMARKET_*`` environment variables and ``.env``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/gridmarket"

# The set-up writes the database it found or created here; a user's own .env wins over it.
_ENV_FILES = (".data/gridmarket.env", ".env")


class Settings(BaseSettings):
    """Everything gridmarket reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="GRIDMARKET_", env_file=_ENV_FILES, env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = Field(DEFAULT_DATABASE_URL, description="SQLAlchemy URL of the PostGIS database")
    host: str = Field("127.0.0.1", description="address `gridmarket serve` listens on")
    port: int = Field(8000, description="port `gridmarket serve` listens on")
    timezone: str = Field("Asia/Shanghai", description="the operator's time zone (as-of dates, periods)")
    admin_password: str | None = Field(
        None, description="password of the first admin; generated and printed once when unset"
    )
    token_ttl_minutes: int = Field(480, description="lifetime of a login (bearer token or session cookie)")
    login_attempts_per_minute: int = Field(10, description="failed logins allowed per user name and minute")
    cookie_secure: bool = Field(False, description="mark the session cookie Secure (set behind HTTPS)")
    h3_resolution: int = Field(9, description="resolution of generated H3 cells where no drawn cell covers")
    tile_url: str | None = Field(
        None, description="optional XYZ base-map URL template; with none, outlines are the base map"
    )
    tile_attribution: str = Field("", description="attribution shown for the base map")
    node_modules: Path | None = Field(
        None, description="folder holding the npm packages the web app serves (default: ./node_modules)"
    )
    pool_size: int = Field(10, description="database connection pool size of the API")
    compact_every_seconds: float = Field(
        60.0,
        ge=0,
        description="how often the API folds pending metric deltas into the aggregates (0: never)",
    )
    tiles_point_zoom: int = Field(
        15,
        ge=0,
        le=22,
        description="zoom from which the units tiles hold one point per unit (below: aggregated)",
    )
    gzip_level: int = Field(
        1,
        ge=0,
        le=9,
        description="gzip level of answers of 1 KB or more to clients that accept gzip (0: never; "
        "e.g. when a proxy in front compresses)",
    )


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings (tests build their own ``Settings`` instead)."""
    return Settings()
