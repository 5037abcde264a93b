"""Mermaid and DOT renderings of a flow graph: shapes, edge styles, and label escaping."""

from __future__ import annotations

import pytest

from proctor import Flow, Parameter, task
from proctor.core.render import edges, escape_dot, escape_mermaid, to_dot, to_mermaid


@task
def extract(n):
    return list(range(n))


@task
def double(x):
    return 2 * x


@task
def load(values, extra=None):
    return values


@task
def notify():
    return "sent"


def build() -> Flow:
    with Flow("etl") as f:
        n = Parameter("n", default=3)
        rows = extract(n)
        loaded = load(double.map(rows), extra={"rows": rows})  # a handle nested in a dict
        notify(upstream_tasks=[loaded])
    return f


def test_edges_are_data_or_order_only():
    f = build()
    by_key = {(u.key, d.key): is_data for u, d, is_data in edges(f)}
    assert by_key == {
        ("n", "extract"): True,
        ("extract", "double"): True,
        ("double", "load"): True,
        ("extract", "load"): True,
        ("load", "notify"): False,
    }


def test_an_upstream_both_data_and_order_is_one_data_edge():
    with Flow("both") as f:
        a = extract(2)
        load(a, upstream_tasks=[a])
    assert [(u.key, d.key, data) for u, d, data in edges(f)] == [("extract", "load", True)]


def test_mermaid():
    text = to_mermaid(build())
    assert text.splitlines() == [
        "flowchart TD",
        "    %% flow: etl",
        '    n0(["n"])',
        '    n1["extract"]',
        '    n2[["double (mapped)"]]',
        '    n3["load"]',
        '    n4["notify"]',
        "    n0 --> n1",
        "    n1 --> n2",
        "    n2 --> n3",
        "    n1 --> n3",
        "    n3 -.-> n4",
    ]
    assert text.endswith("\n")


def test_mermaid_direction():
    assert to_mermaid(build(), direction="LR").startswith("flowchart LR\n")
    with pytest.raises(ValueError, match="direction"):
        to_mermaid(build(), direction="sideways")


def test_dot():
    text = to_dot(build())
    assert text.splitlines() == [
        'digraph "etl" {',
        "    rankdir=TB;",
        '    node [shape=box, fontname="Helvetica"];',
        '    n0 [label="n", shape=parallelogram];',
        '    n1 [label="extract"];',
        '    n2 [label="double (mapped)", shape=box3d];',
        '    n3 [label="load"];',
        '    n4 [label="notify"];',
        "    n0 -> n1;",
        "    n1 -> n2;",
        "    n2 -> n3;",
        "    n1 -> n3;",
        "    n3 -> n4 [style=dashed];",
        "}",
    ]


def test_empty_flow():
    f = Flow("nothing")
    assert to_mermaid(f) == "flowchart TD\n    %% flow: nothing\n"
    assert to_dot(f).splitlines()[-1] == "}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('say "hi"', "say #34;hi#34;"),
        ("<b>&amp;</b>", "#60;b#62;#38;amp;#60;/b#62;"),
        ("#1;", "#35;1;"),
        ("`code`", "#96;code#96;"),
        ("two\nlines", "two<br>lines"),
        ("a[0] (x) {y}", "a[0] (x) {y}"),  # brackets are fine inside a quoted label
    ],
)
def test_escape_mermaid(text, expected):
    assert escape_mermaid(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('say "hi"', 'say \\"hi\\"'),
        ("back\\slash", "back\\\\slash"),
        ("a\\nb", "a\\\\nb"),  # a literal backslash-n is not a line break
        ("two\nlines", "two\\nlines"),
        ("&lt;", "&amp;lt;"),  # Graphviz would otherwise show "<"
    ],
)
def test_escape_dot(text, expected):
    assert escape_dot(text) == expected


def test_strange_names_cannot_break_the_syntax():
    odd = task(name='a "quoted" \\ task\nwith <html> & #1;')(lambda: 1)
    with Flow('flow "name"\n2') as f:
        odd()
    mermaid = to_mermaid(f)
    dot = to_dot(f)
    # every label stays on its own line, inside one pair of quotes
    assert len(mermaid.splitlines()) == 3
    assert mermaid.splitlines()[1] == "    %% flow: flow \"name\" 2"
    assert len(dot.splitlines()) == 5
    assert dot.splitlines()[0] == 'digraph "flow \\"name\\"\\n2" {'
    node_line = dot.splitlines()[3]
    assert node_line.count('"') - node_line.count('\\"') == 2
