"""The UI's pure drawing logic: grouping task runs into graph nodes, the layout, the bars and
the timeline."""

from proctor.server.ui import charts
from proctor.server.ui.graph import (
    NODE_WIDTH,
    build_nodes,
    edge_path,
    group_key,
    layout,
    task_graph,
)


def run(key, state="SUCCESS", upstream=(), index=None, start=None, end=None):
    return {"task_key": key, "task_name": key.split("[")[0], "map_index": index,
            "state_type": state, "upstream": list(upstream), "start_time": start,
            "end_time": end}


def test_mapped_children_become_one_node_with_a_count_and_the_worst_state():
    rows = [run("extract"),
            *[run("transform", "SUCCESS", ["extract"], i) for i in range(4)],
            run("transform", "FAILED", ["extract"], 4),
            run("load", "TRIGGER_FAILED", ["transform"])]
    nodes = build_nodes(rows)
    assert list(nodes) == ["extract", "transform", "load"]
    transform = nodes["transform"]
    assert (transform.runs, transform.mapped, transform.state) == (5, True, "FAILED")
    assert transform.counts == {"SUCCESS": 4, "FAILED": 1}
    assert transform.label == "transform \u00d75"
    assert nodes["load"].upstream == {"transform"}


def test_children_keyed_by_element_from_a_flow_body_group_too():
    assert group_key("double[12]") == "double"
    assert group_key("double-2") == "double-2"
    nodes = build_nodes([run("double[0]"), run("double[1]", "RUNNING")])
    assert list(nodes) == ["double"] and nodes["double"].state == "RUNNING"


def test_layout_puts_each_node_right_of_its_furthest_upstream():
    rows = [run("a"), run("b", upstream=["a"]), run("c", upstream=["a", "b"]),
            run("d")]
    graph = task_graph(rows)
    column = {n.key: n.column for n in graph.nodes}
    assert column == {"a": 0, "b": 1, "c": 2, "d": 0}
    assert {(s.key, t.key) for s, t in graph.edges} == {("a", "b"), ("a", "c"), ("b", "c")}
    assert graph.width >= 3 * NODE_WIDTH
    by_key = {n.key: n for n in graph.nodes}
    assert by_key["c"].x > by_key["b"].x > by_key["a"].x
    assert edge_path(by_key["a"], by_key["b"]).startswith("M")


def test_layout_caps_the_number_of_nodes_drawn():
    graph = layout(build_nodes([run(f"t{i}") for i in range(10)]), max_nodes=4)
    assert len(graph.nodes) == 4 and graph.truncated == 6


def test_stacked_bars_scale_to_the_tallest():
    counts = [{"SUCCESS": 1, "FAILED": 1}, {}, {}, {}, {}, {"SUCCESS": 1}]
    bars, tallest = charts.bars(counts, 0, 60, height=100)
    assert tallest == 2 and len(bars) == 6
    first = bars[0]
    assert first.total == 2
    assert [(s[0], round(s[1]), round(s[2])) for s in first.segments] == [
        ("SUCCESS", 50, 50), ("FAILED", 0, 50)]
    assert bars[1].segments == []


def test_gantt_positions_rows_in_percent_of_the_run():
    rows = [run("extract", start=100.0, end=101.0),
            *[run("transform", upstream=["extract"], index=i, start=101.0 + i, end=102.0 + i)
              for i in range(3)],
            run("load", "PENDING")]
    gantt, span = charts.gantt(rows, 100.0, 110.0, now=200.0)
    assert span == 10.0
    by_key = {r.key: r for r in gantt}
    assert (by_key["transform"].runs, by_key["transform"].start, by_key["transform"].end) == (
        3, 101.0, 104.0)
    assert round(by_key["transform"].left) == 10 and round(by_key["transform"].width) == 30
    assert [r.key for r in gantt] == ["extract", "transform", "load"]  # not started: last
    assert by_key["load"].width == 0.0
