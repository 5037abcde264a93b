"""Run ids: random 128-bit UUID-4 hex strings, cheap enough for the per-task path.

`uuid.uuid4()` reads the OS entropy pool on every call (a system call, ~5 us here). Ids only
have to be unique, not secret, so a private generator seeded from the OS once per process (and
again in every forked child) gives the same format for a fraction of the cost. It is private so
that `random.seed(...)` in user code can never make ids repeat.
"""

from __future__ import annotations

import os
import random

_rng = random.Random(os.urandom(32))
_VERSION_MASK = ~((0xF << 76) | (0x3 << 62))
_VERSION_BITS = (0x4 << 76) | (0x2 << 62)


def _reseed() -> None:
    _rng.seed(os.urandom(32))


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reseed)


def new_id() -> str:
    """A new random id: 32 hex digits, a valid UUID version 4."""
    return "%032x" % ((_rng.getrandbits(128) & _VERSION_MASK) | _VERSION_BITS)
