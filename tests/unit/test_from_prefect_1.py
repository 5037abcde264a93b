"""docs/from-prefect-1.md: every Proctor name of the migration table exists, and the table covers
the Prefect 1 modules it promises."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "from-prefect-1.md"
ROW = re.compile(r"^\| `([^`]+)`[^|]* \| (.+?) \| (.*)\|$", re.M)
MODULES = ("prefect.Flow", "prefect.tasks.control_flow", "prefect.engine.signals",
           "prefect.engine.results", "prefect.schedules.clocks", "prefect.schedules.filters",
           "prefect.schedules.adjustments", "prefect.tasks.shell", "prefect.tasks.secrets",
           "prefect.utilities.edges", "prefect.triggers", "prefect.context")


def resolve(path: str) -> object:
    """The object a dotted path names: the longest importable module, then attributes."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            value = getattr(value, attribute)
        return value
    raise ImportError(path)


def rows() -> list[tuple[str, str, str]]:
    return ROW.findall(DOC.read_text(encoding="utf-8"))


def test_every_proctor_name_in_the_table_imports():
    checked = 0
    for prefect_name, proctor_cell, _notes in rows():
        target = re.match(r"`(proctor\.[A-Za-z0-9_.]+)", proctor_cell)
        if target is None:
            assert proctor_cell.startswith(("not provided", "the same")), (
                f"{prefect_name}: the Proctor column must name a `proctor.` path, "
                f"'the same' or 'not provided', got {proctor_cell!r}")
            continue
        assert resolve(target.group(1)) is not None, target.group(1)
        checked += 1
    assert checked >= 130  # the table was read (about 140 names)


def test_the_table_covers_the_modules_it_promises():
    names = [prefect_name for prefect_name, _, _ in rows()]
    text = DOC.read_text(encoding="utf-8")
    for module in MODULES:
        assert any(n.startswith(module) for n in names) or f"`{module}`" in text, module
    not_provided = [n for n, cell, notes in rows() if cell.startswith("not provided")]
    assert all(notes.strip() for n, cell, notes in rows() if n in not_provided)
