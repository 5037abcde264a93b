"""Workshop step 3: errors, retries and triggers.

- `extract` is flaky: it fails twice, then works; `max_retries` with backoff absorbs that.
- `validate` fails for real. `alert` (trigger `any_failed`) runs only because something failed;
  `cleanup` (trigger `always_run`) runs whatever happened.
- The flow still ends Failed: a cleanup or a failure handler at the end never hides a failure
  before it. (`flow.set_reference_tasks([...])` chooses other tasks to decide, when you mean it.)

Run it: `proctor run examples/03_errors_and_triggers.py:flow` (exit code 1: the flow failed).
"""

from datetime import timedelta

from proctor import Flow, get_run_context, get_run_logger, task
from proctor.triggers import always_run, any_failed


@task(max_retries=3, retry_delay=timedelta(seconds=0.1), retry_backoff=2.0, retry_jitter=0.1,
      retry_on=(IOError,))
def extract():
    """A source that times out twice before answering."""
    attempt = get_run_context().task_run.attempt
    if attempt < 3:
        raise OSError(f"source timed out (attempt {attempt})")
    return [3, 1, 4, 1, 5, 9, 2, 6]


@task
def validate(rows):
    if len(set(rows)) != len(rows):
        raise ValueError(f"{len(rows) - len(set(rows))} duplicate row(s)")
    return rows


@task
def load(rows):
    return len(rows)


@task(trigger=any_failed)
def alert():
    get_run_logger().warning("something failed upstream: paging the on-call engineer")
    return "alerted"


@task(trigger=always_run)
def cleanup():
    get_run_logger().info("removing temporary files")
    return "cleaned"


with Flow("errors-and-triggers") as flow:
    rows = extract()
    valid = validate(rows)
    loaded = load(valid)
    alert(upstream_tasks=[valid])
    cleanup(upstream_tasks=[loaded])


if __name__ == "__main__":
    state = flow.run()
    for handle, task_state in state.result.items():
        print(f"{handle.key:<10} {task_state.name:<14} {task_state.message}")
    print("flow:", state.name)
