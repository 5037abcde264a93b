"""proctor.tasks.files on the local disk and on fsspec's in-memory filesystem."""

from __future__ import annotations

import uuid

import pytest

from proctor import Flow
from proctor.core.errors import TaskOptionError
from proctor.tasks.files import (
    CopyFile,
    DeleteFile,
    ListFiles,
    MoveFile,
    ReadCSV,
    ReadFile,
    ReadJSON,
    WriteCSV,
    WriteFile,
    WriteJSON,
)

ROWS = [{"id": "1", "city": "Paris"}, {"id": "2", "city": "Lyon"}]


def test_write_list_read_copy_move_delete_on_disk(tmp_path, basic_executor):
    folder = tmp_path / "data"
    with Flow("files", executor=basic_executor) as f:
        csv_path = WriteCSV(folder / "cities.csv")(ROWS)
        json_path = WriteJSON(folder / "cities.json")(ROWS)
        text_path = WriteFile(folder / "notes.txt")("hello\n")
        names = ListFiles(folder, pattern="*.c*")(upstream_tasks=[csv_path, json_path])
        rows = ReadCSV()(csv_path)
        again = ReadJSON()(json_path)
        copied = CopyFile()(folder / "sub" / "copy.txt", path=text_path)
        moved = MoveFile()(folder / "moved.txt", path=copied)
        text = ReadFile()(moved)
        deleted = DeleteFile()(text_path, upstream_tasks=[copied])
    state = f.run()
    assert state.is_successful(), state
    assert state.result[names].result == [str(folder / "cities.csv")]
    assert state.result[rows].result == ROWS and state.result[again].result == ROWS
    assert state.result[text].result == "hello\n"
    assert state.result[deleted].result is True and not (folder / "notes.txt").exists()
    assert not (folder / "sub" / "copy.txt").exists() and (folder / "moved.txt").exists()
    assert sorted(p.name for p in folder.iterdir()) == [
        "cities.csv", "cities.json", "moved.txt", "sub"]  # no temporary file left behind


def test_the_same_tasks_on_an_fsspec_url():
    base = f"memory://proctor-{uuid.uuid4().hex[:8]}"
    with Flow("memory-files") as f:
        written = WriteJSON(f"{base}/a.json")({"n": 1})
        listed = ListFiles(base)(upstream_tasks=[written])
        value = ReadJSON(f"{base}/a.json")(upstream_tasks=[written])
    state = f.run()
    (listed_path,) = state.result[listed].result
    assert listed_path.startswith("memory://") and listed_path.endswith(f"{base[9:]}/a.json")
    assert state.result[value].result == {"n": 1}


def test_failures_name_the_path(tmp_path):
    with Flow("files-fail") as f:
        missing = ReadFile(tmp_path / "absent.txt")()
        folder = ReadFile(tmp_path)()
        not_json = ReadJSON()(WriteFile(tmp_path / "x.json")("{not json"))
        strict = DeleteFile(tmp_path / "absent.txt", missing_ok=False)()
        relaxed = DeleteFile(tmp_path / "absent.txt")()
    state = f.run()
    assert state.result[missing].message == f"cannot read {tmp_path / 'absent.txt'}: does not exist"
    assert state.result[folder].message.startswith(f"cannot read {tmp_path}: ")
    assert "not JSON" in state.result[not_json].message
    assert "does not exist" in state.result[strict].message
    assert state.result[relaxed].result is False
    with pytest.raises(TaskOptionError, match="path must be"):
        ReadFile(42)
