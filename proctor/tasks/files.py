"""Files as tasks, through fsspec: read, write, list, copy, move, delete; CSV and JSON helpers.

    from proctor.tasks.files import ListFiles, ReadCSV, WriteJSON

    with Flow("files") as f:
        names = ListFiles("data/", pattern="*.csv")()
        rows = ReadCSV().map(names)
        WriteJSON("out/summary.json")(rows)

Paths are local paths or fsspec URLs (`file://`, `memory://`, and `s3://`, `gs://`, ... once the
matching fsspec package is installed; only local paths and `memory://` are tested here). Every
task takes its path at construction or at the call (the call's wins). Writes go to a temporary
name beside the target and are renamed into place on local disks, so a reader never sees half a
file. A missing file, a folder where a file was expected, or a refused permission fails the task
naming the path. Needs `pip install 'proctor[files]'` (fsspec); `ReadCSV(dataframe=True)` also
needs pandas.
"""

from __future__ import annotations

import csv
import io
import json
import os
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from ..core.errors import TaskOptionError
from ..core.signals import FAIL
from ..core.task import Task


def _fsspec(owner: str) -> Any:
    try:
        import fsspec
    except ImportError:
        raise TaskOptionError(f"{owner} needs fsspec: pip install 'proctor[files]'") from None
    return fsspec


def _split(path: Any, owner: str) -> tuple[Any, str]:
    """(filesystem, path inside it) of a local path or an fsspec URL."""
    if path is None:
        raise TaskOptionError(f"{owner}: no path; give it to the task or to the call")
    text = os.fspath(path) if isinstance(path, os.PathLike) else path
    if not isinstance(text, str) or not text:
        raise TaskOptionError(f"{owner}: path must be a path or URL, got {path!r}")
    fsspec = _fsspec(owner)
    try:
        fs, inner = fsspec.core.url_to_fs(text)
    except (ValueError, ImportError) as exc:
        raise TaskOptionError(f"{owner}: {text!r}: {exc}") from None
    return fs, inner


def _failed(exc: Exception, what: str, path: Any) -> FAIL:
    reasons = {FileNotFoundError: "does not exist", IsADirectoryError: "is a folder",
               NotADirectoryError: "is not a folder", PermissionError: "is not allowed"}
    reason = next((text for kind, text in reasons.items() if isinstance(exc, kind)), None)
    detail = reason or f"{type(exc).__name__}: {exc}"
    return FAIL(f"{what} {os.fspath(path) if isinstance(path, os.PathLike) else path}: {detail}")


class _FileTask(Task):
    default_name = "file"

    def __init__(self, path: str | os.PathLike | None = None, **options: Any) -> None:
        options.setdefault("name", self.default_name)
        super().__init__(**options)
        _fsspec(f"task {self.name!r}")
        if path is not None:
            _split(path, f"task {self.name!r}")  # a bad URL is refused where it is written
        self.path = path

    def _where(self, path: Any) -> tuple[Any, str, Any]:
        chosen = path if path is not None else self.path
        fs, inner = _split(chosen, f"task {self.name!r}")
        return fs, inner, chosen


def _write(fs: Any, inner: str, data: bytes) -> None:
    """Write atomically where the filesystem can rename (local disks), plainly elsewhere."""
    parent = fs._parent(inner)
    if parent:
        fs.makedirs(parent, exist_ok=True)
    if getattr(fs, "protocol", None) in ("file", ("file", "local")) or \
            type(fs).__name__ == "LocalFileSystem":
        temporary = f"{inner}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            with fs.open(temporary, "wb") as fh:
                fh.write(data)
            os.replace(temporary, inner)
        except BaseException:
            if fs.exists(temporary):
                fs.rm(temporary)
            raise
        return
    with fs.open(inner, "wb") as fh:
        fh.write(data)


class ReadFile(_FileTask):
    """The file's content: text (`encoding`, default utf-8) or bytes (`binary=True`)."""

    default_name = "read_file"

    def __init__(self, path: Any = None, *, binary: bool = False, encoding: str = "utf-8",
                 **options: Any) -> None:
        super().__init__(path, **options)
        self.binary, self.encoding = bool(binary), encoding

    def run(self, path: Any = None) -> str | bytes:
        fs, inner, shown = self._where(path)
        try:
            data = fs.cat_file(inner)
        except (OSError, ValueError) as exc:
            raise _failed(exc, "cannot read", shown) from exc
        return data if self.binary else data.decode(self.encoding)


class WriteFile(_FileTask):
    """Write `data` (text or bytes) to the file, replacing it; returns the path."""

    default_name = "write_file"

    def run(self, data: str | bytes, path: Any = None) -> str:
        fs, inner, shown = self._where(path)
        if not isinstance(data, (str, bytes)):
            raise FAIL(f"task {self.name!r}: WriteFile writes text or bytes, got "
                       f"{type(data).__name__}; WriteJSON and WriteCSV write data")
        try:
            _write(fs, inner, data.encode() if isinstance(data, str) else data)
        except (OSError, ValueError) as exc:
            raise _failed(exc, "cannot write", shown) from exc
        return os.fspath(shown) if isinstance(shown, os.PathLike) else shown


