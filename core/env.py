"""Typed readers for settings that come from the environment.

Every setting Tisser has comes from an environment variable. A value that cannot be used
stops start-up with an `ImproperlyConfigured` error that names the variable, so a typo in
a deployment fails at once instead of at the first request.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use 1/0, true/false, yes/no.")


def env_int(name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and at most {maximum}" if maximum is not None else ""
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}{upper}.")
    return value


def env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number.") from None
    if not value >= minimum:  # also refuses NaN
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}.")
    return value


def env_weights(name: str, known: set[str]) -> dict[str, float]:
    """`"distance=4,cost=0.5"` → `{"distance": 4.0, "cost": 0.5}`; names must be known."""
    weights: dict[str, float] = {}
    for item in env_str(name).split(","):
        if not item.strip():
            continue
        key, _, raw = item.partition("=")
        key = key.strip()
        if key not in known:
            raise ImproperlyConfigured(f"{name}: unknown part {key!r}; use {sorted(known)}.")
        try:
            value = float(raw)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {key}={raw!r} is not a number.") from None
        if not value >= 0:
            raise ImproperlyConfigured(f"{name}: {key} must be 0 or more.")
        weights[key] = value
    return weights


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default) or default
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} must be one of: {', '.join(choices)}.")
    return value


def env_url(name: str, schemes: tuple[str, ...]) -> str:
    """An URL whose scheme is one of `schemes`, or "" when the variable is unset."""
    value = env_str(name)
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in schemes:
        raise ImproperlyConfigured(
            f"{name} must start with one of {', '.join(s + '://' for s in schemes)}; "
            f"got {parts.scheme or 'no scheme'!r}."
        )
    if parts.scheme not in ("sqlite",) and not parts.hostname:
        raise ImproperlyConfigured(f"{name} has no host name.")
    return value


def env_dir(name: str, default: Path) -> Path:
    """A directory that exists (created when missing) and that this process can write to."""
    path = Path(env_str(name) or default).expanduser().resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImproperlyConfigured(f"{name}={str(path)!r} cannot be created: {exc}.") from None
    if not os.access(path, os.W_OK):
        raise ImproperlyConfigured(f"{name}={str(path)!r} is not writable.")
    return path


def env_networks(name: str, default: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """`"127.0.0.1, 172.16.0.0/12"` → the networks (a single address is a network of one)."""
    networks: list[IPv4Network | IPv6Network] = []
    for item in env_str(name, default).split(","):
        if not item.strip():
            continue
        try:
            networks.append(ip_network(item.strip(), strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: {item.strip()!r} is not an IP address or network."
            ) from None
    return tuple(networks)


def private_file(path: Path) -> None:
    """Make `path` readable and writable by its owner only: created empty (with that mode
    from the start) when missing, narrowed when it exists. For the SQLite database,
    whose WAL and shared-memory files SQLite creates with the database file's mode."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            with contextlib.suppress(OSError):  # another user's file: theirs to narrow
                path.chmod(0o600)
    except OSError as exc:
        raise ImproperlyConfigured(f"{str(path)!r} cannot be created: {exc}.") from None
    else:
        os.close(fd)


def secret_key(*, production: bool, data_dir: Path) -> str:
    """`SECRET_KEY` from the environment; outside production, generated once and kept.

    Keeping the generated key in the data directory means sessions and signed values
    survive a restart of a local install without anybody having to invent a key.
    """
    value = env_str("SECRET_KEY")
    if value:
        if len(value) < 32:
            raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters long.")
        return value
    if production:
        raise ImproperlyConfigured("SECRET_KEY is required when TISSER_ENV=production.")
    key_file = data_dir / "secret_key"
    try:
        # O_EXCL: when several processes start at once, exactly one writes the key.
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(50))
    for _ in range(50):
        key = key_file.read_text().strip()
        if key:
            return key
        time.sleep(0.01)  # another process created the file and is writing the key
    raise ImproperlyConfigured(f"{key_file} is empty: delete it, or set SECRET_KEY.")
