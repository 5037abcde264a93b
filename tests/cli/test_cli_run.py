"""`proctor run`: exit codes, the summary table, parameters, executors, and load errors."""

from __future__ import annotations

import json

import pytest

ETL = """
    import json
    from proctor import Flow, Parameter, task

    @task
    def extract(n):
        return list(range(n))

    @task
    def double(x):
        return 2 * x

    @task
    def total(values, out):
        result = sum(values)
        if out:
            with open(out, "w") as fh:
                json.dump(result, fh)
        return result

    with Flow("etl") as flow:
        n = Parameter("n", default=3)
        out = Parameter("out", default="")
        total(double.map(extract(n)), out)
"""

FAILING = """
    from proctor import Flow, task

    @task
    def boom():
        raise ValueError("boom [from the task]")

    @task
    def after(value):
        return value

    with Flow("failing") as flow:
        after(boom())
"""

FUNCTION = """
    import json
    from proctor import flow, task

    @task
    def square(x):
        return x * x

    @flow
    def squares(xs: list[int], out: str = ""):
        values = [f.result() for f in square.map(xs)]
        if out:
            with open(out, "w") as fh:
                json.dump(values, fh)
        return values
"""


# -- success and failure ----------------------------------------------------------------------
def test_run_success_prints_a_table_and_exits_0(proctor_cli, write_flow):
    path = write_flow(ETL)
    proc = proctor_cli("run", f"{path}:flow")
    assert proc.returncode == 0, proc.stderr
    for key in ("extract", "double", "total"):
        assert key in proc.stdout
    assert "Success ×3" in proc.stdout  # the mapped call, collapsed to one row
    assert "Flow run 'etl' finished" in proc.stdout
    assert "Error" not in proc.stderr


def test_run_in_process_success(invoke, write_flow):
    result = invoke("run", f"{write_flow(ETL)}:flow")
    assert result.exit_code == 0, result.output
    assert "extract" in result.stdout and "Success" in result.stdout


def test_failing_flow_exits_1_and_shows_why(proctor_cli, write_flow):
    proc = proctor_cli("run", f"{write_flow(FAILING)}:flow")
    assert proc.returncode == 1
    assert "Failed" in proc.stdout
    assert "TriggerFailed" in proc.stdout  # `after` never ran
    assert "boom [from the task]" in proc.stdout  # brackets survive: no rich markup
    assert "Task run failed: ValueError: boom" in proc.stderr  # logged as it happened
    assert "Traceback (most recent call last)" in proc.stderr


def test_flow_function_with_map_and_list_param(proctor_cli, write_flow, tmp_path):
    out = tmp_path / "out.json"
    proc = proctor_cli("run", f"{write_flow(FUNCTION)}:squares", "--param", "xs=[1,2,3]",
                       "--param", f"out={out}")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text()) == [1, 4, 9]
    assert "square" in proc.stdout and "Success ×3" in proc.stdout


def test_flow_function_whose_body_raises_exits_1(proctor_cli, write_flow):
    path = write_flow(
        """
        from proctor import flow

        @flow
        def broken():
            raise KeyError("missing")
        """
    )
    result = proctor_cli("run", f"{path}:broken")
    assert result.returncode == 1
    assert "flow body raised KeyError" in result.stdout
    assert "Traceback (most recent call last)" in result.stderr
    assert "run_function" not in result.stderr  # the engine's own frames are left out
    assert "KeyError: 'missing'" in result.stderr


def test_handled_task_failure_in_flow_function_is_success(invoke, write_flow):
    path = write_flow(
        """
        from proctor import flow, task

        @task
        def fragile(x):
            if x == 1:
                raise RuntimeError("one")
            return x

        @flow
        def tolerant():
            futures = fragile.map([0, 1, 2])
            return [f.result(raise_on_failure=False) for f in futures]
        """
    )
    result = invoke("run", f"{path}:tolerant")
    assert result.exit_code == 0, result.output
    assert "Success ×2, Failed ×1" in result.stdout
    assert "[1] RuntimeError: one" in result.stdout
    assert "finished" in result.stdout and "Success" in result.stdout


# -- parameters -------------------------------------------------------------------------------
def test_param_parsed_as_json_reaches_the_flow(proctor_cli, write_flow, tmp_path):
    out = tmp_path / "result.json"
    proc = proctor_cli("run", f"{write_flow(ETL)}:flow", "--param", "n=4", "-p", f"out={out}")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text()) == 12  # 2 * (0 + 1 + 2 + 3): n arrived as the int 4
    assert "Success ×4" in proc.stdout


