"""`proctor graph`: Mermaid and DOT output of a graph flow; a clear refusal for @flow functions."""

from __future__ import annotations

import pytest

GRAPH = """
    from proctor import Flow, Parameter, task

    @task
    def extract(n):
        return list(range(n))

    @task
    def double(x):
        return 2 * x

    @task
    def load(values):
        return sum(values)

    @task
    def notify():
        return "sent"

    with Flow("etl") as flow:
        loaded = load(double.map(extract(Parameter("n", default=3))))
        notify(upstream_tasks=[loaded])
"""


def test_mermaid_output(proctor_cli, write_flow):
    proc = proctor_cli("graph", f"{write_flow(GRAPH)}:flow", "--format", "mermaid")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "flowchart TD"
    assert '    n0(["n"])' in lines
    assert '    n1["extract"]' in lines
    assert '    n2[["double (mapped)"]]' in lines
    assert "    n1 --> n2" in lines  # data edge
    assert "    n3 -.-> n4" in lines  # order-only edge, dashed


def test_mermaid_is_the_default(invoke, write_flow):
    result = invoke("graph", str(write_flow(GRAPH)))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("flowchart TD\n")


def test_dot_output(invoke, write_flow):
    result = invoke("graph", f"{write_flow(GRAPH)}:flow", "-f", "dot")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith('digraph "etl" {')
    assert out.rstrip().endswith("}")
    assert 'n1 [label="extract"];' in out
    assert 'n2 [label="double (mapped)", shape=box3d];' in out
    assert 'n0 [label="n", shape=parallelogram];' in out
    assert "n1 -> n2;" in out
    assert "n3 -> n4 [style=dashed];" in out


def test_format_is_case_insensitive(invoke, write_flow):
    result = invoke("graph", f"{write_flow(GRAPH)}:flow", "--format", "DOT")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("digraph")


def test_bad_format_exits_2(proctor_cli, write_flow):
    proc = proctor_cli("graph", f"{write_flow(GRAPH)}:flow", "--format", "svg")
    assert proc.returncode == 2
    assert "svg" in proc.stderr and proc.stdout == ""


def test_graph_of_a_flow_function_exits_2(proctor_cli, write_flow):
    path = write_flow(
        """
        from proctor import flow, task

        @task
        def one():
            return 1

        @flow
        def dynamic():
            return one()
        """
    )
    proc = proctor_cli("graph", f"{path}:dynamic")
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"Error: {path}:dynamic is a @flow function")
    assert "only known after it runs" in proc.stderr
    assert "with Flow(...)" in proc.stderr


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
def test_graph_load_errors_exit_2(invoke, tmp_path, fmt):
    result = invoke("graph", f"{tmp_path / 'missing.py'}:flow", "-f", fmt)
    assert result.exit_code == 2
    assert "no such file" in result.stderr
