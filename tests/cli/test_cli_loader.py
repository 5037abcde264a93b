"""Loading `path/to/file.py:flow`: every way it can go wrong says which file and which name."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import cloudpickle
import pytest

from proctor.cli.loader import load_flow, split_reference
from proctor.core.errors import FlowLoadError

ONE_FLOW = textwrap.dedent(
    """
    from proctor import Flow, task

    @task
    def hello():
        return "hi"

    with Flow("greet") as greet:
        hello()
    """
)


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("flows.py:etl", ("flows.py", "etl")),
        ("flows.py", ("flows.py", None)),
        ("flows.py:", ("flows.py", None)),
        ("dir/flows.py:ns.etl", ("dir/flows.py", "ns.etl")),
        ("C:\\work\\flows.py", ("C:\\work\\flows.py", None)),
        ("C:\\work\\flows.py:etl", ("C:\\work\\flows.py", "etl")),
    ],
)
def test_split_reference(reference, expected):
    assert split_reference(reference) == expected


def test_missing_file_exits_2(proctor_cli, tmp_path):
    proc = proctor_cli("run", f"{tmp_path / 'nope.py'}:flow")
    assert proc.returncode == 2
    assert proc.stderr.startswith("Error: ")
    assert "nope.py: no such file" in proc.stderr


def test_missing_attribute_exits_2_and_lists_flows(proctor_cli, write_flow):
    path = write_flow(ONE_FLOW)
    proc = proctor_cli("run", f"{path}:nope")
    assert proc.returncode == 2
    assert f"Error: {path} has no attribute 'nope'; flows defined there: greet" in proc.stderr


def test_attribute_that_is_not_a_flow(invoke, write_flow):
    path = write_flow(ONE_FLOW + "\nnumber = 5\ndef plain():\n    pass\n")
    result = invoke("run", f"{path}:hello")
    assert result.exit_code == 2
    assert f"{path}:hello is a task ('hello'), not a flow" in result.stderr
    result = invoke("run", f"{path}:number")
    assert result.exit_code == 2
    assert f"{path}:number is an object of type int, not a flow" in result.stderr
    result = invoke("run", f"{path}:plain")
    assert "decorate it with @flow" in result.stderr


def test_syntax_error_names_file_and_line(invoke, write_flow):
    path = write_flow("x = 1\ndef broken(:\n    pass\n")
    result = invoke("run", f"{path}:flow")
    assert result.exit_code == 2
    assert f"Error: {path} has a syntax error at line 2" in result.stderr


def test_import_error_names_file_and_line(invoke, write_flow):
    path = write_flow("import os\nimport no_such_module_for_proctor_tests\n")
    result = invoke("run", f"{path}:flow")
    assert result.exit_code == 2
    assert f"importing {path} failed at line 2: ModuleNotFoundError" in result.stderr


def test_error_raised_while_building_the_flow(invoke, write_flow):
    path = write_flow(
        """
        from proctor import Flow, task

        @task
        def t(x):
            return x

        with Flow("bad") as flow:
            t.map(5)
            raise RuntimeError("while building")
        """
    )
    result = invoke("run", f"{path}:flow")
    assert result.exit_code == 2
    assert "RuntimeError: while building" in result.stderr


def test_directory_instead_of_file(invoke, tmp_path):
    result = invoke("run", f"{tmp_path}:flow")
    assert result.exit_code == 2
    assert "is a directory" in result.stderr


def test_invalid_name(invoke, write_flow):
    result = invoke("run", f"{write_flow(ONE_FLOW)}:1st")
    assert result.exit_code == 2
    assert "'1st' is not a Python name" in result.stderr


def test_name_may_be_omitted_when_the_file_has_one_flow(invoke, write_flow):
    result = invoke("run", str(write_flow(ONE_FLOW)))
    assert result.exit_code == 0, result.output
    assert "Flow run 'greet' finished" in result.stdout


def test_name_is_required_when_the_file_has_several_flows(invoke, write_flow):
    path = write_flow(ONE_FLOW + "\nwith Flow('again') as again:\n    hello()\nalias = again\n")
    result = invoke("run", str(path))
    assert result.exit_code == 2
    assert "defines 2 flows (greet, again); say which one" in result.stderr


def test_file_without_flows(invoke, write_flow):
    result = invoke("run", str(write_flow("x = 1\n")))
    assert result.exit_code == 2
    assert "defines no flow" in result.stderr


def test_main_block_does_not_run_and_siblings_import(write_flow, tmp_path):
    write_flow("FACTOR = 10\n", name="helpers_for_cli_test.py")
    path = write_flow(
        ONE_FLOW
        + "\nimport helpers_for_cli_test\n"
        + "if __name__ == '__main__':\n    raise SystemExit('main block ran')\n"
    )
    loaded = load_flow(str(path))
    assert loaded.name == "greet"
    assert loaded.module.helpers_for_cli_test.FACTOR == 10


def test_same_file_name_in_two_places_loads_twice(write_flow, tmp_path):
    first = load_flow(str(write_flow(ONE_FLOW)))
    other = tmp_path / "sub"
    other.mkdir()
    (other / "flows.py").write_text(ONE_FLOW.replace('"greet"', '"second"'))
    second = load_flow(f"{other / 'flows.py'}:greet")
    assert first.module.__name__ != second.module.__name__
    assert (first.flow.name, second.flow.name) == ("greet", "second")


def test_tasks_pickle_by_value(write_flow):
    """A fresh interpreter, which cannot import the flow file, can still run its task: what
    process workers started with `spawn` or `forkserver` need."""
    loaded = load_flow(str(write_flow(ONE_FLOW)))
    payload = cloudpickle.dumps(loaded.module.hello)
    code = "import sys, cloudpickle; print(cloudpickle.loads(sys.stdin.buffer.read()).run())"
    proc = subprocess.run([sys.executable, "-c", code], input=payload, capture_output=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().strip() == "hi"


def test_load_errors_are_flow_load_errors(tmp_path):
    with pytest.raises(FlowLoadError, match="no such file"):
        load_flow(str(tmp_path / "missing.py"))