@pytest.mark.parametrize("bad", ["abc", "=5", " =5"])
def test_bad_param_syntax_exits_2(invoke, write_flow, bad):
    result = invoke("run", f"{write_flow(ETL)}:flow", "--param", bad)
    assert result.exit_code == 2
    assert f"Error: --param {bad!r}: expected KEY=VALUE, e.g. --param n=5" in result.stderr


def test_bad_param_syntax_in_a_real_process(proctor_cli, write_flow):
    proc = proctor_cli("run", f"{write_flow(ETL)}:flow", "--param", "abc")
    assert proc.returncode == 2
    assert "Error: --param 'abc': expected KEY=VALUE, e.g. --param n=5" in proc.stderr
    assert proc.stdout == ""


def test_param_given_twice_exits_2(invoke, write_flow):
    result = invoke("run", f"{write_flow(ETL)}:flow", "-p", "n=1", "-p", "n=2")
    assert result.exit_code == 2
    assert "more than once" in result.stderr


def test_unknown_parameter_names_the_valid_ones(proctor_cli, write_flow):
    proc = proctor_cli("run", f"{write_flow(ETL)}:flow", "--param", "m=5")
    assert proc.returncode == 2
    expected = "Error: flow 'etl' has no parameter(s) 'm'; valid names: n, out"
    assert proc.stderr.strip().endswith(expected)


def test_unknown_parameter_of_flow_function(invoke, write_flow):
    result = invoke("run", f"{write_flow(FUNCTION)}:squares", "-p", "ys=[1]")
    assert result.exit_code == 2
    assert "no parameter(s) 'ys'; valid names: xs, out" in result.stderr


def test_missing_required_parameter(invoke, write_flow):
    path = write_flow(
        """
        from proctor import Flow, Parameter, task

        @task
        def show(x):
            return x

        with Flow("needs") as flow:
            show(Parameter("x", required=True))
        """
    )
    result = invoke("run", f"{path}:flow")
    assert result.exit_code == 2
    assert "needs parameter(s) 'x'" in result.stderr


def test_invalid_parameter_value(invoke, write_flow):
    result = invoke("run", f"{write_flow(FUNCTION)}:squares", "-p", "xs=oops")
    assert result.exit_code == 2
    assert "Error: parameter 'xs' of flow 'squares' got 'oops'" in result.stderr


def test_flow_function_parameter_named_like_a_run_option(invoke, write_flow, tmp_path):
    out = tmp_path / "seen.txt"
    path = write_flow(
        f"""
        from proctor import flow

        @flow
        def deploy(executor: str = "none", observers: int = 0):
            with open({str(out)!r}, "w") as fh:
                fh.write(f"{{executor}}/{{observers}}")
        """
    )
    result = invoke("run", f"{path}:deploy", "-p", "executor=gpu", "-p", "observers=2",
                    "--executor", "threads:2")
    assert result.exit_code == 0, result.output
    assert out.read_text() == "gpu/2"


# -- executors --------------------------------------------------------------------------------
def test_unknown_executor_exits_2(invoke, write_flow):
    result = invoke("run", f"{write_flow(ETL)}:flow", "--executor", "gpu:8")
    assert result.exit_code == 2
    assert "Error: unknown executor 'gpu:8'" in result.stderr


def test_bad_worker_count_exits_2(invoke, write_flow):
    result = invoke("run", f"{write_flow(ETL)}:flow", "-e", "threads:zero")
    assert result.exit_code == 2
    assert "worker count" in result.stderr


MAPPED_PIDS = """
    import os
    from proctor import Flow, task

    CLI_PID = os.getpid()  # the process that loaded this file: the CLI itself

    @task
    def where(x):
        return x * x, os.getpid(), CLI_PID

    @task
    def write(rows, path):
        with open(path, "w") as fh:
            for row in rows:
                fh.write(" ".join(map(str, row)) + "\\n")

    with Flow("pids") as flow:
        write(where.map([1, 2, 3, 4]), OUT)
"""


@pytest.mark.parametrize("executor", ["threads:2", "processes:2"])
def test_parallel_executors_run_a_mapped_flow(proctor_cli, write_flow, tmp_path, executor):
    out = tmp_path / "rows.txt"
    path = write_flow(MAPPED_PIDS.replace("OUT", repr(str(out))))
    proc = proctor_cli("run", f"{path}:flow", "--executor", executor)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [[int(v) for v in line.split()] for line in out.read_text().splitlines()]
    assert [square for square, _, _ in rows] == [1, 4, 9, 16]
    in_cli = [pid == cli_pid for _, pid, cli_pid in rows]
    # threads share the CLI's process; processes ran the tasks elsewhere (pickled by value)
    assert all(in_cli) if executor.startswith("threads") else not any(in_cli)
    assert "Success ×4" in proc.stdout
