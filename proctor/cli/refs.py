"""What a person may type to name a flow run: its full id, the first characters of it (the
short ids tables and the UI show), or its name (`gentle-otter-0412`, as the UI shows it).

One function turns any of those into the run's id, or into a sentence saying why it cannot:
no run matches, or several do (with what would tell them apart). The server answers both
lookups (`id_prefix`, `name` filters), so nothing is scanned here.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..core.errors import ProctorError

if TYPE_CHECKING:
    from ..client import ProctorClient

FULL_ID = re.compile(r"^[0-9a-f]{32}$")
PREFIX = re.compile(r"^[0-9a-f]{4,31}$")
#: Fewest characters of an id accepted as a prefix (fewer would match too much to be useful).
MIN_PREFIX = 4


class RunNotFound(ProctorError):
    """No flow run, or more than one, answers to what was typed."""


def resolve_run(client: ProctorClient, typed: str) -> str:
    """The id of the one flow run `typed` names (see the module docstring); `RunNotFound`
    with the reason otherwise. Server errors propagate (the caller reports them)."""
    text = typed.strip()
    if FULL_ID.match(text.lower()):
        return text.lower()
    candidates: list[dict] = []
    if PREFIX.match(text.lower()):
        candidates = client.list_flow_runs(id_prefix=text.lower(), limit=3)
    if not candidates and text:
        candidates = client.list_flow_runs(name=text, limit=3)
    if not candidates:
        hint = (f" (an id prefix needs at least {MIN_PREFIX} characters)"
                if 0 < len(text) < MIN_PREFIX else "")
        raise RunNotFound(f"no flow run has the id, id prefix or name {typed!r}{hint}; "
                          f"`proctor runs ls` lists the latest runs")
    if len(candidates) > 1:
        shown = ", ".join(f"{run['id']} ({run.get('name') or '-'}, {run['flow_name']})"
                          for run in candidates[:2])
        more = " and more" if len(candidates) > 2 else ""
        raise RunNotFound(f"{typed!r} names more than one flow run: {shown}{more}; give more "
                          f"characters of the id")
    return candidates[0]["id"]
