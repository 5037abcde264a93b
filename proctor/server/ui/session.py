"""The web UI's session: a cookie holding a digest of the API key, checked in constant time.

Kept in its own module because the API's key check imports it too: a page's script calls the
JSON API with the cookie, never with the key.
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import Request

#: The session cookie holding a token derived from the API key (never the key itself).
COOKIE = "proctor_session"


def session_token(api_key: str) -> str:
    """What the session cookie holds: a digest of the key, useless as a key itself."""
    return hmac.new(api_key.encode(), b"proctor-ui-session", hashlib.sha256).hexdigest()


def has_session(request: Request) -> bool:
    """Does the request carry a valid UI session cookie (or does the server need none)?"""
    expected = request.app.state.api_key
    if expected is None:
        return True
    given = request.cookies.get(COOKIE, "")
    return bool(given) and hmac.compare_digest(given.encode(), session_token(expected).encode())
