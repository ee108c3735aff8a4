"""Settings: ``config/itilflow.toml`` defaults, overridden by ``ITILFLOW_*`` environment variables
and, in tests, by keyword arguments."""

from __future__ import annotations

import os
import re
import secrets
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from limits import parse_many

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
        _check(settings)
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


#: the least each whole-number setting may be, and what it counts (for the error)
MINIMUM = {
    "trusted_proxies": (0, "the number of proxy hops"),
    # a lease is also the RQ job's timeout (RQ refuses 0); to let a slow pager answer, keep it
    # above a delivery's HTTP timeout (domain.paging.DELIVERY_TIMEOUT_SECONDS, the README says)
    "outbox_lease_seconds": (1, "seconds"),
    "outbox_max_lag_seconds": (1, "seconds"),
    "pager_secret_overlap_seconds": (0, "seconds"),
    "max_content_length": (65_536, "bytes"),  # a ticket's own fields need that much
    "access_log_retention_days": (0, "days (0: kept for ever)"),
    "login_alert_failures": (1, "failed logins"),
    "login_alert_minutes": (1, "minutes"),
    "smtp_port": (1, "a TCP port"),
}
_PRIORITY = re.compile(r"P[1-5]")
_REDIS_SCHEMES = ("redis", "rediss", "unix")


def _check(settings: Settings) -> None:
    """Refuse, at start, a value that would quietly switch a feature off (a page priority
    nobody has, a throttle that does not parse, a lease RQ refuses as a timeout)."""
    for name, (least, unit) in MINIMUM.items():
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ConfigError(f"setting {name}: expected {least} or more ({unit}), "
                              f"got {value!r}")
    if settings.smtp_port > 65_535:
        raise ConfigError(f"setting smtp_port: expected a TCP port, got {settings.smtp_port!r}")
    address = settings.smtp_from.strip()
    if "@" not in address or any(c.isspace() for c in address):
        raise ConfigError(f"setting smtp_from: expected an email address, got "
                          f"{settings.smtp_from!r}")
    wrong = [p for p in settings.page_priorities.split(",")
             if p.strip() and not _PRIORITY.fullmatch(p.strip().upper())]
    if wrong:
        raise ConfigError(f"setting page_priorities: expected priorities P1 to P5, comma "
                          f"separated (e.g. P1,P2), got {settings.page_priorities!r}")
    for name in ("login_rate_limit", "form_rate_limit"):
        try:
            limits_ = parse_many(getattr(settings, name))
        except ValueError:
            limits_ = []
        if not limits_ or any(limit.amount < 1 for limit in limits_):
            raise ConfigError(f"setting {name}: expected a rate such as '10 per minute', "
                              f"got {getattr(settings, name)!r}")
    url = settings.redis_url.strip()
    if url and urlsplit(url).scheme not in _REDIS_SCHEMES:
        raise ConfigError(f"setting redis_url: expected redis://host:port/db (or rediss://, "
                          f"unix://), got {settings.redis_url!r}")


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
