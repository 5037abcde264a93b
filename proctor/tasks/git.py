"""Git as tasks: clone a repository at a ref, or bring a checkout to a ref (the `git` program).

    from proctor.tasks.git import GitCheckout

    with Flow("build-docs") as f:
        path = GitCheckout("https://example.com/team/docs.git", ref="v2.1")(dest="/srv/docs")

`GitCheckout(url, ref=None, depth=None)(dest)` clones `url` into `dest` when `dest` is not a
checkout yet, else fetches; then checks out `ref` (a branch, tag or commit; default the remote's
default branch) and returns `{"path": ..., "commit": <full sha>}`. Runs `git` with no prompt
(GIT_TERMINAL_PROMPT=0), so a repository that needs credentials fails instead of waiting. A
failure quotes git's last lines of stderr, with any user:password in URLs removed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

from ..core.errors import TaskOptionError
from ..core.signals import FAIL, RETRY
from ..core.task import Task

#: git's stderr phrases that mean the network, not the request, failed
_TRANSIENT = ("could not resolve host", "connection timed out", "connection refused",
              "early eof", "the remote end hung up unexpectedly")


def _git(owner: str) -> str:
    found = shutil.which("git")
    if found is None:
        raise TaskOptionError(f"{owner} needs the git program: apt-get install git")
    return found


def _shown(text: str) -> str:
    from ..notifications.options import redact_url

    return " ".join(redact_url(word) if "://" in word else word for word in text.split(" "))


class GitCheckout(Task):
    """Clone or update a checkout of `url` at `ref` (see the module docstring)."""

    def __init__(self, url: str, *, ref: str | None = None, depth: int | None = None,
                 timeout_seconds: float = 600.0, **options: Any) -> None:
        options.setdefault("name", "git_checkout")
        super().__init__(**options)
        owner = f"task {self.name!r}"
        self.git = _git(owner)
        if not isinstance(url, str) or not url.strip() or url.startswith("-"):
            raise TaskOptionError(f"{owner}: url={url!r} is not a repository URL or path")
        if ref is not None and (not isinstance(ref, str) or not ref or ref.startswith("-")):
            raise TaskOptionError(f"{owner}: ref={ref!r} must be a branch, tag or commit")
        if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int)
                                  or depth < 1):
            raise TaskOptionError(f"{owner}: depth={depth!r} must be a whole number >= 1")
        self.url, self.ref, self.depth, self.command_timeout = url, ref, depth, timeout_seconds

    def run(self, dest: str | os.PathLike, ref: str | None = None) -> dict[str, str]:
        path = os.fspath(dest)
        wanted = ref or self.ref
        if os.path.isdir(os.path.join(path, ".git")):
            self._run(["fetch", "--tags", "origin"], cwd=path)
        else:
            if os.path.exists(path) and os.listdir(path):
                raise FAIL(f"task {self.name!r}: {path} exists and is not a git checkout; "
                           f"give an empty or new folder")
            clone = ["clone", "--quiet"]
            if self.depth:
                clone += ["--depth", str(self.depth), "--no-single-branch"]
            self._run([*clone, "--", self.url, path])
        if wanted:
            self._run(["checkout", "--quiet", "--detach", self._resolve(path, wanted)], cwd=path)
        else:
            default = self._run(["symbolic-ref", "--quiet", "--short",
                                 "refs/remotes/origin/HEAD"], cwd=path, check=False)
            if default:
                self._run(["checkout", "--quiet", "--detach", default], cwd=path)
        commit = self._run(["rev-parse", "HEAD"], cwd=path)
        return {"path": os.path.abspath(path), "commit": commit}

    def _resolve(self, path: str, ref: str) -> str:
        """The commit of `ref`: a remote branch first, else a tag or a commit."""
        for candidate in (f"refs/remotes/origin/{ref}", f"refs/tags/{ref}", ref):
            found = self._run(["rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}"],
                              cwd=path, check=False)
            if found:
                return found
        raise FAIL(f"task {self.name!r}: {_shown(self.url)} has no branch, tag or commit "
                   f"{ref!r}")

    def _run(self, args: list[str], cwd: str | None = None, check: bool = True) -> str:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "echo"}
        try:
            done = subprocess.run([self.git, *args], cwd=cwd, env=env, capture_output=True,
                                  text=True, timeout=self.command_timeout)
        except subprocess.TimeoutExpired:
            raise RETRY(f"git {args[0]} of {_shown(self.url)} did not finish in "
                        f"{self.command_timeout:g} s") from None
        if done.returncode == 0:
            return done.stdout.strip()
        if not check:
            return ""
        detail = _shown("\n".join(done.stderr.strip().splitlines()[-5:]))
        message = f"git {args[0]} of {_shown(self.url)} failed (exit {done.returncode}): {detail}"
        if any(phrase in done.stderr.lower() for phrase in _TRANSIENT):
            raise RETRY(message)
        raise FAIL(message)


__all__ = ["GitCheckout"]
