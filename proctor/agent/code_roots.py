"""Which code an agent may run: only files under the folders it was started with.

A deployment's entrypoint comes from the server, and anyone who can call the server's API can
write one. Without a check, `/tmp/evil.py:f` or `../elsewhere/evil.py:f` would make every agent
on the queue import (run) that file. So an agent has code roots (`proctor agent start
--code-root DIR`, repeatable; default its working directory) and runs an entrypoint only when
its file, with every symlink resolved, lies inside one of them. Anything else is refused with a
message naming the file, the roots, and how to allow it; the run ends FAILED without any of its
code being imported.

Pure: paths in, a resolved entrypoint or an error out (the filesystem is read only to resolve
symlinks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import ProctorError


class CodeRootError(ProctorError):
    """A deployment's entrypoint is not code this agent may run."""


@dataclass(frozen=True)
class Entrypoint:
    """An entrypoint this agent may run: the real file, the flow's name in it, and the working
    directory its process starts in."""

    file: Path
    attribute: str | None
    workdir: Path

    @property
    def reference(self) -> str:
        """What the loader takes: `/real/path/file.py:flow`."""
        return f"{self.file}:{self.attribute}" if self.attribute else str(self.file)


def normalize_roots(roots: Sequence[Path | str], default: Path) -> tuple[Path, ...]:
    """The roots as real absolute folders (symlinks resolved); `default` when none are given.
    Raises `CodeRootError` for a root that is not an existing folder."""
    chosen = [Path(root).expanduser() for root in roots] or [default]
    real: list[Path] = []
    for root in chosen:
        resolved = root.resolve()
        if not resolved.is_dir():
            raise CodeRootError(f"code root {root} is not a folder; give an existing folder "
                                "to --code-root")
        if resolved not in real:
            real.append(resolved)
    return tuple(real)


def _split(entrypoint: str) -> tuple[str, str | None]:
    path, sep, name = entrypoint.rpartition(":")
    if not sep or "/" in name or "\\" in name:
        return entrypoint, None
    return path, (name or None)


def resolve_entrypoint(
    entrypoint: str, *, roots: Sequence[Path], base: Path, workdir: Path | None = None
) -> Entrypoint:
    """Check `entrypoint` (`path/file.py:flow`, relative to `base` unless absolute) against
    the real, absolute `roots`; the entrypoint to run, or `CodeRootError` saying why not."""
    path, attribute = _split(entrypoint.strip())
    if not path:
        raise CodeRootError(f"entrypoint {entrypoint!r} names no file; deploy it as "
                            "path/to/file.py:flow")
    if not path.endswith(".py"):
        raise CodeRootError(f"entrypoint {entrypoint!r} is not a Python file (.py); this "
                            "agent runs flows from .py files only")
    candidate = Path(path).expanduser()
    if not candidate.is_absolute():
        candidate = base / candidate
    real = candidate.resolve()
    if not any(real.is_relative_to(root) for root in roots):
        listed = ", ".join(str(root) for root in roots)
        shown = f" (it resolves to {real})" if str(real) != str(candidate) else ""
        raise CodeRootError(
            f"refused to run {candidate}{shown}: it is outside this agent's code roots "
            f"({listed}). An agent runs only code under the folders it was started with and "
            f"those `proctor deploy` was run from on its machine; to allow this one, deploy it "
            f"with `proctor deploy` on the agent's machine, or start the agent with "
            f"--code-root {real.parent}"
        )
    return Entrypoint(real, attribute, workdir or base)
