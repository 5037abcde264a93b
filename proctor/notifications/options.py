"""Checks run when a notifier is created, so that a typo fails at definition time.

A notifier only speaks when a run goes wrong, often hours later and far from the code that built
it; a malformed URL or address found then would be lost in a log. Every check here raises
`NotificationConfigError` with the bad value and how to fix it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from email.utils import formataddr, getaddresses
from typing import Any
from urllib.parse import urlsplit

from .errors import NotificationConfigError

# RFC 7230 token characters: what an HTTP header name may be made of.
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# A domain is dot-separated labels of letters, digits and hyphens (any script, for IDNs).
_DOMAIN_LABEL = re.compile(r"^(?!-)[\w-]+(?<!-)$")


def check_http_url(value: Any, what: str) -> str:
    """`value` as an http(s) URL with a host, or a `NotificationConfigError` naming it."""
    if not isinstance(value, str) or not value.strip():
        raise NotificationConfigError(f"{what} must be an http(s) URL string, got {value!r}")
    url = value.strip()
    hint = "e.g. https://hooks.example.com/path"
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise NotificationConfigError(f"{what}={value!r} contains whitespace; {hint}")
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError:
        raise NotificationConfigError(f"{what}={value!r} has an invalid port; {hint}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise NotificationConfigError(
            f"{what}={value!r} is not an http:// or https:// URL with a host; {hint}"
        )
    return url


def redact_url(url: str, *, keep_path: bool = True) -> str:
    """A URL safe to print in logs: no credentials, no query, and optionally no path.

    Webhook URLs often carry their secret in the path (Slack) or the query (tokens), and log files
    are read by more people than the secret's owner.
    """
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    path = parts.path if keep_path else ("/..." if parts.path not in ("", "/") else "")
    return f"{parts.scheme}://{host}{path}"


def check_headers(value: Any) -> dict[str, str]:
    """`value` as a dict of header names to values, refusing what HTTP cannot carry."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise NotificationConfigError(
            f"headers must be a mapping of header names to values, e.g. "
            f"{{'Authorization': 'Bearer ...'}}; got {type(value).__name__}: {value!r}"
        )
    headers: dict[str, str] = {}
    for name, val in value.items():
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            raise NotificationConfigError(
                f"header name {name!r} is not a valid HTTP header name (a non-empty string of "
                f"letters, digits and -_.!#$%&'*+^`|~)"
            )
        if not isinstance(val, str):
            raise NotificationConfigError(
                f"header {name!r} has a {type(val).__name__} value {val!r}; header values must "
                f"be strings (use str(...))"
            )
        if "\r" in val or "\n" in val:
            raise NotificationConfigError(f"header {name!r} value {val!r} contains a line break")
        headers[name] = val
    return headers


def _is_plain_address(addr: str) -> bool:
    local, at, domain = addr.rpartition("@")
    if not at or not local or not domain or len(local) > 64:
        return False
    if any(ch.isspace() or ch in '<>()[],;:"\\' for ch in local):
        return False
    return all(_DOMAIN_LABEL.match(label) for label in domain.split("."))


def check_address(value: Any, what: str) -> tuple[str, str]:
    """One mail address (`a@b.c` or `Name <a@b.c>`), as (bare, header form)."""
    if not isinstance(value, str):
        raise NotificationConfigError(f"{what} must be an address string, got {value!r}")
    found = check_addresses(value, what)
    if len(found) != 1:
        raise NotificationConfigError(f"{what} must be a single address, got {value!r}")
    return found[0]


def check_addresses(value: Any, what: str) -> list[tuple[str, str]]:
    """Addresses from a string (comma-separated allowed) or a list, as (bare, header form).

    `email.utils` parses leniently (`"not an address"` parses as `not`), so each parsed address
    must also look like `local@domain` before it is accepted.
    """
    if isinstance(value, str):
        items: Iterable[Any] = [value]
    elif isinstance(value, Iterable) and not isinstance(value, (bytes, Mapping)):
        items = list(value)
    else:
        raise NotificationConfigError(
            f"{what} must be an address string or a list of them, got {value!r}"
        )
    found: list[tuple[str, str]] = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise NotificationConfigError(f"{what}: {item!r} is not an email address")
        parsed = getaddresses([item])
        if not parsed:
            raise NotificationConfigError(f"{what}: {item!r} is not an email address")
        for name, addr in parsed:
            # The parser silently repairs some garbage ("a@exa mple.com" -> "a@examplecom"):
            # insist that what it found was written as such.
            if not _is_plain_address(addr) or addr not in item:
                raise NotificationConfigError(
                    f"{what}: {item!r} is not a valid email address (expected local@domain or "
                    f"'Name <local@domain>')"
                )
            found.append((addr, formataddr((name, addr)) if name else addr))
    if not found:
        raise NotificationConfigError(f"{what} needs at least one email address, got {value!r}")
    return found


def check_delivery_options(timeout: Any, retries: Any, backoff: Any) -> tuple[float, int, float]:
    """The shared timeout/retries/backoff options, as validated numbers."""

    def number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    if not number(timeout) or not timeout > 0:
        raise NotificationConfigError(f"timeout must be a number of seconds > 0, got {timeout!r}")
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        raise NotificationConfigError(f"retries must be an int >= 0, got {retries!r}")
    if not number(backoff) or not backoff >= 0:
        raise NotificationConfigError(f"backoff must be a number of seconds >= 0, got {backoff!r}")
    return float(timeout), retries, float(backoff)
