"""Which entrypoints an agent may run: only files under its code roots, symlinks resolved."""

from __future__ import annotations

import pytest

from proctor.agent.code_roots import CodeRootError, normalize_roots, resolve_entrypoint


@pytest.fixture
def layout(tmp_path):
    root = tmp_path / "root"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "flows.py").write_text("")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "evil.py").write_text("")
    return root, outside


def test_a_relative_entrypoint_under_a_root_resolves_to_its_real_file(layout):
    root, _ = layout
    found = resolve_entrypoint("pkg/flows.py:etl", roots=normalize_roots([root], root), base=root)
    assert found.file == (root / "pkg" / "flows.py").resolve()
    assert found.reference == f"{found.file}:etl" and found.workdir == root


@pytest.mark.parametrize("entrypoint", ["ABS", "../outside/evil.py:f", "pkg/../../outside/evil.py"])
def test_files_outside_the_roots_are_refused_with_how_to_allow_them(layout, entrypoint):
    root, outside = layout
    entrypoint = entrypoint.replace("ABS", f"{outside / 'evil.py'}:f")
    with pytest.raises(CodeRootError) as refused:
        resolve_entrypoint(entrypoint, roots=normalize_roots([root], root), base=root)
    text = str(refused.value)
    assert "outside this agent's code roots" in text and str(root.resolve()) in text
    assert f"--code-root {outside.resolve()}" in text


def test_a_symlink_out_of_a_root_is_followed_and_refused(layout):
    root, outside = layout
    (root / "link.py").symlink_to(outside / "evil.py")
    with pytest.raises(CodeRootError, match="resolves to"):
        resolve_entrypoint("link.py:f", roots=normalize_roots([root], root), base=root)


def test_several_roots_and_the_default(layout, tmp_path):
    root, outside = layout
    roots = normalize_roots([root, outside], tmp_path)
    assert resolve_entrypoint(f"{outside / 'evil.py'}:f", roots=roots, base=root).attribute == "f"
    assert normalize_roots([], root) == (root.resolve(),)


def test_bad_roots_and_entrypoints_are_refused_clearly(layout):
    root, _ = layout
    with pytest.raises(CodeRootError, match="not a folder"):
        normalize_roots([root / "missing"], root)
    with pytest.raises(CodeRootError, match=r"not a Python file \(\.py\)"):
        resolve_entrypoint("pkg/data.csv:f", roots=(root.resolve(),), base=root)
    with pytest.raises(CodeRootError, match="names no file"):
        resolve_entrypoint(":f", roots=(root.resolve(),), base=root)
