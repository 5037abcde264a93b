"""Cache key functions for `@task(cache_key_fn=...)`."""

from .core.caching import task_input_hash  # noqa: F401

__all__ = ["task_input_hash"]
