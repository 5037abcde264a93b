"""The web UI's sessions: one random session per login, signed in the cookie, kept (hashed) in
the database, ended by logout or by expiry, and a CSRF token bound to each.

Why each piece:

- A login draws 32 random bytes (the session id). Two logins never share a cookie, and nothing
  about the key can be learnt from one.
- The cookie holds the id signed with itsdangerous (keyed by the API key, with a salt of its
  own, and timestamped): a forged or altered cookie is refused without touching the database,
  one older than `PROCTOR_UI_SESSION_TTL` is refused by its signature alone, and changing the
  key ends every session.
- The database keeps only the SHA-256 of the id and the expiry (table `ui_sessions`). Every
  server process on one database sees the same rows, so a logout through any of them ends the
  session in all of them; a leaked copy of the table holds no usable cookie.
- A cookie is sent by the browser whoever made the page that sends the request; the CSRF token
  is not. A state-changing call authenticated by the cookie must carry the token (header
  `X-Proctor-CSRF`, or the form field `csrf_token` of the UI's own forms), which only the UI's
  pages know: they carry it in `<meta name="proctor-csrf">`. The token is an HMAC of the
  session id, so it reveals nothing of the id and needs no storage of its own.

Kept apart from the pages (`routes`) because the API's key check (`api.deps`) uses it too: the
UI's script calls the JSON API with the cookie and the token, never with the key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request

from ..db.engine import Database
from ..db.queries import ui_sessions as q

#: The session cookie (HttpOnly, SameSite=Strict): the signed session id.
COOKIE = "proctor_session"
#: Where a cookie-authenticated change carries the CSRF token: this header, ...
CSRF_HEADER = "X-Proctor-CSRF"
#: ... or, for a plain HTML form of the UI, this field.
CSRF_FIELD = "csrf_token"
#: Methods that change nothing, so need no CSRF token.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_COOKIE_SALT = "proctor.ui-session"
_CSRF_CONTEXT = b"proctor.ui-csrf\x00"
#: Marks "looked up already, no valid session" on a request (None is a valid cached answer).
_UNSET = object()
_CACHE = "proctor_ui_session"


class SessionStore:
    """Opens, checks and ends the UI's sessions of one server (its key, its database)."""

    def __init__(self, database: Database, api_key: str, ttl: float) -> None:
        self.database = database
        self.ttl = ttl
        self._key = api_key.encode()
        self._serializer = URLSafeTimedSerializer(api_key, salt=_COOKIE_SALT)

    def open(self, now: float | None = None) -> str:
        """A new session: the value of its cookie (the session id, signed)."""
        now = time.time() if now is None else now
        session_id = secrets.token_urlsafe(32)
        self.database.transact(lambda s: q.create_ui_session(
            s, _digest(session_id), now=now, expires_at=now + self.ttl))
        return self._serializer.dumps(session_id)

    def session_id(self, cookie: str, now: float | None = None) -> str | None:
        """The id of the live session this cookie holds, or None (forged, altered, older than
        the TTL, logged out, expired)."""
        if not cookie:
            return None
        try:
            session_id = self._serializer.loads(cookie, max_age=self.ttl)
        except BadSignature:  # SignatureExpired is one
            return None
        if not isinstance(session_id, str):
            return None
        now = time.time() if now is None else now
        with self.database.read() as s:
            live = q.ui_session_is_live(s, _digest(session_id), now=now)
        return session_id if live else None

    def close(self, cookie: str) -> bool:
        """End the session this cookie holds (logout); False when there was none to end."""
        try:
            session_id = self._serializer.loads(cookie)
        except BadSignature:
            return False
        if not isinstance(session_id, str):
            return False
        return self.database.transact(lambda s: q.delete_ui_session(s, _digest(session_id)))

    def csrf_token(self, session_id: str) -> str:
        """The CSRF token of a session: what its pages send with every change."""
        return hmac.new(self._key, _CSRF_CONTEXT + session_id.encode(),
                        hashlib.sha256).hexdigest()

    def csrf_matches(self, session_id: str, given: str | None) -> bool:
        """Is `given` the session's CSRF token? Compared in constant time."""
        return bool(given) and hmac.compare_digest(
            given.encode(), self.csrf_token(session_id).encode())


def _digest(session_id: str) -> str:
    """What the database keeps of a session id."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def store_of(request: Request) -> SessionStore | None:
    """The app's session store; None when the server has no key (nothing to log in to)."""
    return getattr(request.app.state, "ui_sessions", None)


def current_session(request: Request) -> str | None:
    """The id of the request's live UI session, or None; looked up once per request."""
    cached = request.scope.get(_CACHE, _UNSET)
    if cached is not _UNSET:
        return cached  # type: ignore[return-value]
    store = store_of(request)
    found = store.session_id(request.cookies.get(COOKIE, "")) if store is not None else None
    request.scope[_CACHE] = found
    return found


def has_session(request: Request) -> bool:
    """May this request see the UI: does it carry a live session (or does the server need
    none)?"""
    return store_of(request) is None or current_session(request) is not None


def csrf_token(request: Request) -> str | None:
    """The CSRF token the request's pages must send back; None without a session."""
    store = store_of(request)
    session_id = current_session(request) if store is not None else None
    return store.csrf_token(session_id) if store is not None and session_id else None
