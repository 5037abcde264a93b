"""Where run states go: memory (here), later a local database or a server."""

from .memory import MemoryRecorder, TaskRunRecord

__all__ = ["MemoryRecorder", "TaskRunRecord"]
