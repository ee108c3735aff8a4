"""Settings: ``config/itilflow.toml`` defaults, overridden by ``ITILFLOW_*`` environment variables
and, in tests, by keyword arguments."""

from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from itilflow.domain.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _default_dir(env: str, name: str) -> Path:
    return Path(os.environ.get(env) or PROJECT_ROOT / name)


@dataclass(frozen=True)
class Settings:
    database_url: str = ""
    redis_url: str = ""
    secret_key: str = ""
    timezone: str = "Europe/Copenhagen"
    working_hours: str = "mon-fri 08:00-16:00"
    holidays: str = "DK"
    closed_days: str = ""
    page_priorities: str = "P1,P2"
    # paging and the outbox (docs/paging.md)
    smtp_host: str = ""            # empty: notifications only in the app
    smtp_port: int = 25
    smtp_from: str = "itilflow@localhost"
    outbox_lease_seconds: int = 60
    outbox_max_lag_seconds: int = 120
    #: how long a pager hook's replaced secret still signs and verifies after a rotation
    pager_secret_overlap_seconds: int = 86_400
    session_cookie_secure: bool = False
    login_rate_limit: str = "10 per minute"
    form_rate_limit: str = "30 per minute"
    max_content_length: int = 1_048_576
    access_log_retention_days: int = 365
    login_alert_failures: int = 5
    login_alert_minutes: int = 10
    #: proxies (load balancers) in front of the app whose X-Forwarded-For/-Proto/-Host are
    #: believed; 0: none, the peer's address is the client's
    trusted_proxies: int = 0
    config_dir: Path = field(default_factory=lambda: _default_dir("ITILFLOW_CONFIG_DIR", "config"))
    workflows_dir: Path = field(
        default_factory=lambda: _default_dir("ITILFLOW_WORKFLOWS_DIR", "workflows"))
    instance_dir: Path = field(
        default_factory=lambda: _default_dir("ITILFLOW_INSTANCE_DIR", "instance"))
    testing: bool = False

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Defaults from the TOML file, then the environment, then ``overrides``."""
        config_dir = Path(overrides.get("config_dir") or _default_dir("ITILFLOW_CONFIG_DIR",
                                                                       "config"))
        values: dict[str, Any] = {}
        toml_path = config_dir / "itilflow.toml"
        if toml_path.exists():
            try:
                values.update(tomllib.loads(toml_path.read_text(encoding="utf-8")))
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{toml_path}: {exc}") from exc
        known = {f.name: f for f in fields(cls)}
        unknown = set(values) - set(known)
        if unknown:
            raise ConfigError(f"{toml_path}: unknown setting(s) {', '.join(sorted(unknown))}")
        for name in known:
            env = os.environ.get(f"ITILFLOW_{name.upper()}")
            if env is not None:
                values[name] = env
        values.update(overrides)
        settings = cls(**{k: _coerce(known[k].type, k, v) for k, v in values.items()})
        if isinstance(settings.trusted_proxies, bool) or \
                not isinstance(settings.trusted_proxies, int) or settings.trusted_proxies < 0:
            raise ConfigError("setting trusted_proxies: expected the number of proxy hops "
                              f"(0 or more), got {settings.trusted_proxies!r}")
        if not settings.secret_key:
            settings = replace(settings, secret_key=secrets.token_hex(32))
        return settings

    @property
    def sqlalchemy_url(self) -> str:
        """The SQLAlchemy URL; a plain ``postgresql://`` URL works as given (psycopg 3)."""
        url = self.database_url.strip()
        if not url:
            return f"sqlite:///{self.instance_dir / 'itilflow.db'}"
        for plain in ("postgresql://", "postgres://"):
            if url.startswith(plain):
                return "postgresql+psycopg://" + url[len(plain):]
        return url

    @property
    def page_priority_set(self) -> frozenset[str]:
        return frozenset(p.strip().upper() for p in self.page_priorities.split(",") if p.strip())


def _coerce(type_name: Any, name: str, value: Any) -> Any:
    type_name = str(type_name)
    if "bool" in type_name and isinstance(value, str):
        low = value.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"setting {name}: expected true or false, got {value!r}")
    if type_name == "int" and isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"setting {name}: expected a whole number, got {value!r}") from None
    if type_name == "Path" and not isinstance(value, Path):
        return Path(value)
    return value
