"""Folders deployed from on this machine: code roots that only a local user can add.

Two rules meet here. An agent runs only code under its roots (`agent.code_roots`), because
anyone who can call the server's API can write a deployment's entrypoint. And a newcomer's
`proctor deploy flows.py:etl` typed in `~/myproj` must run on the agent `make run` started in
the repository, without restarting it with `--code-root ~/myproj`.

They are reconciled by where the trust comes from. `proctor deploy` (and `flow.deploy()`) runs
on this machine, as this user: it writes the folder it deployed from into
`$PROCTOR_HOME/deployed-folders` (a file only this user can write, mode 0600), and an agent
sharing that `PROCTOR_HOME` counts those folders among its roots (unless started with
`--no-deployed-folders`). A deployment made through the API alone adds nothing to the file, so
it still runs only code under roots someone on this machine chose. The file is read at each
run's start: a folder deployed from after the agent started counts at once.
"""

from __future__ import annotations

import os
from pathlib import Path

from .. import settings

#: The file's name in `PROCTOR_HOME`.
FILE_NAME = "deployed-folders"
#: Most folders kept (the oldest are forgotten first).
MAX_FOLDERS = 1000


def _file(home: Path | None) -> Path:
    return (home or settings.home()) / FILE_NAME


def deployed_folders(home: Path | None = None) -> tuple[Path, ...]:
    """The folders deployed from on this machine, as real absolute paths (those that still
    exist); empty when the file is missing, unreadable or not this user's own."""
    path = _file(home)
    try:
        stat = path.stat()
        if stat.st_uid != os.getuid() or stat.st_mode & 0o022:
            return ()  # written by someone else, or writable by others: not trusted
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return ()
    folders: list[Path] = []
    for line in lines:
        folder = Path(line.strip())
        if folder.is_absolute() and folder.is_dir():
            real = folder.resolve()
            if real not in folders:
                folders.append(real)
    return tuple(folders)


def remember_deployed_folder(folder: Path, home: Path | None = None) -> Path:
    """Add `folder` (made real and absolute) to the file; returns it. The file is created
    0600; the newest folders are kept when there are more than `MAX_FOLDERS`."""
    real = folder.resolve()
    path = _file(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        known = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        known = []
    kept = [line for line in known if line.strip() and line.strip() != str(real)]
    kept = [*kept, str(real)][-MAX_FOLDERS:]
    temporary = path.with_name(f".{FILE_NAME}.{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(kept) + "\n")
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
    return real
