"""Every error Proctor raises on purpose, on one screen.

Each message says what was wrong, where, and how to fix it. Catch `ProctorError` for all of them.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError


class ProctorError(Exception):
    """Base class of every error Proctor raises on purpose."""


# -- building a flow ------------------------------------------------------------------------------
class FlowDefinitionError(ProctorError):
    """A flow's graph was wired in a way that cannot run."""


class FlowNotCallableError(FlowDefinitionError, TypeError):
    """A graph-style `Flow` was called like a function (often: a variable named `flow` that
    hides the `@flow` decorator)."""


class CycleError(FlowDefinitionError):
    """A dependency would make the graph cyclic."""


class TaskHandleError(FlowDefinitionError):
    """A task handle was used outside the flow that created it."""


class NotATaskError(FlowDefinitionError, TypeError):
    """Something that is not a task was used where a task is needed."""


class NoActiveFlowError(FlowDefinitionError):
    """`.map()` or `.submit()` was called with no flow being built or run."""


class TaskOptionError(ProctorError, ValueError):
    """An option of a task or flow (retries, timeout, trigger, serializer, hooks...) is invalid."""


class CacheKeyError(ProctorError):
    """A task's cache key could not be computed (unhashable inputs, a key function that raised)."""


class MappingError(ProctorError):
    """The arguments of a mapped call cannot be mapped over (not iterable, unequal lengths)."""


# -- parameters -----------------------------------------------------------------------------------
class ParameterError(ProctorError, ValueError):
    """Parameters given to a flow run are wrong."""


class UnknownParameterError(ParameterError):
    """A parameter name the flow does not declare."""


class MissingParameterError(ParameterError):
    """A required parameter was not given."""


class ParameterValidationError(ParameterError):
    """A parameter value does not match the declared type."""


# -- running --------------------------------------------------------------------------------------
class ExecutorError(ProctorError):
    """An executor could not be created or could not run a task."""


class UnknownExecutorError(ExecutorError, ValueError):
    """An executor name that does not exist."""


class TaskNotPicklableError(ExecutorError):
    """A task or its arguments could not be pickled to be sent to another process."""


class TaskResultNotPicklableError(ExecutorError):
    """A task ran in another process but what it returned could not be pickled back."""


class ResourceTagError(ExecutorError, ValueError):
    """A `dask-resource:` task tag that does not read NAME=AMOUNT."""


class ClusterError(ExecutorError):
    """A Dask cluster could not be started or reached."""


class ResumeError(ProctorError, ValueError):
    """`resume=` was given something that is not an earlier run's final state."""


class MissingContextError(ProctorError, RuntimeError):
    """A run-only helper (`get_run_logger`, ...) was called outside any run."""


class UpstreamFailedError(ProctorError):
    """A task in a `@flow` body could not run because a task it depends on did not succeed."""


class FlowRunFailedError(ProctorError):
    """Calling a `@flow` function whose run failed without an exception of its own to re-raise."""


class FlowLoadError(ProctorError):
    """A `path/to/file.py:flow` reference could not be loaded."""


class TaskResultTruthError(FlowDefinitionError, TypeError):
    """`if task_result:` while a graph is built: the value does not exist yet."""


class StateMutationError(ProctorError, FrozenInstanceError):
    """A state's field was assigned: states are values; `state.copy(field=...)` makes a new one."""


class UnknownTaskOptionError(TaskOptionError, TypeError):
    """A task was given an option it does not have."""
