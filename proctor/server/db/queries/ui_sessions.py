"""The web UI's logins: open one, look one up, end one, forget the expired.

Rows are keyed by the SHA-256 of the session id (`proctor.server.ui.session` hashes it), never
by the id itself. A lookup is one primary-key read, so checking the session on every page and
every API call the page makes costs one indexed row; expired rows are removed in one statement
when someone logs in, which keeps the table as small as the number of live logins.
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm import Session

from ..models import UISession


def create_ui_session(session: Session, id_hash: str, *, now: float, expires_at: float) -> None:
    """Store a new login that lasts until `expires_at`, and delete the logins that expired."""
    session.execute(delete(UISession).where(UISession.expires_at <= now))
    session.add(UISession(id_hash=id_hash, created_at=now, expires_at=expires_at))


def ui_session_is_live(session: Session, id_hash: str, *, now: float) -> bool:
    """Is there a login with this hash that has not expired at `now`?"""
    row = session.get(UISession, id_hash)
    return row is not None and row.expires_at > now


def delete_ui_session(session: Session, id_hash: str) -> bool:
    """End a login (logout); False when it was already gone."""
    result = session.execute(delete(UISession).where(UISession.id_hash == id_hash))
    return bool(result.rowcount)
