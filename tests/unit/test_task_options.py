"""Task and flow options are validated where they are written, with the task and option named."""

import random
from datetime import timedelta

import pytest

from proctor import Flow, flow, task
from proctor.core.errors import TaskOptionError
from proctor.core.hooks import Hooks
from proctor.core.retries import RetryPolicy
from proctor.core.signals import ENDRUN, RETRY
from proctor.core.states import Failed, Retrying, Skipped, Success, TimedOut, TriggerFailed


def fn():
    return 1


@pytest.mark.parametrize(
    "options, fragment",
    [
        ({"max_retries": -1}, "max_retries=-1 must be a whole number >= 0"),
        ({"max_retries": 1.5}, "max_retries=1.5"),
        ({"retry_delay": -2}, "retry_delay=-2 must not be negative"),
        ({"retry_delay": timedelta(seconds=-1)}, "retry_delay=-1.0 must not be negative"),
        ({"retry_delay": "soon"}, "retry_delay='soon' must be a number of seconds"),
        ({"retry_backoff": 0.5}, "retry_backoff=0.5 must be a number >= 1"),
        ({"retry_jitter": 2}, "retry_jitter=2 must be a fraction between 0 and 1"),
        ({"retry_on": "IOError"}, "retry_on='IOError' must be an exception class"),
        ({"timeout": -1}, "timeout=-1 must not be negative"),
        ({"timeout": 0}, "timeout=0 would end every attempt at once"),
        ({"trigger": "any_failed"}, "trigger='any_failed' is not callable"),
        ({"serializer": "yaml"}, "unknown serializer 'yaml'"),
        ({"cache_key_fn": 42}, "cache_key_fn=42 is not callable"),
        ({"cache_expiration": -5}, "cache_expiration=-5 must not be negative"),
        ({"on_failure": [print, 3]}, "on_failure holds 3, which is not callable"),
        ({"state_handlers": 7}, "state_handlers=7 must be a callable or a list"),
    ],
)
def test_bad_task_options_name_task_and_option(options, fragment):
    with pytest.raises(TaskOptionError) as err:
        task(name="extract", **options)(fn)
    assert "task 'extract'" in str(err.value) and fragment in str(err.value)


def test_bad_flow_options_are_refused():
    with pytest.raises(TaskOptionError, match="flow 'etl': max_retries=-1"):
        Flow("etl", retries=-1)
    with pytest.raises(TaskOptionError, match="flow 'fn': retry_delay=-1"):
        flow(retry_delay=-1)(fn)
    with pytest.raises(TaskOptionError, match="on_success holds"):
        flow(on_success=[None])(fn)


def test_options_are_kept_and_with_options_revalidates():
    t = task(max_retries=2, retry_delay=timedelta(seconds=3), timeout=5, tags="io")(fn)
    assert t.max_retries == 2 and t.retry_policy.delay == 3.0 and t.timeout == 5.0
    assert t.tags == frozenset({"io"})
    again = t.with_options(max_retries=4)
    assert again.max_retries == 4 and t.max_retries == 2 and again.timeout == 5.0
    with pytest.raises(TaskOptionError):
        t.with_options(max_retries=-3)
    with pytest.raises(TypeError, match="no option"):
        t.with_options(colour="red")


def test_retry_delays_grow_with_backoff_and_jitter_stays_in_bounds():
    policy = RetryPolicy.build("t", max_retries=4, retry_delay=2, retry_backoff=3.0)
    assert [policy.delay_before(n) for n in (2, 3, 4)] == [2.0, 6.0, 18.0]
    jittery = RetryPolicy.build("t", max_retries=1, retry_delay=10, retry_jitter=0.1)
    rng = random.Random(1)
    delays = [jittery.delay_before(2, rng) for _ in range(200)]
    assert all(9.0 <= d <= 11.0 for d in delays) and len(set(delays)) > 100


def test_which_failures_are_retried():
    policy = RetryPolicy.build("t", max_retries=2, retry_on=(IOError,))
    assert policy.should_retry(Failed(exception=OSError("disk")), attempt=1)
    assert not policy.should_retry(Failed(exception=ValueError("bad")), attempt=1)
    assert policy.should_retry(Failed(exception=RETRY("again")), attempt=2)
    assert not policy.should_retry(Failed(exception=OSError("disk")), attempt=3)  # used up
    assert policy.should_retry(TimedOut(), attempt=1)  # TimeoutError is an OSError
    assert not RetryPolicy.build("t", max_retries=1, retry_on=ValueError).should_retry(
        TimedOut(), attempt=1
    )
    for final in (Success(), Skipped(), TriggerFailed()):
        assert not policy.should_retry(final, attempt=1)
    ended = Failed().with_changes(exception=ENDRUN(Failed()))
    assert not RetryPolicy.build("t", max_retries=3).should_retry(ended, 1)


def test_hooks_selected_by_state():
    def a(*_):
        pass

    def b(*_):
        pass

    def c(*_):
        pass

    def d(*_):
        pass

    hooks = Hooks.build("t", on_failure=[a], on_success=b, on_retry=[c], on_completion=[d])
    assert hooks.hooks_for(Failed()) == [a, d]
    assert hooks.hooks_for(TriggerFailed()) == [a, d]
    assert hooks.hooks_for(Success()) == [b, d]
    assert hooks.hooks_for(Skipped()) == [d]
    assert hooks.hooks_for(Retrying()) == [c]
    assert not Hooks() and hooks
