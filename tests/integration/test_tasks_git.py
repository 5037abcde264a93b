"""proctor.tasks.git on real local repositories (a bare origin made with the git program)."""

from __future__ import annotations

import subprocess

import pytest

from proctor import Flow
from proctor.core.errors import TaskOptionError
from proctor.tasks.git import GitCheckout


def git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def origin(tmp_path):
    """A bare repository with two commits on main, a tag v1 on the first, a branch 'next'."""
    work, bare = tmp_path / "work", tmp_path / "origin.git"
    work.mkdir()
    git("init", "--quiet", "-b", "main", cwd=work)
    git("config", "user.email", "t@example.com", cwd=work)
    git("config", "user.name", "T", cwd=work)
    (work / "README").write_text("one\n")
    git("add", "README", cwd=work)
    git("commit", "--quiet", "-m", "one", cwd=work)
    git("tag", "v1", cwd=work)
    first = git("rev-parse", "HEAD", cwd=work)
    (work / "README").write_text("two\n")
    git("commit", "--quiet", "-am", "two", cwd=work)
    git("branch", "next", first, cwd=work)
    git("clone", "--quiet", "--bare", str(work), str(bare), cwd=tmp_path)
    return {"url": str(bare), "first": first, "second": git("rev-parse", "HEAD", cwd=work),
            "work": work}


def test_clone_at_refs_then_update(origin, tmp_path, basic_executor):
    with Flow("git", executor=basic_executor) as f:
        latest = GitCheckout(origin["url"])(dest=tmp_path / "latest")
        tagged = GitCheckout(origin["url"], ref="v1")(dest=tmp_path / "tagged")
        branch = GitCheckout(origin["url"], ref="next", depth=1)(dest=tmp_path / "branch")
    state = f.run()
    assert state.result[latest].result["commit"] == origin["second"]
    assert (tmp_path / "latest" / "README").read_text() == "two\n"
    assert state.result[tagged].result["commit"] == origin["first"]
    assert (tmp_path / "tagged" / "README").read_text() == "one\n"
    assert state.result[branch].result["commit"] == origin["first"]
    # a new commit upstream: running again fetches and moves the checkout to it
    (origin["work"] / "README").write_text("three\n")
    git("commit", "--quiet", "-am", "three", cwd=origin["work"])
    git("push", "--quiet", origin["url"], "main", cwd=origin["work"])
    again = GitCheckout(origin["url"], ref="main").run(tmp_path / "latest")
    assert again["commit"] == git("rev-parse", "HEAD", cwd=origin["work"])
    assert (tmp_path / "latest" / "README").read_text() == "three\n"


def test_failures_say_what_and_where(origin, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file").write_text("x")
    with Flow("git-fail") as f:
        nowhere = GitCheckout(str(tmp_path / "no-such.git"))(dest=tmp_path / "a")
        no_ref = GitCheckout(origin["url"], ref="v9")(dest=tmp_path / "b")
        busy = GitCheckout(origin["url"])(dest=tmp_path / "busy")
    state = f.run()
    assert state.result[nowhere].message.startswith("git clone of ")
    assert "has no branch, tag or commit 'v9'" in state.result[no_ref].message
    assert "is not a git checkout" in state.result[busy].message
    with pytest.raises(TaskOptionError, match="ref="):
        GitCheckout(origin["url"], ref="--upload-pack=evil")
    with pytest.raises(TaskOptionError, match="url="):
        GitCheckout("--help")