class ListFiles(_FileTask):
    """The files under a folder matching `pattern` (a glob, default every file), sorted, as
    paths (URLs for remote filesystems). `recursive=True` looks into subfolders."""

    default_name = "list_files"

    def __init__(self, path: Any = None, *, pattern: str = "*", recursive: bool = False,
                 **options: Any) -> None:
        super().__init__(path, **options)
        self.pattern, self.recursive = pattern, bool(recursive)

    def run(self, path: Any = None) -> list[str]:
        fs, inner, shown = self._where(path)
        if not fs.isdir(inner):
            raise FAIL(f"cannot list {shown}: is not a folder")
        glob = f"{inner.rstrip('/')}/{'**/' if self.recursive else ''}{self.pattern}"
        found = sorted(p for p in fs.glob(glob) if fs.isfile(p))
        protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
        if protocol in ("file", "local"):
            return found
        return [fs.unstrip_protocol(p) for p in found]


class CopyFile(_FileTask):
    """Copy the file to `destination` (on the same filesystem); returns the destination."""

    default_name = "copy_file"
    _verb = "copy"

    def run(self, destination: Any, path: Any = None) -> str:
        fs, inner, shown = self._where(path)
        target_fs, target, _ = self._where(destination)
        try:
            parent = target_fs._parent(target)
            if parent:
                target_fs.makedirs(parent, exist_ok=True)
            if self._verb == "move":
                fs.mv(inner, target)
            else:
                fs.copy(inner, target)
        except (OSError, ValueError) as exc:
            raise _failed(exc, f"cannot {self._verb}", shown) from exc
        return os.fspath(destination) if isinstance(destination, os.PathLike) else destination


class MoveFile(CopyFile):
    """Move (rename) the file to `destination`; returns the destination."""

    default_name = "move_file"
    _verb = "move"


class DeleteFile(_FileTask):
    """Delete the file; returns True, or False when it did not exist (`missing_ok`, default
    True; else a missing file fails the task)."""

    default_name = "delete_file"

    def __init__(self, path: Any = None, *, missing_ok: bool = True, **options: Any) -> None:
        super().__init__(path, **options)
        self.missing_ok = bool(missing_ok)

    def run(self, path: Any = None) -> bool:
        fs, inner, shown = self._where(path)
        if not fs.exists(inner):
            if self.missing_ok:
                return False
            raise FAIL(f"cannot delete {shown}: does not exist")
        if fs.isdir(inner):
            raise FAIL(f"cannot delete {shown}: is a folder (DeleteFile deletes files)")
        fs.rm(inner)
        return True


class ReadCSV(ReadFile):
    """The rows of a CSV file as dicts (header row: the keys), or a pandas DataFrame."""

    default_name = "read_csv"

    def __init__(self, path: Any = None, *, dataframe: bool = False, **options: Any) -> None:
        super().__init__(path, **options)
        if dataframe:
            try:
                import pandas  # noqa: F401
            except ImportError:
                raise TaskOptionError(f"task {self.name!r}: dataframe=True needs pandas") \
                    from None
        self.dataframe = bool(dataframe)

    def run(self, path: Any = None) -> Any:
        text = super().run(path)
        if self.dataframe:
            import pandas

            return pandas.read_csv(io.StringIO(text))
        return list(csv.DictReader(io.StringIO(text)))


class WriteCSV(WriteFile):
    """Write rows (dicts with the same keys) as CSV with a header; returns the path."""

    default_name = "write_csv"

    def run(self, rows: Iterable[Mapping[str, Any]], path: Any = None) -> str:
        rows = [dict(r) for r in rows]
        buffer = io.StringIO()
        if rows:
            writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
            writer.writeheader()
            try:
                writer.writerows(rows)
            except ValueError as exc:
                raise FAIL(f"task {self.name!r}: rows have different columns ({exc})") from None
        return super().run(buffer.getvalue(), path)


class ReadJSON(ReadFile):
    """The JSON value in a file."""

    default_name = "read_json"

    def run(self, path: Any = None) -> Any:
        text = super().run(path)
        try:
            return json.loads(text)
        except ValueError as exc:
            raise FAIL(f"{path if path is not None else self.path}: not JSON ({exc})") from None


class WriteJSON(WriteFile):
    """Write a value as JSON (`indent`, default 2); returns the path."""

    default_name = "write_json"

    def __init__(self, path: Any = None, *, indent: int | None = 2, **options: Any) -> None:
        super().__init__(path, **options)
        self.indent = indent

    def run(self, value: Any, path: Any = None) -> str:
        try:
            text = json.dumps(value, indent=self.indent, default=str)
        except (TypeError, ValueError) as exc:
            raise FAIL(f"task {self.name!r}: the value is not JSON-serializable ({exc})") \
                from None
        return super().run(text, path)


__all__ = ["CopyFile", "DeleteFile", "ListFiles", "MoveFile", "ReadCSV", "ReadFile",
           "ReadJSON", "WriteCSV", "WriteFile", "WriteJSON"]
