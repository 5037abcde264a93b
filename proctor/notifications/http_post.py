"""POST a JSON document with the standard library, reporting failures as `DeliveryError`.

`urllib.request` keeps `import proctor` free of HTTP client dependencies. Redirects are not
followed: urllib would turn the POST into a GET without its body, so the notification would
vanish while looking delivered; a redirect is reported instead, with the URL to use.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from .errors import DeliveryError

#: HTTP statuses worth retrying; every other 4xx means the request itself is wrong.
_TRANSIENT_4XX = frozenset({408, 425, 429})


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError for the 3xx, handled below


def _user_agent() -> str:
    from proctor import __version__

    return f"proctor/{__version__}"


def post_json(
    url: str, payload: Any, *, headers: Mapping[str, str] | None = None, timeout: float = 10.0
) -> None:
    """POST `payload` as JSON to `url`; return on a 2xx answer, raise `DeliveryError` otherwise.

    4xx answers (but 408, 425, 429) are marked permanent: sending the same request again would
    get the same answer. Everything else (5xx, timeouts, refused connections) may pass.
    """
    body = json.dumps(payload, default=str).encode("utf-8")
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/json; charset=utf-8")
    request.add_header("User-Agent", _user_agent())
    for name, value in (headers or {}).items():
        request.add_header(name, value)  # the user's headers win over the defaults
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read(65536)
    except urllib.error.HTTPError as exc:
        with exc:
            detail = _snippet(exc)
        if 300 <= exc.code < 400:
            target = exc.headers.get("Location", "?") if exc.headers else "?"
            raise DeliveryError(
                f"HTTP {exc.code} redirect to {target} (not followed; configure that URL)",
                permanent=True,
            ) from None
        permanent = 400 <= exc.code < 500 and exc.code not in _TRANSIENT_4XX
        raise DeliveryError(
            f"HTTP {exc.code} {exc.reason}" + (f": {detail}" if detail else ""),
            permanent=permanent,
        ) from None
    except urllib.error.URLError as exc:
        raise DeliveryError(f"cannot reach {_host(url)}: {exc.reason}") from None
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryError(f"{type(exc).__name__} talking to {_host(url)}: {exc}") from None


def _snippet(exc: urllib.error.HTTPError) -> str:
    try:
        text = exc.read(300).decode("utf-8", "replace")
    except Exception:
        return ""
    return " ".join(text.split())


def _host(url: str) -> str:
    return urlsplit(url).netloc.rpartition("@")[2] or url
