"""docs/settings.md lists every PROCTOR_* variable the code reads, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NAME = re.compile(r"PROCTOR_[A-Z][A-Z_]*[A-Z]")


def test_every_variable_the_code_reads_is_in_the_table():
    used = {m for path in (ROOT / "proctor").rglob("*.py")
            for m in NAME.findall(path.read_text(encoding="utf-8"))}
    table = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    # a row `PROCTOR_X_<NAME>` stands for a family of variables (PROCTOR_SECRET_<NAME>)
    rows = set(re.findall(r"^\| `(PROCTOR_[A-Z_]*[A-Z])(?:_<NAME>)?` \|", table, flags=re.M))
    assert used - rows == set(), "add these to docs/settings.md"
    assert rows - used == set(), "these are in docs/settings.md but no code reads them"
    assert "PORT=" in table  # the port of make run
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/settings.md" in readme
