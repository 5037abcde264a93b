"""The task library's basics (`proctor.tasks`), run on real executors with real commands."""

from __future__ import annotations

import logging
import time

from proctor import Flow, Parameter, context, get_run_logger, task
from proctor.signals import FAIL
from proctor.states import StateType
from proctor.tasks import (
    Constant,
    EnvVarSecret,
    FilterTask,
    JinjaTemplate,
    Secret,
    ShellTask,
    StringFormatter,
)


def messages(caplog, task_name):
    return [r.getMessage() for r in caplog.records if getattr(r, "task_name", None) == task_name]


def test_shell_task_streams_output_and_returns_lines(basic_executor, caplog, tmp_path):
    listing = ShellTask(name="listing", return_all=True, helper_script=f"cd {tmp_path}")
    last = ShellTask(name="last", env={"GREETING": "bonjour"})
    (tmp_path / "a.csv").write_text("x")
    (tmp_path / "b.csv").write_text("y")
    with Flow("shell", executor=basic_executor) as f:
        files = listing(command="ls *.csv")
        greeting = last(command='echo first; echo "$GREETING from $PWD"')
    with caplog.at_level(logging.INFO, logger="proctor"):
        state = f.run()
    assert state.result[files].result == ["a.csv", "b.csv"]
    assert state.result[greeting].result.startswith("bonjour from /")
    assert messages(caplog, "listing") == ["a.csv", "b.csv"]  # streamed as the lines came
    assert "first" in messages(caplog, "last")


def test_shell_task_failure_gives_exit_code_and_last_lines(basic_executor, caplog):
    failing = ShellTask(name="failing", log_stderr=True)
    with Flow("shell-fail", executor=basic_executor) as f:
        out = failing(command="echo working; echo 'disk full' >&2; exit 7")
    with caplog.at_level(logging.INFO, logger="proctor"):
        state = f.run()
    failed = state.result[out]
    assert failed.type is StateType.FAILED
    assert "exited with code 7" in failed.message and "disk full" in failed.message
    assert isinstance(failed.result, FAIL)
    errors = [r.getMessage() for r in caplog.records
              if r.levelno == logging.ERROR and "stderr of the command" in r.getMessage()]
    assert errors and "disk full" in errors[0]


def test_shell_task_timeout_kills_the_command(tmp_path):
    marker = tmp_path / "still-running"
    slow = ShellTask(name="slow", timeout=1)
    with Flow("shell-timeout") as f:
        out = slow(command=f"sleep 30; touch {marker}")
    started = time.monotonic()
    state = f.run()
    assert state.result[out].type is StateType.TIMED_OUT
    assert time.monotonic() - started < 25  # the command did not run its 30 s
    assert not marker.exists()


def test_shell_task_without_a_command_fails_clearly():
    with Flow("shell-none") as f:
        out = ShellTask(name="empty")()
    message = f.run().result[out].message
    assert "no command to run" in message and "command='...'" in message


@task
def risky(x):
    if x == 2:
        raise ValueError("two")
    return None if x == 3 else x * 10


def test_filter_task_drops_failures_and_nones(basic_executor):
    with Flow("filter", executor=basic_executor) as f:
        results = risky.map([1, 2, 3, 4])
        kept = FilterTask()(results)
        big = FilterTask(filter_func=lambda v: v is not None and v > 10)(results)
        five = Constant(5)()
        labels = Constant(["a", "b"], name="labels")()
    state = f.run()
    assert state.result[kept].result == [10, 40]
    assert state.result[big].result == [40]
    assert state.result[five].result == 5 and state.result[labels].result == ["a", "b"]


def test_templates_see_the_run_context_and_call_values(basic_executor):
    jinja = JinjaTemplate(template="{{ greeting }} {{ who }}: {{ flow_name }} on {{ today }}")
    plain = StringFormatter(template="{flow_name}/{who}")
    with Flow("templated", executor=basic_executor) as f:
        who = Parameter("who", default="Ada")
        text = jinja(who=who)
        path = plain(who=who)
    with context(greeting="Hello"):
        state = f.run()
    rendered = state.result[text].result
    assert rendered.startswith("Hello Ada: templated on 20")
    assert state.result[path].result == "templated/Ada"


def test_secrets_are_masked_in_logs_and_states(basic_executor, caplog, monkeypatch):
    monkeypatch.setenv("REPORT_TOKEN", "tok-8842-secret")

    @task(log_prints=True)
    def connect(token):
        print(f"connecting with {token}")
        get_run_logger().info("token=%s", token)
        raise RuntimeError(f"refused {token}")

    with Flow("secrets", executor=basic_executor) as f:
        token = EnvVarSecret("REPORT_TOKEN")
        out = connect(token)
    with caplog.at_level(logging.INFO, logger="proctor"):
        state = f.run()
    assert state.result[token].result == "tok-8842-secret"  # the flow gets the value
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "connecting with ****" in text and "token=****" in text
    assert "tok-8842-secret" not in text
    from proctor.recording.wire import state_json

    assert "tok-8842-secret" not in state_json(state.result[out])["message"]


def test_secret_from_context_environment_or_a_clear_failure(monkeypatch):
    monkeypatch.setenv("PROCTOR_SECRET_API_KEY", "from-the-environment")
    assert Secret("API_KEY").get() == "from-the-environment"
    with Flow("secret") as f:
        given = Secret("DB_PASSWORD")()
        missing = Secret("NOT_SET_ANYWHERE")()
        required = EnvVarSecret("NOT_SET_EITHER", raise_if_missing=True)()
        optional = EnvVarSecret("NOT_SET_EITHER")()
    with context(secrets={"DB_PASSWORD": "hunter22"}):
        state = f.run()
    assert state.result[given].result == "hunter22"
    assert "PROCTOR_SECRET_NOT_SET_ANYWHERE" in state.result[missing].message
    assert state.result[required].is_failed() and state.result[optional].result is None


def test_shell_task_cwd_stdin_and_twenty_lines_of_stderr(tmp_path):
    counted = ShellTask(name="counted", cwd=tmp_path, stdin="b\na\nc\n", return_all=True)
    noisy = ShellTask(name="noisy")
    with Flow("shell-io") as f:
        out = counted(command="sort; pwd")
        bad = noisy(command="for i in $(seq 1 30); do echo line-$i >&2; done; exit 2")
        nowhere = ShellTask(name="nowhere", cwd=tmp_path / "missing")(command="true")
    state = f.run()
    assert state.result[out].result == ["a", "b", "c", str(tmp_path)]
    message = state.result[bad].message
    assert "line-11" in message and "line-30" in message and "line-10\n" not in message
    assert "is not a folder" in state.result[nowhere].message


def test_shell_task_timeout_kills_the_grandchildren_too(tmp_path):
    pidfile = tmp_path / "grandchild.pid"
    spawner = ShellTask(name="spawner", timeout=1)
    with Flow("shell-tree") as f:
        out = spawner(command=f"(sleep 60 & echo $! > {pidfile}; wait) ; echo never")
    state = f.run()
    assert state.result[out].type is StateType.TIMED_OUT
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    assert not _alive(pid), "the command's child outlived the task"


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waiting for its parent is gone for our purpose
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return False
